"""The contract's dedup rule: among the copies of an event id (lines read now, rows stored for
other days), the first by `ts`, then file path, then line number wins (sources/events/log.py
writes the winners).

A load first finds the stored copies (`find_stored_copies` in the run's DuckDB, or the Spark
engine's search of the lake: sources/spark/ingest.py), then ranks them with the lines read
(`rank_copies`, always here: only the few ids with copies)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb

from sources.events.tables import EVENT_ID_HASH
from sources.stages import StageClock
from sources.warehouse import transaction

# how a load finds the stored copies (temp tables `run_ids` and `stored_copies`, as
# `find_stored_copies` makes them), given the run's days and its stage clock
FindStoredCopies = Callable[[duckdb.DuckDBPyConnection, dt.date, dt.date, StageClock], None]


def rank_copies(
    con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, changed: set[str]
) -> list[dt.date]:
    """Temp tables `ranked`, the copies of each event id with more than one (lines read now, rows
    stored for other days: `run_ids` and `stored_copies`, which a FindStoredCopies made), each
    with its rank, and `losing_copies`, the lines and rows none of whose copies ranks first;
    returns the late days (other days a run of each would change).

    An event id read once and stored nowhere else (nearly all of them) is in neither table: its
    one line ranks first. Only the ids with copies are ranked, not every line read."""
    # Winner per event_id among the lines read and the rows already stored for other days.
    con.execute(
        """
        create or replace temp table ranked as
        with contested as (
          select event_id from run_ids where lines_read > 1
          union
          select event_id from stored_copies
        ),
        candidates as (
          select event_id, occurred_at, source_file, line_no from parsed
          where reason is null and not is_blank
            and event_id in (select event_id from contested)
          union
          select event_id, occurred_at, source_file, line_no from stored_copies
        )
        select *, row_number() over (
          partition by event_id order by occurred_at, source_file, line_no) as rn
        from candidates
        """
    )
    con.execute(
        """
        create or replace temp table losing_copies as
        select event_id, source_file, line_no from ranked
        group by all having min(rn) > 1
        """
    )
    # Late days: other days of new or changed files, and days whose stored copy of an event is no
    # longer its first occurrence (an earlier copy arrived later); a run of each puts them right.
    late = con.execute(
        """
        select event_day from line_days
        where source_file in (select unnest($changed::VARCHAR[]))
          and event_day not between $start and $end
        union
        select s.event_day from stored_copies s
        join ranked r using (event_id, source_file, line_no)
        where r.rn > 1
        order by 1
        """,
        {"start": start, "end": end, "changed": sorted(changed)},
    ).fetchall()
    return [d for (d,) in late]


def write_run_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table `run_ids`: the event ids of the accepted lines read, with their hash and how
    many lines carry each."""
    con.execute(
        f"""
        create or replace temp table run_ids as
        select event_id, any_value({EVENT_ID_HASH}) as event_id_hash, count(*) as lines_read
        from parsed where reason is null and not is_blank
        group by event_id
        """  # noqa: S608 (a constant of this package)
    )


def find_stored_copies(
    con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, clock: StageClock
) -> None:
    """FindStoredCopies in the run's DuckDB: temp table `run_ids` (`write_run_ids`) and temp
    table `stored_copies`, the stored rows of other days with one of these ids (their event_id,
    occurred_at, source_file, line_no, event_day). Candidate rows are found by the ids' hashes (a
    narrow column; a run scans it whole), then only those rows are read, by row id, and matched
    on the ids themselves."""
    with clock.stage("dedup"):
        write_run_ids(con)
        search_here(con, start, end)


def search_here(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """Temp table `stored_copies` from the warehouse's `raw.app_events`, given temp table
    `run_ids` (`find_stored_copies`)."""
    # The candidates' row ids first (usually a few dozen: the optimizer then reads the outer
    # columns only in the row groups holding them), both reads in one snapshot of the table.
    with transaction(con):
        con.execute(
            f"""
            create or replace temp table candidate_rows as
            select rowid as row_id from raw.app_events
            where event_day not between $start and $end
              and {EVENT_ID_HASH} in (select event_id_hash from run_ids)
            """,  # noqa: S608 (a constant of this package)
            {"start": start, "end": end},
        )
        con.execute(
            """
            create or replace temp table stored_copies as
            select event_id, occurred_at, source_file, line_no, event_day from raw.app_events
            where rowid in (select row_id from candidate_rows)
              and event_id in (select event_id from run_ids)
            """
        )
