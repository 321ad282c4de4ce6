"""The ingestion's search for stored copies at a year of history at 100x (issue 16): DuckDB's, in
the warehouse (sources/events/dedup.py), against the Spark engine's, a query of the lake's day
files on `local[2]` (sources/spark/ingest.py's `search_history`), over the same rows. Run by
benchmarks/engines.py (`make bench-engines`, part of `make bench`).

The stored table has the columns the searches read (id, its hash, time, file, line, day, load
time), not the other contract columns, which neither search reads (both read columns, not rows).
The day's ids are a 100x day's (170,000), 30 of them copies of stored events.
"""

from __future__ import annotations

import datetime as dt
import shutil
import statistics
import time
import uuid
from pathlib import Path

import duckdb

# a year at 100x the seed: 365 days of about 170,000 stored events each
STORED_ROWS, STORED_DAYS, DAY_IDS, COPIES = 62_000_000, 365, 170_000, 30
FIRST_DAY = dt.date(2025, 1, 1)


def _history(con: duckdb.DuckDBPyConnection, rows: int, days: int) -> None:
    """`raw.app_events` of `rows` rows over `days` days, in day order as loads append them."""
    con.execute("create schema raw")
    event_id = "'evt-' || lpad(i::VARCHAR, 12, '0')"
    con.execute(
        f"""
        create table raw.app_events as
        select {event_id} as event_id,
               (md5_number_lower({event_id}) >> 24) as event_id_hash40,
               timestamp '{FIRST_DAY}' + to_microseconds(i * (86400000000 * {days} // {rows}))
                 as occurred_at,
               'app/' || (i % 97)::VARCHAR || '.jsonl' as source_file,
               (i % 100000)::BIGINT as line_no,
               date '{FIRST_DAY}' + (i * {days} // {rows})::INTEGER as event_day,
               timestamp '{FIRST_DAY}' as ingested_at
        from range({rows}) r(i)
        """  # noqa: S608 (numbers of this module)
    )
    # the new day's ids, `COPIES` of them ids of stored events spread over the history
    con.execute(
        f"""
        create or replace temp table run_ids as
        select event_id, (md5_number_lower(event_id) >> 24) as event_id_hash, 1 as lines_read
        from (
          select 'new-' || i::VARCHAR as event_id from range({DAY_IDS - COPIES}) r(i)
          union all
          select 'evt-' || lpad((i * ({rows} // ({COPIES} + 1)))::VARCHAR, 12, '0')
          from range(1, {COPIES} + 1) r(i)
        )
        """  # noqa: S608 (numbers of this module)
    )
    con.execute("checkpoint")


def _timed(fn, times: int) -> list[float]:
    out = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        out.append(round(time.perf_counter() - start, 3))
    return out


def measure(
    work: Path, master: str = "local[2]", rows: int = STORED_ROWS, days: int = STORED_DAYS
) -> dict:
    """Each search three times (Spark's first includes its JIT's warm-up, reported apart), the
    lake's first copy of the history and a copy with nothing changed (what each Spark search
    starts with); each search must find the `COPIES` copies."""
    from sources.events.dedup import search_here
    from sources.spark.ingest import search_history, spark_session
    from sources.spark.lake import source_folder
    from sources.spark.source_days import export_by_day

    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(work / "warehouse.duckdb"))
    started = time.perf_counter()
    _history(con, rows, days)
    print(f"  history search: {rows:,} stored rows in {time.perf_counter() - started:.0f} s",
          flush=True)  # fmt: skip
    day = FIRST_DAY + dt.timedelta(days=days)

    def found() -> int:
        (n,) = con.execute("select count(*) from stored_copies").fetchone()
        if n != COPIES:
            raise RuntimeError(f"history search: {n} copies found, {COPIES} stored")
        return n

    duckdb_s = _timed(lambda: (search_here(con, day, day), found()), 3)
    lake = work / "lake"
    folder = source_folder(lake, "raw", "app_events")
    first_copy = _timed(lambda: export_by_day(con, folder, "raw", "app_events"), 1)[0]
    unchanged_copy = _timed(lambda: export_by_day(con, folder, "raw", "app_events"), 1)[0]

    spark = spark_session(master, "costwatch history search bench")

    def on_spark() -> None:
        out = lake / "_ingest" / uuid.uuid4().hex
        search_history(spark, con, lake, day, day, out)
        found()
        shutil.rmtree(out)

    try:
        spark_s = _timed(on_spark, 3)
    finally:
        spark.stop()
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "stored_rows": rows,
        "stored_days": days,
        "day_ids": DAY_IDS,
        "copies": COPIES,
        "master": master,
        "duckdb_s": statistics.median(duckdb_s),
        "spark_first_s": spark_s[0],
        "spark_s": statistics.median(spark_s[1:]),
        "lake_first_copy_s": first_copy,
        "lake_unchanged_copy_s": unchanged_copy,
    }


def _cores(master: str) -> int:
    """The cores of a `local[N]` master."""
    return int(master.removeprefix("local[").removesuffix("]"))


def lines(h: dict) -> list[str]:
    """BENCHMARKS.md's paragraph (in the engines' section)."""
    year = (h["stored_rows"], h["stored_days"]) == (STORED_ROWS, STORED_DAYS)
    return [
        "",
        f"The ingestion's search for stored copies (`benchmarks/history_search.py`): "
        f"{h['day_ids']:,} ids of a day against {h['stored_rows']:,} stored events over "
        f"{h['stored_days']} days{' (a year at 100x)' if year else ''}, {h['copies']} of them "
        "copies. DuckDB's "
        f"search in the warehouse {h['duckdb_s']:.2f} s; the Spark engine's, a query of the "
        f"lake's day files on `{h['master']}`, {h['spark_s']:.1f} s warm ({h['spark_first_s']:.1f} "
        f"s the first time), after its check that the lake's copy is current "
        f"({h['lake_unchanged_copy_s']:.2f} s with nothing to copy; the first copy of the history "
        f"{h['lake_first_copy_s']:.1f} s). On one machine DuckDB's search is "
        f"{h['spark_s'] / h['duckdb_s']:,.0f}x faster: it reads a 5-byte hash per stored event "
        "and then only the rows it names; Spark reads the ids. Spark's search divides among "
        f"workers, DuckDB's does not: with Spark's time per core here, it would match DuckDB's "
        f"from about {h['spark_s'] * _cores(h['master']) / h['duckdb_s']:,.0f} cores, as long as "
        "the warehouse holds the history (it does today: docs/spark.md). It runs only when the "
        "load's files were read by Spark tasks (`COSTWATCH_SPARK_INGEST_MIN_MB`).",
    ]
