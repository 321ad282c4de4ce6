"""Read, validate and load application event logs (JSON Lines) into DuckDB.

DuckDB does the heavy work: it reads the files (`read_text`), splits lines, parses and validates
JSON with one generated SQL statement. Python only lists files and rewrites the few files DuckDB
cannot read as UTF-8 text (gzip, invalid UTF-8) into plain files in a scratch folder.

Day attribution (so that every line of every file is counted in exactly one day partition):
- a line with a parseable `ts` belongs to the UTC day of that `ts`;
- any other line (blank, not JSON, no/invalid ts) belongs to the earliest UTC day of the valid
  timestamps in the same file, or to the UTC day of the file's modification time if it has none.

A manifest (`raw.event_files`) remembers which days each file holds, keyed by size and mtime, so a
partition run reads only the files holding its days plus files that are new or changed, but for
new files that hold only later days on the first run of its days (sources/events/prescan.py).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from sources.events.contract import (
    EVENT_TYPES,
    known_keys,
)
from sources.events.contract_sql import TYPED_COLUMNS, TsBounds, ts_bounds
from sources.events.dedup import FindStoredCopies, find_stored_copies, rank_copies
from sources.events.files import (
    EventFile,
    ReadLimits,
    discover_files,
)
from sources.events.prescan import FileChoice, files_to_read
from sources.events.reading import ReadAndParse, read_and_parse_here
from sources.events.scratch import SCRATCH_PREFIX, remove_stale_scratch
from sources.events.tables import (
    EVENT_ID_HASH,
    FROM_EVENT_LOG,
    FROM_OPENTELEMETRY,
    ensure_tables,
)
from sources.otel.translate import Translation, ancestry_files
from sources.stages import StageClock
from sources.warehouse import transaction


@dataclass
class IngestResult:
    """What one load of a day range did. `per_day` maps day -> counts; they add up per day."""

    start_day: dt.date
    end_day: dt.date
    files_scanned: int
    files_read: int
    per_day: dict[dt.date, dict[str, int]] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    late_days: list[dt.date] = field(default_factory=list)
    # day -> {"files": source files gone or changed, "events": events no longer found}; only when
    # the operator accepted it (else FilesRemoved is raised and nothing is written)
    removed: dict[dt.date, dict] = field(default_factory=dict)
    # OTLP file -> what its spans became (batches, spans, events, quarantined, ignored by kind)
    otel_spans: dict[str, dict] = field(default_factory=dict)
    # wall seconds per stage (files, read lines, ..., write), for run metadata and `make bench`
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        keys = ("lines_read", "accepted", "duplicates", "quarantined", "blank")
        return {k: sum(d.get(k, 0) for d in self.per_day.values()) for k in keys}


class FilesRemoved(RuntimeError):
    """A rerun would drop events because files it read before are gone or shorter."""


def ingest_range(
    con: duckdb.DuckDBPyConnection,
    events_root: Path,
    start_day: dt.date,
    end_day: dt.date,
    ingested_at: dt.datetime | None = None,
    scratch_dir: Path | None = None,
    limits: ReadLimits | None = None,
    accept_removed: bool = False,
    read_and_parse: ReadAndParse | None = None,
    find_copies: FindStoredCopies | None = None,
) -> IngestResult:
    """Replace the raw rows of days [start_day, end_day] with what the event files hold now.

    Idempotent: the same files give the same rows. Rows of other days are not touched. A rerun
    that would drop stored events because their files are gone or shorter raises FilesRemoved
    and writes nothing, unless `accept_removed` (then the result's `removed` says what went).
    `read_and_parse` reads and parses the files (`read_and_parse_here`, this process's DuckDB,
    by default; `sources/spark/ingest.py` in Spark tasks) and `find_copies` finds the stored
    copies of the events read (`find_stored_copies`, this process's DuckDB, by default; the
    Spark engine's search of the lake): everything else is done here.
    """
    read_and_parse = read_and_parse or read_and_parse_here
    find_copies = find_copies or find_stored_copies
    clock = StageClock()
    with clock.stage("files"):
        ensure_tables(con)
        limits = limits or ReadLimits()
        now = ingested_at or dt.datetime.now(dt.UTC)
        ingested_at = now.replace(tzinfo=None)
        bounds = ts_bounds(limits, now)
        files = discover_files(events_root)
    choice = files_to_read(con, files, start_day, end_day, limits, bounds, clock)
    to_read, changed = choice.read, choice.changed
    with clock.stage("files"):
        translation = Translation(ancestry_files(files, to_read, start_day), limits)
    if scratch_dir is not None:
        scratch_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_scratch(scratch_dir)
    with tempfile.TemporaryDirectory(dir=scratch_dir, prefix=SCRATCH_PREFIX) as tmp:
        read_and_parse(
            con, to_read, Path(tmp), start_day, end_day, limits, bounds, translation.write, clock
        )
    params = {"start": start_day, "end": end_day}
    find_copies(con, start_day, end_day, clock)
    with clock.stage("dedup"):
        late = rank_copies(con, start_day, end_day, changed)
        late = sorted(set(late) | _later_days(choice, bounds))
        removed = _removed_events(con, start_day, end_day)
    if removed and not accept_removed:
        raise FilesRemoved(_removed_message(removed))
    with clock.stage("metadata"):
        _build_extra_metadata(con)
    typed_cols = ", ".join(f"a.{f.column}" for f in TYPED_COLUMNS)
    with clock.stage("write"), transaction(con):
        con.execute("delete from raw.app_events where event_day between $start and $end", params)
        con.execute(
            "delete from raw.event_quarantine where event_day between $start and $end", params
        )
        con.execute(
            "delete from raw.event_file_stats where event_day between $start and $end", params
        )
        con.execute(
            f"""
            insert into raw.app_events
            select a.event_id, a.event_type, a.occurred_at, a.event_day, a.ts_raw, a.user_id,
                   {typed_cols},
                   case when x.extra is null then a.explicit_metadata
                        else json_merge_patch(x.extra, coalesce(a.explicit_metadata, '{{}}'))
                   end as metadata,
                   a.source_file, a.line_no, $ingested_at,
                   case when m.is_otlp then $otel else $event_log end,
                   a.{EVENT_ID_HASH}
            from parsed a
            anti join losing_copies l using (event_id, source_file, line_no)
            join file_map m using (source_file)
            left join extra_metadata x using (source_file, line_no)
            where a.reason is null and not a.is_blank
              and a.event_day between $start and $end
            """,  # noqa: S608 (column list from the contract)
            {
                **params,
                "ingested_at": ingested_at,
                "otel": FROM_OPENTELEMETRY,
                "event_log": FROM_EVENT_LOG,
            },
        )
        con.execute(
            """
            insert into raw.event_quarantine
            select source_file, line_no, line, reason, $ingested_at, event_day
            from parsed
            where reason is not null and event_day between $start and $end
            """,
            {**params, "ingested_at": ingested_at},
        )
        con.execute(
            """
            insert into raw.event_file_stats
            select a.source_file, a.event_day,
                   count(*),
                   count(*) filter (where a.reason is null and not a.is_blank and not a.losing),
                   count(*) filter (where a.reason is null and not a.is_blank and a.losing),
                   count(*) filter (where a.reason is not null),
                   count(*) filter (where a.is_blank),
                   $ingested_at
            from (
              select p.*, l.event_id is not null as losing
              from parsed p left join losing_copies l using (event_id, source_file, line_no)
            ) a
            where a.event_day between $start and $end
            group by all
            """,
            {**params, "ingested_at": ingested_at},
        )
        _update_manifest(con, files, changed, choice.later)
    with clock.stage("result"):
        result = _result(con, start_day, end_day, len(files), len(to_read), late)
    result.removed = removed
    result.stage_seconds = clock.rounded()
    result.otel_spans = {k: c.as_dict() for k, c in sorted(translation.counts.items())}
    return result


def _removed_events(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict:
    """Stored events of the days that no line read now carries and no other day holds: their
    files are gone, shorter or moved out of the events folder. day -> files and event count.

    A rotated file (`app.jsonl` -> `app.jsonl.1` -> `app.jsonl.2.gz`) still carries its events,
    so rotation removes nothing; a line that is now quarantined is not removed either."""
    rows = con.execute(
        """
        select event_day, list(distinct source_file order by source_file), count(*)
        from raw.app_events s
        where event_day between $start and $end
          and not exists (select 1 from line_days l where l.event_key = s.event_id)
          and not exists (
            select 1 from raw.app_events o
            where o.event_id = s.event_id and o.event_day not between $start and $end)
        group by 1 order by 1
        """,
        {"start": start, "end": end},
    ).fetchall()
    return {day: {"files": files, "events": int(n)} for day, files, n in rows}


def _removed_message(removed: dict) -> str:
    parts = [
        f"{day}: {info['events']} events from {', '.join(info['files'])}"
        for day, info in sorted(removed.items())
    ]
    return (
        "Re-running these days would remove events that are no longer in any event file (the "
        f"files are gone, shorter or moved out of the events folder): {'; '.join(parts)}. "
        "Nothing was changed. Put the files back (a rotated copy such as app.jsonl.1 or "
        "app.jsonl.2.gz counts), or, if they were removed on purpose, run again with "
        "--accept-removed-files (in the UI: config accept_removed_files: true on "
        "ingest_app_events); the run's metadata then records what was removed."
    )


def _build_extra_metadata(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table of the top-level keys each accepted line has no column for, as one object.

    Only lines that have such keys are expanded, so the common case costs nothing.
    """
    con.execute("create or replace temp table known_keys (event_type VARCHAR, known VARCHAR[])")
    con.executemany(
        "insert into known_keys values (?, ?)",
        [(t, sorted(known_keys(t))) for t in EVENT_TYPES],
    )
    con.execute(
        """
        create or replace temp table extra_metadata as
        select a.source_file, a.line_no, json_group_object(e.key, e.value) as extra
        from parsed a
        join known_keys k using (event_type)
        cross join json_each(a.line) e
        where a.unknown_key_count > 0 and not list_contains(k.known, e.key)
        group by all
        """
    )


def _later_days(choice: FileChoice, bounds: TsBounds) -> set[dt.date]:
    """The days of the files left to later runs that have a partition now (late days: a run of
    each reads them; the scan keeps none before the first partition)."""
    return {d for days in choice.later.values() for d in days if d <= bounds[1].date()}


def _update_manifest(
    con: duckdb.DuckDBPyConnection,
    files: list[EventFile],
    changed: set[str],
    later: dict[str, frozenset[dt.date]],
) -> None:
    """The manifest's rows: each file's days, from its lines read now (`line_days`) when it is
    new or changed, from the scan of its text when it waits for later runs."""
    present = [f.source_file for f in files]
    con.execute(
        "delete from raw.event_files where source_file not in (select unnest($p::VARCHAR[]))",
        {"p": present},
    )
    if not changed and not later:
        return
    con.execute(
        "delete from raw.event_files where source_file in (select unnest($c::VARCHAR[]))",
        {"c": sorted(changed | later.keys())},
    )
    by_name = {f.source_file: f for f in files}
    later_rows = [
        (name, by_name[name].size_bytes, by_name[name].mtime_ns, day)
        for name, days in sorted(later.items())
        for day in sorted(days)
    ]
    if later_rows:
        con.executemany("insert into raw.event_files values (?, ?, ?, ?)", later_rows)
    if not changed:
        return
    meta = [
        (f.source_file, f.size_bytes, f.mtime_ns, f.mtime_day)
        for f in files
        if f.source_file in changed
    ]
    con.execute(
        "create or replace temp table changed_files "
        "(source_file VARCHAR, size_bytes BIGINT, mtime_ns BIGINT, mtime_day DATE)"
    )
    con.executemany("insert into changed_files values (?, ?, ?, ?)", meta)
    # A file with no lines still gets a row, so it is not re-read on every run.
    con.execute(
        """
        insert into raw.event_files
        select c.source_file, c.size_bytes, c.mtime_ns, coalesce(d.event_day, c.mtime_day)
        from changed_files c
        left join (select distinct source_file, event_day from line_days) d using (source_file)
        """
    )


def _result(
    con: duckdb.DuckDBPyConnection,
    start: dt.date,
    end: dt.date,
    scanned: int,
    read: int,
    late: list[dt.date],
) -> IngestResult:
    result = IngestResult(start, end, scanned, read, late_days=late)
    rows = con.execute(
        """
        select event_day, sum(lines_read), sum(accepted), sum(duplicates), sum(quarantined),
               sum(blank)
        from raw.event_file_stats where event_day between $s and $e group by 1 order by 1
        """,
        {"s": start, "e": end},
    ).fetchall()
    for day, *counts in rows:
        keys = ("lines_read", "accepted", "duplicates", "quarantined", "blank")
        result.per_day[day] = dict(zip(keys, (int(c) for c in counts), strict=True))
    result.quarantine_reasons = dict(
        con.execute(
            """
            select reason, count(*) from raw.event_quarantine
            where event_day between $s and $e group by 1 order by 1
            """,
            {"s": start, "e": end},
        ).fetchall()
    )
    return result
