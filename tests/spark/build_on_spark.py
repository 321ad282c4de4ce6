"""Build the dbt project on Spark over a DuckDB warehouse's raw tables (a subprocess of
tests/spark/test_dbt_on_spark.py: Spark's JVM and its Derby catalog stay out of the test process).

usage: build_on_spark.py WAREHOUSE LAKE DAY
1. every raw.* table of WAREHOUSE written as Parquet under LAKE/raw/<table> and declared as a Spark
   table over it, in the catalog the dbt profile's `spark` target uses;
2. `dbt build` of every model and snapshot with that target;
3. `dbt run` again with the window set to DAY (the incremental path: DAY's partitions dropped,
   then appended). One Spark session serves all three (dbt-spark reuses the process's session).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
from dbt.cli.main import dbtRunner
from pyspark.sql import SparkSession

DBT = Path(__file__).resolve().parents[2] / "dbt_project"


def main() -> None:
    warehouse, lake, day = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    os.environ["COSTWATCH_LAKE"] = str(lake)
    os.environ.setdefault("COSTWATCH_SPARK_MASTER", "local[2]")
    con = duckdb.connect(warehouse, read_only=True)
    tables = [
        t
        for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    ]
    for t in tables:
        folder = lake / "raw" / t
        folder.mkdir(parents=True)
        con.execute(f"copy raw.{t} to '{folder}/part-0.parquet' (format parquet)")
    con.close()
    spark = (
        SparkSession.builder.master(os.environ["COSTWATCH_SPARK_MASTER"])
        .enableHiveSupport()
        .config("spark.sql.warehouse.dir", f"{lake}/warehouse")
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={lake}/metastore_db;create=true",
        )
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sql("create database if not exists raw")
    for t in tables:
        spark.sql(f"create table raw.{t} using parquet location '{lake}/raw/{t}'")
    # its own target and log folders: the DuckDB pipeline's manifest is never touched
    common = ["--project-dir", str(DBT), "--profiles-dir", str(DBT), "--target", "spark",
              "--target-path", str(lake / "target"), "--log-path", str(lake / "logs")]  # fmt: skip
    # models and snapshots in DAG order; the data and unit tests (all 124 pass on Spark, run by
    # hand: docs/spark.md) are left to the DuckDB pipeline here, for the suite's time budget
    build = dbtRunner().invoke(
        ["build", *common, "--exclude", "resource_type:test", "resource_type:unit_test"]
    )
    if not build.success:
        raise SystemExit(f"dbt build on Spark failed: {build.exception or build.result}")
    os.environ["COSTWATCH_WINDOW_START"] = os.environ["COSTWATCH_WINDOW_END"] = day
    rerun = dbtRunner().invoke(["run", *common])
    if not rerun.success:
        raise SystemExit(f"dbt run of {day} on Spark failed: {rerun.exception or rerun.result}")


if __name__ == "__main__":
    main()
