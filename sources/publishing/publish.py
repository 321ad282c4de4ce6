"""The published read-only copy for analysts (no Dagster).

DuckDB locks a database file per process: while a run writes the warehouse nobody else can open
it, and an analyst's read-only connection would block the next run. So analysts never open the
warehouse; they open a separate file that each successful build replaces atomically (a new file
renamed over the old one: an open connection keeps reading the old file until it reconnects).
That file is a small catalog: the large day-keyed relations are views over immutable per-day
Parquet files next to it (`sources/publishing/day_files.py`), so a daily publish writes the
changed days only and does not grow with the history.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sources.publishing.archive import ARCHIVED
from sources.publishing.day_files import (
    DayFile,
    Partition,
    collect_garbage,
    create_view,
    days_to_write,
    new_publish_id,
    parts_root,
    published_columns,
    read_manifest,
    referenced_publishes,
    remove_publish,
    write_days,
    write_manifest,
)
from sources.publishing.pseudonyms import Pseudonymisation, key_fingerprint, select_list
from sources.warehouse import UNPUBLISHED, ident, literal, table_columns

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


# The large published relations, split into per-day Parquet files: by their day column, and the
# per-user snapshot by the day a version was closed (closed versions never change; the current
# ones, without that day, are rewritten each time)
DAY_COLUMNS: dict[tuple[str, str], Partition] = {
    (schema, r): Partition(day)
    for r, (day, _) in ARCHIVED.items()
    for schema in ("marts", "archive")
} | {
    ("marts", "focus_costs"): Partition("x_charge_day"),
    ("marts", "daily_stats"): Partition("day"),
    ("raw", "event_quarantine"): Partition("event_day"),
    ("snapshots", "user_stats_snapshot"): Partition(
        "closed_day", "dbt_valid_to::DATE", reads="dbt_valid_to", by_run_day=True
    ),
}


# A run also rebuilds older sessions that got events in its window (late events, long sessions).
TOUCHED = {
    ("marts", "sessions"): (
        "session_id in (select session_id from marts.interactions "
        "where interaction_day between $lo and $hi)"
    )
}


# written to `meta.publish_info` (info->>'layout'): a copy of another layout is never refreshed
LAYOUT = "catalog + parquet days v1"


@dataclass(frozen=True)
class Previous:
    """What the previous published copy holds: each relation's day files, and the columns
    (name -> type, in order) each relation of the catalog publishes."""

    files: dict[str, dict]
    columns: dict[str, dict[str, str]]


def _previous_copy(
    target: Path, root: Path, fingerprint: str, metadata_keys: tuple[str, ...]
) -> Previous | None:
    """The previous published copy when it can be refreshed (same layout, same
    pseudonymisation, every file it names still there), else None."""
    if not target.exists():
        return None
    try:
        with duckdb.connect(str(target), read_only=True) as pub:
            rows = pub.execute(
                "select info->>'pii', coalesce(info->>'metadata_keys', ''), info->>'layout' "
                "from meta.publish_info"
            ).fetchall()
            if rows != [(fingerprint, ",".join(metadata_keys), LAYOUT)]:
                return None
            files = read_manifest(pub, root)
            if files is None:
                return None
            columns: dict[str, dict[str, str]] = {}
            for relation, column, data_type in pub.execute(
                "select table_schema || '.' || table_name, column_name, data_type "
                "from information_schema.columns where table_catalog = current_database() "
                "order by table_schema, table_name, ordinal_position"
            ).fetchall():
                columns.setdefault(relation, {})[column] = data_type
            return Previous(files, columns)
    except duckdb.Error:
        return None


def publish_copy(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    info: dict[str, str],
    pii_key: str | None = None,
    metadata_keys: tuple[str, ...] = (),
) -> dict[str, int]:
    """Write a new catalog file and rename it over `target`.

    Returns row counts per relation. `info` is stored in `meta.publish_info` (one row). With a
    `pii_key`, user ids become keyed hashes (the same user, the same pseudonym in every table)
    and raw quarantined lines are hidden; the key is a bound parameter, never SQL text.

    The large day-keyed relations are views over immutable per-day Parquet files
    (`sources/publishing/day_files.py`); every other relation is a table of the catalog, copied
    whole. When the previous copy can be refreshed (same layout and pseudonymisation, and the
    runs since it recorded their days with `note_unpublished`), only the changed days get new
    files; the others keep theirs. Row counts of every relation are then compared with the
    warehouse; any difference falls back to writing every day again.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    root = parts_root(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fingerprint = key_fingerprint(pii_key)
    metadata_keys = tuple(sorted(set(metadata_keys))) if pii_key else ()
    changed = _unpublished_range(con)
    previous = _previous_copy(target, root, fingerprint, metadata_keys)
    reuse = changed is not None and previous is not None
    keys = Pseudonymisation(pii_key, metadata_keys)
    publish_id = new_publish_id()
    try:
        since = changed if reuse else None
        written = _write_copy(con, tmp, root, publish_id, since, previous, keys)
        method = "changed days" if reuse else "full copy"
        if written is None:  # the refreshed copy does not match the warehouse: write every day
            remove_publish(root, publish_id)
            written = _write_copy(con, tmp, root, publish_id, None, None, keys)
            method = "full copy (refreshing the changed days did not match the warehouse)"
            assert written is not None
        counts, files = written
        _finish_catalog(
            tmp,
            {
                **info,
                "pii": fingerprint,
                "metadata_keys": ",".join(metadata_keys),
                "method": method,
                "layout": LAYOUT,
            },
        )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        remove_publish(root, publish_id)
        raise
    if changed is not None:
        con.execute(f"delete from {UNPUBLISHED}")  # noqa: S608
    collect_garbage(root, referenced_publishes(files))
    return counts


def _write_copy(
    con: duckdb.DuckDBPyConnection,
    tmp: Path,
    root: Path,
    publish_id: str,
    changed: tuple[dt.date, dt.date] | None,
    previous: Previous | None,
    keys: Pseudonymisation,
) -> tuple[dict[str, int], dict[str, list[DayFile]]] | None:
    """Fill the catalog `tmp` and write the day files of this publish: every day (`changed`
    None) or the changed days, keeping the previous files of the others. None when the row
    counts of a refresh differ from the warehouse."""
    tmp.unlink(missing_ok=True)
    relations = relations_to_publish(con)
    counts: dict[str, int] = {}
    files: dict[str, list[DayFile]] = {}
    # ATTACH takes no bound parameters; the path is ours (configuration), quoted as a literal.
    con.execute(f"attach {literal(str(tmp))} as publish_target")
    try:
        for schema, table in relations:
            con.execute(f"create schema if not exists publish_target.{ident(schema)}")
            select = select_list(con, schema, table, bool(keys.pii_key), keys.metadata_keys)
            params = keys.params(select)
            src = f"{ident(schema)}.{ident(table)}"
            dst = f"publish_target.{ident(schema)}.{ident(table)}"
            name = f"{schema}.{table}"
            part = DAY_COLUMNS.get((schema, table))
            if part is None or not part.applies_to(table_columns(con, schema, table)):
                # Identifiers come from information_schema (quoted); the key is a bound parameter.
                con.execute(f"create table {dst} as select {select} from {src}", params)  # noqa: S608
                counts[name] = con.execute(f"select count(*) from {dst}").fetchall()[0][0]  # noqa: S608
                continue
            files[name] = _write_relation_days(
                con, src, dst, select, params, part, root, f"{publish_id}/{name}", changed,
                previous.files.get(name, {}) if previous else {},
                previous.columns.get(name) if previous else None,
                TOUCHED.get((schema, table)),
            )  # fmt: skip
            counts[name] = sum(f.rows for f in files[name])
            if changed is not None:
                source_rows = con.execute(f"select count(*) from {src}").fetchall()[0][0]  # noqa: S608
                if source_rows != counts[name]:
                    return None
        write_manifest(con, "publish_target", files)
    finally:
        con.execute("detach publish_target")
    return counts, files


def _write_relation_days(
    con: duckdb.DuckDBPyConnection,
    src: str,
    dst: str,
    select: str,
    params: dict,
    part: Partition,
    root: Path,
    folder: str,
    changed: tuple[dt.date, dt.date] | None,
    previous: dict,
    previous_columns: dict[str, str] | None,
    touched: str | None,
) -> list[DayFile]:
    """The relation's day files (new ones for the days to write, the previous ones for the
    others) and its view in the catalog; an empty relation is an empty table instead. When the
    relation's columns differ from what the previous copy published (a new version added or
    retyped one), every day is written again: one view reads its files with one schema."""
    query = f"select {select} from {src}"  # noqa: S608 (identifiers quoted, key bound)
    columns = published_columns(con, query, params)
    if previous_columns != columns:
        changed = None
    if changed is None:
        day_files = write_days(con, src, select, params, part, root, folder, None)
    else:
        refresh = days_to_write(con, src, part, changed, previous, touched)
        new = write_days(con, src, select, params, part, root, folder, refresh.days)
        day_files = [*refresh.kept.values(), *new]
    day_files.sort(key=lambda f: (f.day is None, f.day or dt.date.min))
    if day_files:
        create_view(con, dst, columns, part, root, day_files)
    else:
        con.execute(f"create table {dst} as {query} limit 0", params)
    return day_files


def publish_method(path: Path) -> str:
    """How the published copy at `path` was last written (changed days or a full copy)."""
    with duckdb.connect(str(path), read_only=True) as pub:
        return pub.execute("select info->>'method' from meta.publish_info").fetchall()[0][0]


def _finish_catalog(path: Path, info: dict[str, str]) -> None:
    """`meta.publish_info` and the history views (active plus archived rows, bound inside the
    published file itself), in one connection to the new catalog."""
    from sources.publishing.archive import ARCHIVED, history_view_sql

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
