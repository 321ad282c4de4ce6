"""The Spark engine's ingestion of event files (no Dagster): the files are read and parsed by Spark
tasks, each a part of the files (sources/events/parts.py: the contract's own reader and parser in
a DuckDB of the task, so the quarantine reasons, line numbers and accounting are the ones of the
embedded engine by construction), written as Parquet to a folder of the lake; this process then
finds the copies of an event across parts, deduplicates and writes the raw tables as on DuckDB
(sources/events/log.py).

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
from sources.events.files import EventFile, ReadLimits, Translate
from sources.events.parts import PART_TABLES, balanced_parts, parse_part
from sources.events.reading import (
    ReadAndParse,
    read_and_parse_here,
    read_and_parse_lines,
    read_and_parse_other_day_copies,
    write_file_map,
)
from sources.events.scratch import remove_stale_scratch
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


def read_and_parse_on_spark(
    master: str, lake: Path, parts: int | None = None, min_bytes: int = 0
) -> ReadAndParse:
    """ReadAndParse (sources/events/reading.py) whose files are read and parsed by Spark tasks, in
    `parts` parts (default: the session's default parallelism); files of fewer than `min_bytes`
    in all are read and parsed in this process (stage `below the Spark size` says so)."""

    def run(
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
        if sum(f.size_bytes for f in plain) < min_bytes:
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
        # what loads killed before their `finally` left (Parquet parts of event lines): this run
        # holds the warehouse for writing, so no other load of the lake is under way
        remove_stale_scratch(lake / STAGING, prefix="")
        out = lake / STAGING / uuid.uuid4().hex
        try:
            if plain:
                with clock.stage("spark tasks"):
                    _parse_parts_on_spark(master, plain, start, end, limits, bounds, out, parts)
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

    return run


def _parse_parts_on_spark(
    master: str,
    files: list[EventFile],
    start: dt.date,
    end: dt.date,
    limits: ReadLimits,
    bounds: TsBounds,
    out: Path,
    parts: int | None,
) -> None:
    """One Spark task per part of `files`, each writing its Parquet files under `out`."""
    for table in PART_TABLES:
        (out / table).mkdir(parents=True)
    from pyspark.sql.functions import col, udf

    spark = spark_session(master, "costwatch ingestion")
    try:
        groups = balanced_parts(files, parts or spark.sparkContext.defaultParallelism)

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
    finally:
        spark.stop()
    came_back = sorted(r.id for r in done)
    if came_back != list(range(len(groups))):
        raise RuntimeError(f"Spark ingestion: parts {came_back} of {len(groups)} came back")
