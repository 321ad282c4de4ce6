"""Reading and parsing a part of the event files on its own, in a DuckDB of its own, into Parquet
files: what each Spark task of the Spark engine's ingestion does (sources/spark/ingest.py). The
same code as the ingestion in one process (`read_and_parse_lines`), so the contract, its
quarantine reasons and line numbers are the same by construction; the caller finds the copies of
an event in other parts and does the deduplication and the writes.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import uuid
from pathlib import Path

import duckdb

from sources.events.contract_sql import TsBounds
from sources.events.files import EventFile, ReadLimits
from sources.events.reading import read_and_parse_lines
from sources.warehouse import literal

# what a part writes, one Parquet file per part in a folder of each name
PART_TABLES = ("parsed", "line_days")


def _no_translation(f: EventFile, target: Path) -> None:
    raise ValueError(f"{f.source_file}: OpenTelemetry files are read by the caller, not a part")


def parse_part(
    files: list[EventFile],
    start: dt.date,
    end: dt.date,
    limits: ReadLimits,
    bounds: TsBounds,
    out: Path,
    name: str,
) -> None:
    """Read `files` (no OpenTelemetry file: their translation needs spans of other files) and
    parse the lines of the days [start, end], as the ingestion in one process does, but without
    the lines of other days that repeat an event id of the window (the caller finds those across
    all parts); write `parsed` and `line_days` to out/<table>/<name>.parquet."""
    with duckdb.connect() as con, tempfile.TemporaryDirectory(prefix="costwatch-part-") as tmp:
        con.execute("set threads = 1")  # one task per core
        read_and_parse_lines(
            con, files, Path(tmp), start, end, limits, bounds, _no_translation, other_days=False
        )
        for table in PART_TABLES:
            # written aside, then renamed: a retried or duplicated task never leaves half a file
            target = out / table / f"{name}.parquet"
            aside = target.with_name(f".{name}.{uuid.uuid4().hex}.tmp")
            con.execute(f"copy {table} to {literal(str(aside))} (format parquet)")
            os.replace(aside, target)


def balanced_parts(files: list[EventFile], parts: int) -> list[list[EventFile]]:
    """`files` in at most `parts` non-empty groups of about equal bytes (largest file first into
    the lightest group), each group in the files' own order."""
    groups: list[list[EventFile]] = [[] for _ in range(max(1, min(parts, len(files))))]
    sizes = [0] * len(groups)
    for f in sorted(files, key=lambda f: (-f.size_bytes, f.source_file)):
        i = sizes.index(min(sizes))
        groups[i].append(f)
        sizes[i] += f.size_bytes
    order = {f.source_file: n for n, f in enumerate(files)}
    return [sorted(g, key=lambda f: order[f.source_file]) for g in groups if g]
