"""The tests' Spark JVMs compile with C1 only (`QUICK_JVM`), and keep the code cache of Java's
tiered default: with C1 alone the JVM picks a client VM's 48 MB, which a Spark driver fills, and
its sweeper then flushes compiled methods that C1 compiles again (twice the JVM's CPU, measured
in docs/spark.md)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sources.spark.cluster import QUICK_JVM

TIERED_DEFAULT_CODE_CACHE = 240 * 1024 * 1024  # Java 17's ReservedCodeCacheSize, tiered


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if java is None:
        pytest.fail("no java: `make install` installs OpenJDK (the Spark tests need it)")
    return java


def _flags(*options: str) -> dict[str, str]:
    done = subprocess.run(
        [_java(), *options, "-XX:+PrintFlagsFinal", "-version"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    flags = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "=":
            flags[parts[1]] = parts[3]
    return flags


def test_the_quick_jvm_compiles_with_c1_only_and_keeps_the_tiered_code_cache():
    flags = _flags(*QUICK_JVM.split())
    assert flags["TieredStopAtLevel"] == "1"
    assert int(flags["ReservedCodeCacheSize"]) >= TIERED_DEFAULT_CODE_CACHE
    assert flags["UseCodeCacheFlushing"] == "true"  # still flushed when full, as by default
    # what C1 alone picks, and why the option is there
    assert int(_flags("-XX:TieredStopAtLevel=1")["ReservedCodeCacheSize"]) < (
        TIERED_DEFAULT_CODE_CACHE
    )
