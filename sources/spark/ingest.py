"""The Spark engine's ingestion of event files (no Dagster): the files are read and parsed by Spark
tasks, each a part of the files (sources/events/parts.py: the contract's own reader and parser in
a DuckDB of the task, so the quarantine reasons, line numbers and accounting are the ones of the
embedded engine by construction), written as Parquet to a folder of the lake. The stored copies
of the events read, on other days, are then searched for by Spark too, in the lake's copy of
`raw.app_events` (brought in step with the warehouse first): the one part of a load that grows
with the history. This process ranks the few copies found with the lines read and writes the raw
tables as on DuckDB (sources/events/log.py, sources/events/dedup.py).

OpenTelemetry files are read here: their spans are translated with the spans of other files
(sources/otel/translate.py). Every Spark process must see the event files and the lake at the
same paths (a shared mount), and the executors' Python must have this package and DuckDB
(`spark.pyspark.python`, or PYSPARK_PYTHON; by default this process's Python).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import uuid
from pathlib import Path

import duckdb

from sources.events.contract_sql import TsBounds
from sources.events.dedup import find_stored_copies, write_run_ids
from sources.events.files import EventFile, ReadLimits, Translate
from sources.events.parts import PART_TABLES, balanced_parts, parse_part
from sources.events.reading import (
    read_and_parse_here,
    read_and_parse_lines,
    read_and_parse_other_day_copies,
    write_file_map,
)
from sources.events.scratch import remove_stale_scratch
from sources.spark.lake import source_folder
from sources.spark.source_days import export_by_day
from sources.stages import StageClock
from sources.warehouse import literal

# the stage (no time of its own) that says the files were read here, under the size for Spark
BELOW_SPARK_SIZE = "below the Spark size"
STAGING = "_ingest"  # <lake>/_ingest/<load id>/<table>/<part>.parquet, removed after each load


def spark_session(master: str, app: str):
    """A Spark session on `master` with the settings of $SPARK_CONF_DIR/spark-defaults.conf. The
    executors' Python (pyspark reads PYSPARK_PYTHON only) is spark.pyspark.python when
    spark-defaults.conf sets it, else PYSPARK_PYTHON, else this process's Python."""
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    SparkContext._ensure_initialized()  # the JVM, which reads spark-defaults.conf
    conf = SparkConf()
    python = conf.get("spark.pyspark.python", None)
    if python:
        os.environ["PYSPARK_PYTHON"] = python
    else:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf.set("spark.ui.showConsoleProgress", "false")
    # the parts' UDF pickles its few rows: no PyArrow needed on the executors, no warning
    conf.set("spark.sql.execution.pythonUDF.arrow.enabled", "false")
    return SparkSession.builder.master(master).appName(app).config(conf=conf).getOrCreate()


class SparkIngestion:
    """The Spark engine's ReadAndParse (`read_and_parse`) and FindStoredCopies
    (`find_stored_copies`) for one load (sources/events/log.py's `ingest_range`), sharing one
    Spark session, which `close` stops. The files are read in `parts` parts (default: the
    session's default parallelism); files of fewer than `min_bytes` in all are read and parsed in
    this process (stage `below the Spark size` says so), and the stored copies are then searched
    for here too: no Spark application is started."""

    def __init__(self, master: str, lake: Path, parts: int | None = None, min_bytes: int = 0):
        self.master, self.lake, self.parts, self.min_bytes = master, lake, parts, min_bytes
        self._spark = None

    def __enter__(self) -> SparkIngestion:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._spark is not None:
            self._spark.stop()
            self._spark = None

    def _session(self):
        if self._spark is None:
            self._spark = spark_session(self.master, "costwatch ingestion")
        return self._spark

    def _staging(self) -> Path:
        """A new folder for this load's files under `<lake>/_ingest/` (removed by the caller),
        after removing what loads killed before their `finally` left there (Parquet parts of
        event lines, ids): this run holds the warehouse for writing, so no other load of the lake
        is under way, and this load's steps remove their folders before the next starts."""
        remove_stale_scratch(self.lake / STAGING, prefix="")
        return self.lake / STAGING / uuid.uuid4().hex

    def read_and_parse(
        self,
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
        plain = [f for f in files if not f.is_otlp]
        if sum(f.size_bytes for f in plain) < self.min_bytes:
            clock.mark(BELOW_SPARK_SIZE)
            read_and_parse_here(con, files, scratch, start, end, limits, bounds, translate, clock)
            return
        # this process: the OpenTelemetry files' lines of the window
        read_and_parse_lines(
            con,
            [f for f in files if f.is_otlp],
            scratch,
            start,
            end,
            limits,
            bounds,
            translate,
            clock,
            other_days=False,
        )
        out = self._staging()
        try:
            if plain:
                with clock.stage("spark tasks"):
                    self._parse_parts(plain, start, end, limits, bounds, out)
                with clock.stage("spark results"):
                    con.execute(
                        "insert into line_days select * from read_parquet("  # noqa: S608
                        f"{literal(str(out / 'line_days' / '*.parquet'))})"
                    )
            with clock.stage("other days' copies"):
                other = scratch / "other-days"
                other.mkdir()
                read_and_parse_other_day_copies(
                    con, files, other, start, end, limits, bounds, translate
                )
            with clock.stage("spark results"):
                if plain:
                    con.execute(
                        "insert into parsed select * from read_parquet("  # noqa: S608
                        f"{literal(str(out / 'parsed' / '*.parquet'))})"
                    )
        finally:
            shutil.rmtree(out, ignore_errors=True)
        # what the writes read of each file (the parts' own maps stayed in their tasks)
        write_file_map(con, [(str(f.path), f, False) for f in files])

    def find_stored_copies(
        self, con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, clock: StageClock
    ) -> None:
        """FindStoredCopies: on Spark when this load's files were read by Spark tasks, else here
        (sources/events/dedup.py)."""
        if self._spark is None:
            find_stored_copies(con, start, end, clock)
            return
        out = self._staging()
        try:
            with clock.stage("spark history search"):
                write_run_ids(con)
                search_history(self._spark, con, self.lake, start, end, out)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def _parse_parts(
        self,
        files: list[EventFile],
        start: dt.date,
        end: dt.date,
        limits: ReadLimits,
        bounds: TsBounds,
        out: Path,
    ) -> None:
        """One Spark task per part of `files`, each writing its Parquet files under `out`."""
        for table in PART_TABLES:
            (out / table).mkdir(parents=True)
        from pyspark.sql.functions import col, udf

        spark = self._session()
        groups = balanced_parts(files, self.parts or spark.sparkContext.defaultParallelism)

        def task(i: int) -> str:
            name = f"part-{i:05d}"
            parse_part(groups[i], start, end, limits, bounds, out, name)
            return name

        # a plain Python UDF (rows pickled, not Arrow: nothing more to install on the executors)
        parse = udf(task, "string").asNondeterministic()
        done = (
            spark.range(0, len(groups), 1, len(groups))  # one part per Spark partition
            .select(col("id"), parse(col("id")).alias("part"))
            .collect()
        )
        came_back = sorted(r.id for r in done)
        if came_back != list(range(len(groups))):
            raise RuntimeError(f"Spark ingestion: parts {came_back} of {len(groups)} came back")


def search_history(
    spark, con: duckdb.DuckDBPyConnection, lake: Path, start: dt.date, end: dt.date, out: Path
) -> None:
    """Temp table `stored_copies` (as sources/events/dedup.py's `find_stored_copies` makes it)
    from a Spark query of the lake's `raw/app_events`, first brought in step with the warehouse
    (sources/spark/source_days.py: only the days that changed are written): the rows of days
    outside [start, end] whose id is one of temp table `run_ids`'s. `out`: a folder of the lake
    for the ids and the answer.

    Matched on the ids alone: unlike DuckDB's search, Spark's gains nothing from the narrow hash
    column (its Parquet UINT64 reads as DECIMAL(20,0)): what each costs is in docs/spark.md,
    the search against DuckDB's in BENCHMARKS.md (benchmarks/history_search.py)."""
    stored = source_folder(lake, "raw", "app_events")
    export_by_day(con, stored, "raw", "app_events")
    out.mkdir(parents=True)
    ids, found = out / "run_ids.parquet", out / "stored_copies"
    con.execute(
        f"copy (select event_id from run_ids) to {literal(str(ids))} (format parquet)"  # noqa: S608
    )
    # the warehouse's TIMESTAMPs (UTC, no zone) read as such and written back unchanged, whatever
    # the session's time zone (Spark's default since 3.4; a user's conf could turn it off)
    spark.conf.set("spark.sql.parquet.inferTimestampNTZ.enabled", "true")
    spark.read.parquet(str(stored)).createOrReplaceTempView("stored_events")
    spark.read.parquet(str(ids)).createOrReplaceTempView("run_ids")
    spark.sql(
        """
        select s.event_id, s.occurred_at, s.source_file, s.line_no, s.event_day
        from stored_events s left semi join run_ids r on s.event_id = r.event_id
        where s.event_day not between :start and :end
        """,
        args={"start": start, "end": end},
    ).write.parquet(str(found))
    con.execute(
        "create or replace temp table stored_copies as "  # noqa: S608
        f"select * from read_parquet({literal(str(found / '*.parquet'))})"
    )
