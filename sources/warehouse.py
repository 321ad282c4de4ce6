"""Warehouse helpers with no Dagster dependency: the published read-only copy for analysts.

DuckDB locks a database file per process: while a run writes the warehouse nobody else can open
it, and an analyst's read-only connection would block the next run. So analysts never open the
warehouse; they open a separate file that each successful build replaces atomically (a new file
renamed over the old one: an open connection keeps reading the old file until it reconnects).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts", "archive", "snapshots")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commit the block's statements together, or none of them."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


PUBLISHED_EXTRA_TABLES = (("raw", "event_quarantine"),)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relations_to_publish(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    rows = con.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_catalog = current_database() and table_type = 'BASE TABLE'
          and (table_schema in (select unnest($schemas::VARCHAR[]))
               or (table_schema, table_name) in (select unnest($s), unnest($t)))
        order by 1, 2
        """,
        {
            "schemas": list(PUBLISHED_SCHEMAS),
            "s": [s for s, _ in PUBLISHED_EXTRA_TABLES],
            "t": [t for _, t in PUBLISHED_EXTRA_TABLES],
        },
    ).fetchall()
    return [(s, t) for s, t in rows]


def table_columns(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str | None = None
) -> dict[str, str]:
    """Column name -> type of a table of the current (or an attached) database, in order (empty
    if none)."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = coalesce($c, current_database()) and table_schema = $s "
        "and table_name = $t order by ordinal_position",
        {"s": schema, "t": table, "c": catalog},
    ).fetchall()
    return dict(rows)


PSEUDONYM = "'u_' || left(sha256($pii_key || '|' || {col}), 20)"
USER_COLUMNS = ("user_id", "x_user_id")
SESSION_COLUMNS = ("session_id", "x_session_id")
# A derived session id is a hash of the user and a start time that is published too: keyed, it
# cannot be recomputed from candidate user ids. Logged session ids are the application's own.
SESSION_PSEUDONYM = (
    "case when {col} like 'derived-%' "
    "then 'derived-' || left(sha256($pii_key || '|session|' || {col}), 32) else {col} end"
)
# Ids that are unkeyed hashes of user-derived values (dbt snapshots' md5 of the user id and a
# time; an alert's hash of its scope id): keyed, so they carry nothing a guess can confirm.
KEYED_IDS = {"dbt_scd_id": 32, "alert_id": 24}
# The budget sensor reads the published copy: a scope id the warehouse could not map back to a
# real id (raised under another key) stays the pseudonym it is, never pseudonymised twice.
FINGERPRINT_COLUMN = "pseudonym_fingerprint"


def _keyed(col: str, purpose: str, length: int) -> str:
    return f"left(sha256($pii_key || '|{purpose}|' || {col}), {length})"


def _scope_pseudonym(q: str, columns: list[str]) -> str:
    expr = (
        f"case when scope = 'user' then {PSEUDONYM.format(col=q)} "
        f"when scope = 'session' then {SESSION_PSEUDONYM.format(col=q)} else {q} end"
    )
    if FINGERPRINT_COLUMN in columns:
        return f"case when {FINGERPRINT_COLUMN} <> '' then {q} else {expr} end"
    return expr


def _allowed_metadata(q: str) -> str:
    """Only the allowed top-level keys of a JSON object (COSTWATCH_PUBLISHED_METADATA_KEYS)."""
    return (
        f"case when {q} is not null then to_json(map_from_entries(list_transform("
        f"list_filter(json_keys({q}), lambda k: list_contains($metadata_keys::VARCHAR[], k)), "
        f"lambda k: struct_pack(key := k, value := json_extract({q}, '$.\"' || k || '\"')))))"
        " end"
    )


def _select_list(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    pseudonymise: bool,
    metadata_keys: tuple[str, ...] = (),
) -> str:
    """Columns to publish. With pseudonymisation no published value is an unkeyed function of a
    user id: user ids become keyed hashes, derived session ids and hash ids are keyed, metadata
    keeps only the allowed keys (none by default) and raw quarantined lines are hidden."""
    if not pseudonymise:
        return "*"
    columns = list(table_columns(con, schema, table))
    out = []
    for c in columns:
        q = _ident(c)
        if c in USER_COLUMNS:
            out.append(f"{PSEUDONYM.format(col=q)} as {q}")
        elif c in SESSION_COLUMNS:
            out.append(f"{SESSION_PSEUDONYM.format(col=q)} as {q}")
        elif c == "scope_id" and "scope" in columns:
            out.append(f"{_scope_pseudonym(q, columns)} as {q}")
        elif c in KEYED_IDS:
            out.append(f"{_keyed(q, c, KEYED_IDS[c])} as {q}")
        elif c == "metadata":
            out.append(f"{_allowed_metadata(q) if metadata_keys else 'NULL::JSON'} as {q}")
        elif c == "raw_line":
            out.append(f"'(hidden: COSTWATCH_PII_KEY is set)' as {q}")
        else:
            out.append(q)
    return ", ".join(out)


# Days a run is about to change, as its assets record them (the dbt asset records its window
# widened by the widest window a mart declares, sources/windows.py); older sessions that got
# events in them: TOUCHED.
UNPUBLISHED = "meta.unpublished_windows"


def note_unpublished(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """Record that a run is about to change the days [start, end] (cleared by a publish)."""
    con.execute("create schema if not exists meta")
    con.execute(f"create table if not exists {UNPUBLISHED} (start_day DATE, end_day DATE)")
    con.execute(f"insert into {UNPUBLISHED} values (?, ?)", [start, end])  # noqa: S608


def _unpublished_range(con: duckdb.DuckDBPyConnection) -> tuple[dt.date, dt.date] | None:
    """Days changed since the last publish, or None when unknown (no journal yet)."""
    if not table_columns(con, "meta", "unpublished_windows"):
        return None
    lo, hi = con.execute(f"select min(start_day), max(end_day) from {UNPUBLISHED}").fetchall()[0]  # noqa: S608
    if lo is None:
        return (dt.date.max, dt.date.min)  # nothing changed: an empty range
    return (lo, hi)


def _day_columns() -> dict[tuple[str, str], str]:
    """The large published relations and their day column: refreshed by day when possible."""
    from sources.publishing.archive import ARCHIVED

    cols = {(schema, r): day for r, (day, _) in ARCHIVED.items() for schema in ("marts", "archive")}
    return cols | {
        ("marts", "focus_costs"): "x_charge_day",
        ("raw", "event_quarantine"): "event_day",
    }


# A run also rebuilds older sessions that got events in its window (late events, long sessions).
TOUCHED = {
    ("marts", "sessions"): (
        "session_id in (select session_id from marts.interactions "
        "where interaction_day between $lo and $hi)"
    )
}


def key_fingerprint(pii_key: str | None) -> str:
    """Tells whether the published copy was pseudonymised with the same key (never the key)."""
    if not pii_key:
        return ""
    return hashlib.sha256(f"costwatch-publish-fingerprint|{pii_key}".encode()).hexdigest()[:16]


def _reusable(target: Path, fingerprint: str, metadata_keys: tuple[str, ...]) -> bool:
    """The previous published copy can be refreshed in place of a full copy."""
    if not target.exists():
        return False
    try:
        with duckdb.connect(str(target), read_only=True) as pub:
            rows = pub.execute(
                "select info->>'pii', coalesce(info->>'metadata_keys', '') from meta.publish_info"
            ).fetchall()
    except duckdb.Error:
        return False
    return rows == [(fingerprint, ",".join(metadata_keys))]


@dataclass(frozen=True)
class Pseudonymisation:
    """The key (a secret: only ever a bound parameter) and the metadata keys to publish."""

    pii_key: str | None
    metadata_keys: tuple[str, ...]

    def params(self, select: str) -> dict:
        """The bound parameters a select list uses."""
        values = {"pii_key": self.pii_key, "metadata_keys": list(self.metadata_keys)}
        return {k: v for k, v in values.items() if f"${k}" in select}


def publish_copy(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    info: dict[str, str],
    pii_key: str | None = None,
    metadata_keys: tuple[str, ...] = (),
) -> dict[str, int]:
    """Write the published relations into a new file and rename it over `target`.

    Returns row counts per relation. `info` is stored in `meta.publish_info` (one row). With a
    `pii_key`, user ids become keyed hashes (the same user, the same pseudonym in every table)
    and raw quarantined lines are hidden; the key is a bound parameter, never SQL text.

    When the previous copy can be reused (same pseudonymisation, and the runs since it recorded
    their days with `note_unpublished`), the new file starts as a byte copy of it and the large
    day-keyed relations only get the changed days replaced; every other relation is copied
    whole. Row counts of every relation are then compared with the warehouse; any difference
    falls back to a full copy.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fingerprint = key_fingerprint(pii_key)
    metadata_keys = tuple(sorted(set(metadata_keys))) if pii_key else ()
    changed = _unpublished_range(con)
    reuse = changed is not None and _reusable(target, fingerprint, metadata_keys)
    keys = Pseudonymisation(pii_key, metadata_keys)
    counts = _write_copy(con, tmp, target, changed if reuse else None, keys)
    method = "changed days" if reuse else "full copy"
    if counts is None:  # the refreshed copy does not match the warehouse: copy everything
        counts = _write_copy(con, tmp, target, None, keys)
        method = "full copy (refreshing the changed days did not match the warehouse)"
        assert counts is not None
    _write_info(
        tmp,
        {**info, "pii": fingerprint, "metadata_keys": ",".join(metadata_keys), "method": method},
    )
    _create_history_views(tmp)
    os.replace(tmp, target)
    if changed is not None:
        con.execute(f"delete from {UNPUBLISHED}")  # noqa: S608
    return counts


def _write_copy(
    con: duckdb.DuckDBPyConnection,
    tmp: Path,
    previous: Path,
    changed: tuple[dt.date, dt.date] | None,
    keys: Pseudonymisation,
) -> dict[str, int] | None:
    """Fill `tmp`: from scratch (`changed` None) or from `previous` with the changed days
    replaced. None when a refreshed copy's row counts differ from the warehouse."""
    tmp.unlink(missing_ok=True)
    if changed is not None:
        shutil.copyfile(previous, tmp)
    relations = relations_to_publish(con)
    day_columns = _day_columns() if changed is not None else {}
    counts: dict[str, int] = {}
    # ATTACH takes no bound parameters; the path is ours (configuration), quoted as a literal.
    con.execute(f"attach '{str(tmp).replace(chr(39), chr(39) * 2)}' as publish_target")
    try:
        stale = set(
            con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = 'publish_target' and table_type = 'BASE TABLE' "
                "and table_schema <> 'meta'"
            ).fetchall()
        ) - set(relations)
        for schema, table in sorted(stale):
            con.execute(f"drop table publish_target.{_ident(schema)}.{_ident(table)}")
        for schema, table in relations:
            con.execute(f"create schema if not exists publish_target.{_ident(schema)}")
            select = _select_list(con, schema, table, bool(keys.pii_key), keys.metadata_keys)
            params = keys.params(select)
            day = day_columns.get((schema, table))
            src = f"{_ident(schema)}.{_ident(table)}"
            dst = f"publish_target.{_ident(schema)}.{_ident(table)}"
            if day and changed and _same_columns(con, schema, table):
                touched = TOUCHED.get((schema, table))
                _refresh_days(con, src, dst, select, params, day, changed, touched)
            else:
                # Identifiers come from information_schema (quoted); the key is a bound parameter.
                con.execute(f"create or replace table {dst} as select {select} from {src}", params)  # noqa: S608
            n = con.execute(f"select count(*) from {dst}").fetchall()[0][0]  # noqa: S608
            counts[f"{schema}.{table}"] = n
            if changed is not None:
                source_rows = con.execute(f"select count(*) from {src}").fetchall()[0][0]  # noqa: S608
                if source_rows != n:
                    return None
    finally:
        con.execute("detach publish_target")
    return counts


def _same_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Same columns in the same order (inserts are positional)."""
    ours = table_columns(con, schema, table)
    return list(ours.items()) == list(table_columns(con, schema, table, "publish_target").items())


def _refresh_days(
    con: duckdb.DuckDBPyConnection,
    src: str,
    dst: str,
    select: str,
    params: dict,
    day: str,
    changed: tuple[dt.date, dt.date],
    touched: str | None,
) -> None:
    """Replace the changed days of `dst` (and `touched` rows), days that left `src` (archived)
    and days `src` has beyond what `dst` has (newly archived), in one transaction."""
    d = _ident(day)
    hi_dst = con.execute(f"select max({d}) from {dst}").fetchall()[0][0]  # noqa: S608
    lo_src = con.execute(f"select min({d}) from {src}").fetchall()[0][0]  # noqa: S608
    bounds = {
        "lo": changed[0],
        "hi": changed[1],
        "after": hi_dst or dt.date.min,
        "before": lo_src or dt.date.max,
    }
    where = f"({d} between $lo and $hi or {d} > $after{f' or {touched}' if touched else ''})"
    with transaction(con):
        con.execute(f"delete from {dst} where {where} or {d} < $before", bounds)  # noqa: S608
        con.execute(
            f"insert into {dst} select {select} from {src} where {where}",  # noqa: S608
            {**params, **{k: v for k, v in bounds.items() if k != "before"}},
        )


def publish_method(path: Path) -> str:
    """How the published copy at `path` was last written (changed days or a full copy)."""
    with duckdb.connect(str(path), read_only=True) as pub:
        return pub.execute("select info->>'method' from meta.publish_info").fetchall()[0][0]


def _write_info(path: Path, info: dict[str, str]) -> None:
    with duckdb.connect(str(path)) as pub:
        pub.execute("create schema if not exists meta")
        pub.execute(
            "create or replace table meta.publish_info as "
            "select $published_at::TIMESTAMP as published_at, $info::JSON as info, "
            "$pseudonymised as user_ids_pseudonymised",
            {
                "published_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                "info": info,
                "pseudonymised": info["pii"] != "",
            },
        )


def _create_history_views(path: Path) -> None:
    """The history views (active plus archived rows), bound inside the published file itself."""
    from sources.publishing.archive import ARCHIVED, history_view_sql

    with duckdb.connect(str(path)) as pub:
        archived = {
            t
            for (t,) in pub.execute(
                "select table_name from information_schema.tables where table_schema = 'archive'"
            ).fetchall()
        }
        for relation in ARCHIVED:
            if relation in archived:
                pub.execute("create schema if not exists history")
                pub.execute(
                    f"create or replace view history.{relation} as {history_view_sql(relation)}"
                )


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be written; the message says what to change."""


def preflight(warehouse: Path, min_free_mb: int = 512) -> None:
    """Fail fast when the warehouse folder cannot be written or the disk is nearly full."""
    warehouse = Path(warehouse)
    folder = warehouse.parent
    hint = "set COSTWATCH_WAREHOUSE (or COSTWATCH_HOME) to a writable folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".costwatch-write-probe-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise WarehouseUnavailable(
            f"cannot write the warehouse folder {folder} ({exc.strerror or exc}); {hint}"
        ) from None
    if warehouse.exists() and not os.access(warehouse, os.W_OK):
        raise WarehouseUnavailable(f"the warehouse file {warehouse} is read-only; {hint}")
    free_mb = shutil.disk_usage(folder).free // 2**20
    if free_mb < min_free_mb:
        raise WarehouseUnavailable(
            f"only {free_mb} MB free on the disk of {folder} (at least {min_free_mb} MB needed); "
            "free some space, or move COSTWATCH_HOME, or lower COSTWATCH_MIN_FREE_MB"
        )
