"""The warehouse's plain helpers, no Dagster: transactions, table columns, the journal of days a
run is about to change, and the check that a run can write before it starts. Publishing the
analysts' copy lives in sources/publishing/.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


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


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal, for the statements that take no bound parameters (COPY TO, ATTACH,
    a view's file list)."""
    return "'" + text.replace("'", "''") + "'"


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


# Days a run is about to change, as its assets record them (the dbt asset records its window
# widened by the widest window a mart declares, sources/windows.py); older sessions that got
# events in them: TOUCHED.
UNPUBLISHED = "meta.unpublished_windows"


def note_unpublished(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """Record that a run is about to change the days [start, end] (cleared by a publish)."""
    con.execute("create schema if not exists meta")
    con.execute(f"create table if not exists {UNPUBLISHED} (start_day DATE, end_day DATE)")
    con.execute(f"insert into {UNPUBLISHED} values (?, ?)", [start, end])  # noqa: S608


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
