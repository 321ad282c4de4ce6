"""The published read-only copy for analysts (no Dagster).

DuckDB locks a database file per process: while a run writes the warehouse nobody else can open
it, and an analyst's read-only connection would block the next run. So analysts never open the
warehouse; they open a separate file that each successful build replaces atomically (a new file
renamed over the old one: an open connection keeps reading the old file until it reconnects).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb

from sources.publishing.archive import ARCHIVED
from sources.publishing.pseudonyms import Pseudonymisation, key_fingerprint, select_list
from sources.warehouse import UNPUBLISHED, ident, table_columns, transaction

PUBLISHED_SCHEMAS = ("marts", "archive", "snapshots")

# the price table and model aliases the marts were priced with: the guard prices a request from
# the same snapshot as the spend it compares with (sources/guard)
PUBLISHED_EXTRA_TABLES = (
    ("raw", "event_quarantine"),
    ("raw", "llm_prices"),
    ("raw", "model_aliases"),
)


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
            con.execute(f"drop table publish_target.{ident(schema)}.{ident(table)}")
        for schema, table in relations:
            con.execute(f"create schema if not exists publish_target.{ident(schema)}")
            select = select_list(con, schema, table, bool(keys.pii_key), keys.metadata_keys)
            params = keys.params(select)
            day = day_columns.get((schema, table))
            src = f"{ident(schema)}.{ident(table)}"
            dst = f"publish_target.{ident(schema)}.{ident(table)}"
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
    d = ident(day)
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
