"""A large dbt source table written to the lake by day, so a build's copy does the days that
changed, not the history (no Dagster).

A warehouse table with an `event_day` DATE and an `ingested_at` column (the raw event tables:
ingestion replaces whole days, each with its run's `ingested_at`) is a folder of one Parquet file
per day, `day-YYYY-MM-DD.parquet`, plus `schema.parquet` (no rows: the columns, so that Spark can
read the table when it has no day) and `_days.json` (what each day file holds: its rows and
newest `ingested_at`, with the table's columns; Spark skips files starting with `_`).

Each export compares every day of the warehouse with `_days.json` and the files: a day whose rows
or newest `ingested_at` differ, or whose file is missing, is written aside and renamed over its
file; a day file the warehouse no longer has is removed; `_days.json` is written last. A killed
export leaves day files newer than `_days.json` says: the next export writes them again. When the
table's columns change, every day is written again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb

from sources.warehouse import ident, literal, table_columns

DAY_COLUMN = "event_day"
STAMP_COLUMN = "ingested_at"
SCHEMA_FILE = "schema.parquet"
STATE_FILE = "_days.json"
DAY_FILE_PREFIX = "day-"


def is_by_day(columns: dict[str, str]) -> bool:
    """Whether a table with these columns (name -> type) is exported by day."""
    return columns.get(DAY_COLUMN) == "DATE" and STAMP_COLUMN in columns


def day_file(day: str) -> str:
    return f"{DAY_FILE_PREFIX}{day}.parquet"


def _fingerprints(con: duckdb.DuckDBPyConnection, qualified: str) -> dict[str, list]:
    """day -> [rows, newest ingested_at] of the warehouse table."""
    rows = con.execute(
        f"select {ident(DAY_COLUMN)}::VARCHAR, count(*), max({ident(STAMP_COLUMN)})::VARCHAR "  # noqa: S608
        f"from {qualified} group by 1"
    ).fetchall()
    return {day: [count, stamp] for day, count, stamp in rows}


def _read_state(folder: Path, columns: list[list[str]]) -> dict[str, list]:
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get("columns") != columns:
        return {}
    days = state.get("days")
    return days if isinstance(days, dict) else {}


def _write_aside(folder: Path, name: str, write) -> None:
    """`write(path)` to a hidden file, then renamed to `name`: readers see old or new, whole."""
    aside = folder / f".{name}.tmp"
    aside.unlink(missing_ok=True)
    write(aside)
    os.replace(aside, folder / name)


def export_by_day(
    con: duckdb.DuckDBPyConnection, folder: Path, schema: str, table: str
) -> dict[str, int]:
    """Bring `folder` in step with the warehouse table; returns {"days_written", "days_removed",
    "rows_written"}."""
    qualified = f"{ident(schema)}.{ident(table)}"
    columns = [[c, t] for c, t in table_columns(con, schema, table).items()]
    folder.mkdir(parents=True, exist_ok=True)
    known = _read_state(folder, columns)
    current = _fingerprints(con, qualified)
    expected = {day_file(d) for d in current} | {SCHEMA_FILE, STATE_FILE}
    # anything else: days the warehouse no longer has, an earlier layout's files, leftovers
    removed = 0
    for path in folder.iterdir():
        if path.name not in expected:
            removed += path.name.startswith(DAY_FILE_PREFIX)
            _remove(path)
    if not known or not (folder / SCHEMA_FILE).is_file():
        _write_aside(
            folder,
            SCHEMA_FILE,
            lambda p: con.execute(
                f"copy (select * from {qualified} limit 0) to {literal(str(p))} (format parquet)"  # noqa: S608
            ),
        )
    written = rows = 0
    for day, fingerprint in sorted(current.items()):
        if known.get(day) == fingerprint and (folder / day_file(day)).is_file():
            continue
        _write_aside(
            folder,
            day_file(day),
            lambda p, day=day: con.execute(
                f"copy (select * from {qualified} where {ident(DAY_COLUMN)} = "  # noqa: S608
                f"{literal(day)}::DATE) to {literal(str(p))} (format parquet)"
            ),
        )
        written += 1
        rows += fingerprint[0]
    state = json.dumps({"columns": columns, "days": current}, sort_keys=True)
    _write_aside(folder, STATE_FILE, lambda p: p.write_text(state))
    return {"days_written": written, "days_removed": removed, "rows_written": rows}


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
