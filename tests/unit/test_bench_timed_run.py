"""The bench's timed `costwatch run` (benchmarks/run.py `timed_run`): a run that fails says so
with its exit code; one that does not end in time is stopped with every process it started."""

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from benchmarks.run import WARM_CODE_NOTE, startup_note, timed_run

# a day no other test runs: the processes left are found by their command line, and another
# test's `costwatch run` (or the dbt it forks, which keeps that command line) must not match.
# A day the CLI accepts (in the past, after the start date below): a run of a day it refuses
# ends in a usage error, which a fast machine reached before the timeout below (a flake).
DAY = dt.date(2021, 1, 7)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))}
    return env | {"COSTWATCH_HOME": str(home), "COSTWATCH_START_DATE": "2021-01-01"}


def _processes_with(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_a_failed_run_raises_with_its_exit_code(tmp_path: Path):
    home = tmp_path / "a-file-not-a-folder"
    home.write_text("")
    with pytest.raises(RuntimeError, match=r"failed \(exit [1-9]"):
        timed_run(_env(home), DAY, DAY, cwd=tmp_path)


def test_a_run_past_its_timeout_is_stopped_with_its_processes(tmp_path: Path):
    home = tmp_path / "home"
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="did not end within 0 s: stopped"):
        timed_run(_env(home), DAY, DAY, cwd=tmp_path, timeout_s=0.3)
    assert time.monotonic() - t0 < 30
    # the whole process group got SIGKILL: the run's processes are gone once the kernel has
    # delivered it (the test's own command line does not hold the day)
    deadline = time.monotonic() + 10
    while (left := _processes_with(f"--start{chr(0)}{DAY}")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def test_the_page_says_how_each_tables_daily_runs_started():
    """Warmed code (`warm_code`, which `make bench` runs before each measured daily run) only
    when every result of the table recorded it; results from before say they started cold."""
    warmed, older = {"cold_startup_s": {"definitions_s": 5.3, "dbt_s": 5.9}}, {}
    assert startup_note([warmed, warmed]) == [WARM_CODE_NOTE, ""]
    assert startup_note([warmed, older])[0].startswith(
        "These daily runs started with the code cold"
    )
