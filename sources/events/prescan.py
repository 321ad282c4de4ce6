"""Which files a run reads, and which days a new event file can hold, from a scan of its text
instead of a read of its lines.

A run reads the files its days need plus every new or changed file: only a file's lines tell
which days it holds (sources/events/reading.py), and the manifest (`raw.event_files`) must know
them all. The first run of a backfill would so split and date every line of the whole history to
keep one chunk's. A scan of the text finds the days much faster (no lines, no JSON): each
`"ts": "YYYY-MM-DD` in the file. It is trusted only where it cannot miss a day:

- DuckDB reads the file as it is (plain UTF-8, within the caps; sources/events/files.py; its
  read_text fails on the bytes that are not UTF-8, so a file that is not is read by the run);
- no character a `ts` key or the start of its value can be made of is written as a `\\u` escape
  (the text then shows every `ts` key and date as the JSON means it; DuckDB's JSON is strict:
  no comments, no other quotes or white space);
- every `ts` value that starts with a date has a zero UTC offset and an hour below 24, so that
  date is its UTC day (the contract's `ts` format, sources/events/contract_sql.py::TS_PATTERN,
  allows offsets, and DuckDB reads hour 24 as the next day's midnight);
- lines without a valid `ts` belong to the earliest `ts` day of the file, which is among the dates
  found, or, when the file may hold no valid `ts` (its first line has none), to the file's
  modification day, which is then added.

The dates found are thus a superset of the file's days: a `ts` inside metadata, or one that is
invalid, adds a day the file does not hold, never loses one.

A file whose days are all after the run's last day waits for the runs of its days (its days go to
the manifest and to the run's late days) when nothing is stored yet for the run's days (a first
run of these days: no stored event can then seem removed). Its lines cannot change the run's
result: an accepted line has a later `ts` than any line of the run's days, so it loses to them
in dedup, and the run of its own day finds theirs stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb

from sources.events.contract_sql import TsBounds, in_bounds_sql, occurred_at_sql
from sources.events.files import (
    LINES_BATCH_BYTES,
    EventFile,
    ReadLimits,
    plain_in_place,
    size_batches,
)
from sources.events.reading import without_bom_sql, without_cr_sql
from sources.stages import StageClock
from sources.warehouse import literal

_KEY = r'"ts"\s*:\s*"'
# the date that starts a `ts` value
DATES = _KEY + r"(\d{4}-\d\d-\d\d)[Tt ]"
# a `ts` value whose date may not be its UTC day: an hour of 24 or more, or a non-zero offset
OTHER_DAY = (
    _KEY + r"\d{4}-\d\d-\d\d[Tt ](?:2[4-9]|[3-9]\d|\d\d:\d\d(?::\d\d(?:\.\d+)?)?"
    r"[+-](?:0[1-9]|1\d|00:?(?:0[1-9]|[1-5]\d)))"
)
# the first date of a line's start, in bytes (ASCII digits only), and how much of a file it reads
FIRST_DATE = re.compile(DATES.encode())
FIRST_LINE_BYTES = 64 * 2**10
# an escaped character that could spell the key `ts` or a date: t, s, T, digits, '-', ' '
ESCAPED = r"\\u00(?:2[0dD]|3\d|54|7[34])"


def scan_sql(limits: ReadLimits, bounds: TsBounds) -> str:
    """Per file read by `read_text(?)`: its distinct `ts` dates, whether one may not be its UTC
    day or may be escaped, and whether its first line has a valid `ts` (as the reader sees the
    line: byte-order mark and CR dropped as the reader drops them, over the cap an invalid
    line)."""
    cap = int(limits.max_line_bytes)
    # json_extract_string raises on a line that is not JSON: only valid lines are extracted
    ts = "case when json_valid(first_line) then json_extract_string(first_line, '$.\"ts\"') end"
    occurred = occurred_at_sql(ts)
    return f"""
with texts as (
  select filename, content,
         case when strpos(content, chr(10)) = 0 then content
              else left(content, strpos(content, chr(10)) - 1) end as line
  from read_text(?)
),
first_lines as (
  select filename,
         list_distinct(regexp_extract_all(content, {literal(DATES)}, 1)) as dates,
         regexp_matches(content, {literal(OTHER_DAY)})
           or regexp_matches(content, {literal(ESCAPED)}) as is_unsure,
         {without_cr_sql(without_bom_sql("line"))} as first_line
  from texts
)
select filename, dates, is_unsure,
       coalesce(strlen(first_line) <= {cap} and {in_bounds_sql(occurred, bounds)}, false)
         as has_valid_ts
from first_lines
"""  # noqa: S608 (module constants, an integer of the configuration and computed bounds)


@dataclass
class FileChoice:
    """What a run does with the files: reads `read` (`changed` of them new or changed since the
    manifest's row), and leaves `later`, new or changed files holding only days after the run's,
    each with a superset of its days, to the runs of those days."""

    read: list[EventFile]
    changed: set[str]
    later: dict[str, frozenset[dt.date]] = field(default_factory=dict)


def files_to_read(
    con: duckdb.DuckDBPyConnection,
    files: list[EventFile],
    start: dt.date,
    end: dt.date,
    limits: ReadLimits,
    bounds: TsBounds,
    clock: StageClock | None = None,
) -> FileChoice:
    """Files holding days in [start, end] per the manifest, plus new or changed files, but for
    those that hold only later days when nothing is stored yet for [start, end]."""
    rows = con.execute(
        "select source_file, size_bytes, mtime_ns, event_day from raw.event_files"
    ).fetchall()
    known: dict[str, tuple[int, int]] = {}
    days: dict[str, set[dt.date]] = {}
    for source_file, size, mtime, day in rows:
        known[source_file] = (size, mtime)
        days.setdefault(source_file, set()).add(day)
    chosen: list[EventFile] = []
    changed: set[str] = set()
    for f in files:
        if known.get(f.source_file) != (f.size_bytes, f.mtime_ns):
            chosen.append(f)
            changed.add(f.source_file)
        elif any(start <= d <= end for d in days.get(f.source_file, ())):
            chosen.append(f)
    later: dict[str, frozenset[dt.date]] = {}
    if changed and not _stored(con, start, end):
        with (clock or StageClock()).stage("scan new files"):
            new = [f for f in chosen if f.source_file in changed]
            later = later_files(con, new, end, limits, bounds)
    return FileChoice(
        [f for f in chosen if f.source_file not in later], changed - later.keys(), later
    )


def _stored(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> bool:
    """Whether raw.app_events holds rows of days [start, end] (a day run before)."""
    return con.execute(
        "select exists (select 1 from raw.app_events where event_day between $s and $e)",
        {"s": start, "e": end},
    ).fetchone()[0]


def later_files(
    con: duckdb.DuckDBPyConnection,
    files: list[EventFile],
    end: dt.date,
    limits: ReadLimits,
    bounds: TsBounds,
) -> dict[str, frozenset[dt.date]]:
    """Of new or changed `files`, those that certainly hold only days after `end`, each with a
    superset of its days (none before the first partition). The others must be read."""
    candidates = [
        f
        for f in files
        if f.size_bytes > 0 and plain_in_place(f, limits) and not _starts_by(f, end)
    ]
    by_path = {str(f.path): f for f in candidates}
    sql = scan_sql(limits, bounds)
    out: dict[str, frozenset[dt.date]] = {}
    for path, dates, is_unsure, has_valid_ts in _scan(con, sql, candidates):
        f = by_path[path]
        days = file_days(dates, is_unsure, has_valid_ts, f.mtime_day, limits.first_day)
        if days and min(days) > end:
            out[f.source_file] = days
    return out


def _starts_by(f: EventFile, end: dt.date) -> bool:
    """The file's first line has a `ts` date on or before `end`: the file is read by the run
    anyway (a day's own file on its daily run), so it is not scanned. Reads one line's start."""
    try:
        with f.path.open("rb") as fh:
            head = fh.read(FIRST_LINE_BYTES).split(b"\n", 1)[0]
    except OSError:
        return True  # the run reads it and says what went wrong
    found = FIRST_DATE.search(head)
    day = _date(found.group(1).decode()) if found else None
    return day is not None and day <= end


def file_days(
    dates: list[str],
    is_unsure: bool,
    has_valid_ts: bool,
    mtime_day: dt.date,
    first_day: dt.date,
) -> frozenset[dt.date]:
    """A superset of a scanned file's days (empty when the scan cannot tell): its `ts` dates from
    the first partition on, and its modification day when it may hold no valid `ts`."""
    if is_unsure:
        return frozenset()
    days = {d for d in (_date(s) for s in dates) if d is not None and d >= first_day}
    if not has_valid_ts:
        days.add(mtime_day)
    return frozenset(days)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None  # 2025-02-30: no valid `ts` starts with it


def _scan(
    con: duckdb.DuckDBPyConnection, sql: str, files: list[EventFile]
) -> Iterator[tuple[str, list[str], bool, bool]]:
    """The scan's rows, batches in parallel (read_text is one thread a query). A file DuckDB
    cannot read (not UTF-8, or gone) gives no row: it is read by the run."""
    sizes = {str(f.path): f.size_bytes for f in files}
    batches = list(size_batches(list(sizes), sizes.__getitem__, LINES_BATCH_BYTES))
    if not batches:
        return
    threads = int(con.execute("select current_setting('threads')").fetchone()[0])

    def one(batch: list[str]) -> list[tuple[str, list[str], bool, bool]]:
        cur = con.cursor()
        try:
            return cur.execute(sql, [batch]).fetchall()
        except duckdb.Error:
            # read_text stops at the first file that is not UTF-8: the others are scanned alone
            return [] if len(batch) == 1 else [r for p in batch for r in one([p])]
        finally:
            cur.close()

    with ThreadPoolExecutor(max(1, min(threads, len(batches)))) as pool:
        for rows in pool.map(one, batches):
            yield from rows
