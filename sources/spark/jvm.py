"""Spark's JVM in a Costwatch process. pyspark launches one JVM per Python process (its gateway)
and keeps it after the session stops; this module is the one place that reads or resets
pyspark's private names for it (tests/unit/test_dbt_process.py starts a real one)."""

from __future__ import annotations

import subprocess
import sys


def jvm_running() -> bool:
    """This process has launched Spark's JVM (or holds a Spark context), and it is still there."""
    spark = sys.modules.get("pyspark")
    return spark is not None and bool(
        getattr(spark.SparkContext, "_gateway", None)
        or getattr(spark.SparkContext, "_active_spark_context", None)
    )


def stop_jvm(timeout: float = 60) -> bool:
    """Stop the JVM this process launched for Spark (its session, if one is left, first), so that
    the rest of the run does not carry it: a JVM of the driver's memory, idle through the dbt
    build, and a process dbt could not be forked from. The next session launches a new one.
    A JVM this process did not launch (pyspark started under spark-submit) is left alone.
    Returns whether a JVM was stopped."""
    if "pyspark" not in sys.modules:
        return False
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    proc: subprocess.Popen | None = getattr(gateway, "proc", None)
    if gateway is None or proc is None:
        return False
    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    gateway.shutdown()  # its connections and callback server, on this side
    SparkContext._gateway = None
    SparkContext._jvm = None
    if proc.stdin is not None:
        proc.stdin.close()  # pyspark's gateway JVM exits when its standard input closes
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
    return True
