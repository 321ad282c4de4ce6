"""Warehouse helpers with no Dagster dependency: the published read-only copy for analysts.

DuckDB locks a database file per process: while a run writes the warehouse nobody else can open
it, and an analyst's read-only connection would block the next run. So analysts never open the
warehouse; they open a separate file that each successful build replaces atomically (a new file
renamed over the old one: an open connection keeps reading the old file until it reconnects).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
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


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """Column name -> type of a table of the current database, in order (empty if none)."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = $s and table_name = $t "
        "order by ordinal_position",
        {"s": schema, "t": table},
    ).fetchall()
    return dict(rows)


PSEUDONYM = "'u_' || left(sha256($pii_key || '|' || {col}), 20)"
USER_COLUMNS = ("user_id", "x_user_id")


def _select_list(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, pseudonymise: bool
) -> str:
    """Columns to publish; with pseudonymisation, user ids hashed with the key, raw lines hidden."""
    if not pseudonymise:
        return "*"
    columns = list(table_columns(con, schema, table))
    out = []
    for c in columns:
        q = _ident(c)
        if c in USER_COLUMNS:
            out.append(f"{PSEUDONYM.format(col=q)} as {q}")
        elif c == "scope_id" and "scope" in columns:
            out.append(
                f"case when scope = 'user' then {PSEUDONYM.format(col=q)} else {q} end as {q}"
            )
        elif c == "raw_line":
            out.append(f"'(hidden: COSTWATCH_PII_KEY is set)' as {q}")
        else:
            out.append(q)
    return ", ".join(out)


def publish_copy(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    info: dict[str, str],
    pii_key: str | None = None,
) -> dict[str, int]:
    """Copy the published relations into a new file and rename it over `target`.

    Returns row counts per relation. `info` is stored in `meta.publish_info` (one row). With a
    `pii_key`, user ids become keyed hashes (the same user, the same pseudonym in every table)
    and raw quarantined lines are hidden; the key is a bound parameter, never SQL text.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    relations = relations_to_publish(con)
    counts: dict[str, int] = {}
    # ATTACH takes no bound parameters; the path is ours (configuration), quoted as a literal.
    con.execute(f"attach '{str(tmp).replace(chr(39), chr(39) * 2)}' as publish_target")
    try:
        for schema, table in relations:
            con.execute(f"create schema if not exists publish_target.{_ident(schema)}")
            select = _select_list(con, schema, table, bool(pii_key))
            # Identifiers come from information_schema (quoted); the key is a bound parameter.
            con.execute(
                f"create table publish_target.{_ident(schema)}.{_ident(table)} as "  # noqa: S608
                f"select {select} from {_ident(schema)}.{_ident(table)}",
                {"pii_key": pii_key} if pii_key and "$pii_key" in select else {},
            )
            counts[f"{schema}.{table}"] = con.execute(
                f"select count(*) from publish_target.{_ident(schema)}.{_ident(table)}"  # noqa: S608
            ).fetchall()[0][0]
        con.execute("create schema if not exists publish_target.meta")
        con.execute(
            "create table publish_target.meta.publish_info as "
            "select $published_at::TIMESTAMP as published_at, $info::JSON as info, "
            "$pseudonymised as user_ids_pseudonymised",
            {
                "published_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                "info": info,
                "pseudonymised": bool(pii_key),
            },
        )
    finally:
        con.execute("detach publish_target")
    _create_history_views(tmp)
    os.replace(tmp, target)
    return counts


def _create_history_views(path: Path) -> None:
    """The history views (active plus archived rows), bound inside the published file itself."""
    from sources.archive import ARCHIVED, history_view_sql

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
                pub.execute(f"create view history.{relation} as {history_view_sql(relation)}")


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
