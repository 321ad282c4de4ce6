"""Reading event files into DuckDB in batches: splitting them into lines (with the line cap and
sentinels), and the UTC day each line belongs to. Which files a run reads:
sources/events/prescan.py.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from sources.events.contract_sql import TsBounds, in_bounds_sql, occurred_at_sql
from sources.events.files import (
    LINES_BATCH_BYTES,
    QUARANTINED_PREFIX_BYTES,
    EventFile,
    ReadLimits,
    Translate,
    prepare_readable,
    size_batches,
    write_normalized,
)
from sources.events.parsing import parse_sql
from sources.stages import StageClock


def without_bom_sql(line: str) -> str:
    """A first line without the UTF-8 byte-order mark before it."""
    return f"case when starts_with({line}, chr(65279)) then substr({line}, 2) else {line} end"


def without_cr_sql(line: str) -> str:
    """A line without the CR of its CRLF."""
    return f"case when ends_with({line}, chr(13)) then left({line}, -1) else {line} end"


def split_sql(limits: ReadLimits) -> str:
    """Numbered lines of the files `read_text(?)` reads: the CR of CRLF and a UTF-8 byte-order
    mark before the first line dropped, sentinel lines of normalized copies split into reason and
    text, and lines over the cap replaced by their start (`line_too_long`), before anything
    parses them."""
    cap = int(limits.max_line_bytes)
    keep = int(QUARANTINED_PREFIX_BYTES)
    return f"""
with texts as (
  select m.source_file, m.normalized, m.mtime_day, t.content
  from read_text(?) t join file_map m on m.read_path = t.filename
),
parts as (
  select source_file, normalized, mtime_day, string_split(content, chr(10)) as parts,
         ends_with(content, chr(10)) or content = '' as drop_last
  from texts
),
numbered as (
  select source_file, normalized, mtime_day, drop_last, len(parts) as n,
         unnest(parts) as line, generate_subscripts(parts, 1) as line_no
  from parts
),
cleaned as (
  select source_file, normalized, mtime_day, line_no,
         case when line_no = 1 then {without_bom_sql("line")} else line end as line
  from numbered
  where not (drop_last and line_no = n)
),
stripped as (
  select source_file, normalized, mtime_day, line_no, {without_cr_sql("line")} as line
  from cleaned
),
sentinels as (
  select source_file, line_no, mtime_day,
         case when normalized and starts_with(line, chr(30))
              then split_part(substr(line, 2), chr(9), 1)
              when strlen(line) > {cap} then 'line_too_long' end as sentinel_reason,
         case when normalized and starts_with(line, chr(30))
              then substr(line, strpos(line, chr(9)) + 1)
              when strlen(line) > {cap}
              then left(line, {keep}) || '... (' || strlen(line) || ' bytes; the limit is '
                   || 'COSTWATCH_MAX_LINE_BYTES={cap})'
              else line end as line
  from stripped
)
select * from sentinels
"""  # noqa: S608 (two integers of the configuration)


def line_days_sql(bounds: TsBounds) -> str:
    """The day of every line, from the same rules as the full parse but reading only `ts` (and
    the event id, to find duplicates across days): a line's ts day when it is a valid ts inside
    the partitions, else the earliest such day of its file, else the file's modification day.
    Files are whole within one batch."""
    occurred = occurred_at_sql("k[1]")
    return f"""
with keyed as (
  select source_file, line_no, mtime_day,
         case when sentinel_reason is null and json_valid(line)
              then json_extract_string(line, ['$."ts"', '$."event_id"']) end as k
  from batch_lines
),
parsed as (
  select source_file, line_no, mtime_day, k[2] as event_key, {occurred} as occurred_at
  from keyed
),
dated as materialized (
  select source_file, line_no, mtime_day, event_key,
         case when {in_bounds_sql("occurred_at", bounds)} then occurred_at::DATE end as ts_day
  from parsed
)
select d.source_file, d.line_no, coalesce(d.ts_day, f.first_day, d.mtime_day) as event_day,
       d.event_key
from dated d
join (select source_file, min(ts_day) as first_day from dated group by 1) f using (source_file)
"""  # noqa: S608 (built from module constants and computed bounds)


def write_file_map(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, EventFile, bool]]) -> None:
    """Temp table `file_map`: for each file, the path DuckDB reads (the file, or its normalized
    copy) and whether it is that copy, and what the writes read of the file (OTLP or not)."""
    con.execute(
        "create or replace temp table file_map (read_path VARCHAR, source_file VARCHAR, "
        "normalized BOOLEAN, mtime_day DATE, is_otlp BOOLEAN)"
    )
    if rows:
        con.executemany(
            "insert into file_map values (?, ?, ?, ?, ?)",
            [(p, f.source_file, n, f.mtime_day, f.is_otlp) for p, f, n in rows],
        )


class _Reader:
    """Reads batches of files into temp table `batch_lines`; `file_map` says what DuckDB reads
    for each file (the file itself, or its normalized copy in `scratch`)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        files: list[EventFile],
        scratch: Path,
        limits: ReadLimits,
        translate: Translate,
    ) -> None:
        self.con, self.scratch, self.limits = con, scratch, limits
        readable = prepare_readable(files, scratch, limits, translate)
        by_name = {f.source_file: f for f in files}
        self.in_place = {p: by_name[s] for p, s, normalized in readable if not normalized}
        self.sizes = {
            p: by_name[s].size_bytes if not normalized else Path(p).stat().st_size
            for p, s, normalized in readable
        }
        self.paths = [p for p, _, _ in readable]
        write_file_map(con, [(p, by_name[s], n) for p, s, n in readable])

    def batches(self, paths: list[str]) -> Iterator[list[str]]:
        """Consecutive groups of files of at most LINES_BATCH_BYTES together."""
        return size_batches(paths, self.sizes.__getitem__, LINES_BATCH_BYTES)

    def read(self, paths: list[str]) -> None:
        sql = f"create or replace temp table batch_lines as {split_sql(self.limits)}"
        try:
            self.con.execute(sql, [paths])
            # read_text skips a file of its list that does not exist (any more)
            failed = any(p in self.in_place and not os.path.exists(p) for p in paths)
        except duckdb.Error:
            failed = True
        if failed:
            # A file changed between the UTF-8 check and this read (a writer appended half a
            # character, or it vanished): its lines are copied through Python, which quarantines
            # what it cannot read, and the batch is read again.
            self.con.execute(sql, [[self._normalize_again(p) for p in paths]])

    def _normalize_again(self, path: str) -> str:
        f = self.in_place.pop(path, None)
        if f is None:
            return path
        target = self.scratch / f"again-{len(self.sizes):07d}.jsonl"
        write_normalized(f, target, self.limits)
        self.sizes[str(target)] = target.stat().st_size
        self.con.execute(
            "update file_map set read_path = $new, normalized = true where read_path = $old",
            {"new": str(target), "old": path},
        )
        return str(target)


def read_and_parse_lines(
    con: duckdb.DuckDBPyConnection,
    files: list[EventFile],
    scratch: Path,
    start: dt.date,
    end: dt.date,
    limits: ReadLimits,
    bounds: TsBounds,
    translate: Translate,
    clock: StageClock | None = None,
    other_days: bool = True,
) -> None:
    """Temp table `parsed`: parse_sql's row of every line of `files` that the days [start, end]
    need (their own lines, and lines of other days holding the same event ids, for dedup); temp
    table `line_days`: the day of every line of every file (for the manifest and late-day
    reports).

    A backfill's first chunk reads every new file; only the chunk's lines are kept for parsing,
    so a year of new logs costs one light pass, not a full parse of the year. Each batch of files
    is parsed as it is read: a run holds the parsed rows of its days (most without their text)
    and the lines of one batch, not the lines of all its days. Without `other_days`, the lines
    of other days are left for `read_and_parse_other_day_copies` (when the files were read in
    several places, the copies of an event may be in any of them).
    """
    clock = clock or StageClock()
    reader = _Reader(con, files, scratch, limits, translate)
    con.execute(
        "create or replace temp table line_days "
        "(source_file VARCHAR, line_no BIGINT, event_day DATE, event_key VARCHAR)"
    )
    _new_parsed(con, bounds)
    window = {"start": start, "end": end}
    days_sql = line_days_sql(bounds)
    for batch in reader.batches(reader.paths):
        with clock.stage("read lines"):
            reader.read(batch)
        with clock.stage("line days"):
            # the lines kept are among the batch's days (files are whole), not all read so far
            con.execute(f"create or replace temp table batch_days as {days_sql}")
            con.execute("insert into line_days select * from batch_days")
        _parse_kept(
            con,
            "select source_file, line_no, event_day from batch_days "
            "where event_day between $start and $end",
            bounds,
            clock,
            window,
        )
    if other_days:
        with clock.stage("other days' copies"):
            _read_other_day_copies(con, reader, other_day_copies(con, start, end), bounds)
    con.execute("drop table if exists batch_lines")
    con.execute("drop table if exists batch_days")
    con.execute("drop table if exists lines")


def other_day_copies(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> list[str]:
    """Temp table `other_day_duplicates`: the lines of other days (in `line_days`) that repeat
    an event id of the window (re-delivered events), to be read again so that the first
    occurrence wins as when every line was parsed. Rare; usually none. Returns their files."""
    con.execute(
        """
        create or replace temp table other_day_duplicates as
        select source_file, line_no, event_day from line_days
        where event_day not between $start and $end
          and event_key in (
            select event_key from line_days where event_day between $start and $end)
        """,
        {"start": start, "end": end},
    )
    return [
        s
        for (s,) in con.execute(
            "select distinct source_file from other_day_duplicates order by 1"
        ).fetchall()
    ]


def read_and_parse_other_day_copies(
    con: duckdb.DuckDBPyConnection,
    files: list[EventFile],
    scratch: Path,
    start: dt.date,
    end: dt.date,
    limits: ReadLimits,
    bounds: TsBounds,
    translate: Translate,
) -> None:
    """Append to temp table `parsed` the lines of other days that repeat an event id of the
    window, wherever `line_days` says they are (`files` holds every file it names). Replaces
    temp table `file_map` with these files' map."""
    wanted = set(other_day_copies(con, start, end))
    if wanted:
        reader = _Reader(
            con, [f for f in files if f.source_file in wanted], scratch, limits, translate
        )
        _read_other_day_copies(con, reader, sorted(wanted), bounds)
    con.execute("drop table if exists batch_lines")
    con.execute("drop table if exists lines")


def _read_other_day_copies(
    con: duckdb.DuckDBPyConnection, reader: _Reader, files: list[str], bounds: TsBounds
) -> None:
    """Read again the files holding `other_day_duplicates` and parse those lines."""
    if not files:
        return
    paths = [
        p
        for (p,) in con.execute(
            "select read_path from file_map where source_file in (select unnest($f::VARCHAR[])) "
            "order by read_path",
            {"f": files},
        ).fetchall()
    ]
    for batch in reader.batches(paths):
        reader.read(batch)
        _parse_kept(con, "select source_file, line_no, event_day from other_day_duplicates", bounds)


def _new_parsed(con: duckdb.DuckDBPyConnection, bounds: TsBounds) -> None:
    """An empty temp table `parsed` (parse_sql's columns), and `lines` for its input."""
    _new_lines(con)
    con.execute(f"create or replace temp table parsed as {parse_sql(bounds)} limit 0")


def _new_lines(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create or replace temp table lines "
        "(source_file VARCHAR, line_no BIGINT, sentinel_reason VARCHAR, line VARCHAR, "
        "event_day DATE)"
    )


def _parse_kept(
    con: duckdb.DuckDBPyConnection,
    wanted: str,
    bounds: TsBounds,
    clock: StageClock | None = None,
    params: dict | None = None,
) -> None:
    """Parse the lines of `batch_lines` that `wanted` (source_file, line_no, event_day) names
    into `parsed`, each with its day (every later step reads it: the parse carries it to each
    row); `lines` holds them until the next batch's."""
    clock = clock or StageClock()
    with clock.stage("keep lines"):
        _new_lines(con)
        con.execute(
            "insert into lines select b.source_file, b.line_no, b.sentinel_reason, b.line, "  # noqa: S608
            f"w.event_day from batch_lines b join ({wanted}) w using (source_file, line_no)",
            params or {},
        )
    with clock.stage("parse"):
        con.execute(f"insert into parsed {parse_sql(bounds)}")


# Reads `files` and parses what the days [start, end] need, leaving temp tables `line_days` (the
# day of every line read), `parsed` (parse_sql's row of every line kept) and `file_map` (whether
# each file is OTLP): (con, files, scratch, start, end, limits, bounds, translate, clock).
ReadAndParse = Callable[
    [
        duckdb.DuckDBPyConnection,
        list[EventFile],
        Path,
        dt.date,
        dt.date,
        ReadLimits,
        TsBounds,
        Translate,
        StageClock,
    ],
    None,
]


def read_and_parse_here(
    con: duckdb.DuckDBPyConnection,
    files: list[EventFile],
    scratch: Path,
    start: dt.date,
    end: dt.date,
    limits: ReadLimits,
    bounds: TsBounds,
    translate: Translate,
    clock: StageClock,
) -> None:
    """ReadAndParse in this process's DuckDB."""
    read_and_parse_lines(con, files, scratch, start, end, limits, bounds, translate, clock)
