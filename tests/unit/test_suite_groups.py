"""`make test` runs on two xdist workers with `--dist loadgroup`: the tests of one xdist_group
(one built warehouse, one Spark cluster, one PostgreSQL) must run on one worker, or each worker
builds the shared fixture again. pytest 9.2 with pytest-xdist 3.8 silently stopped grouping
(pytest-dev/pytest-xdist#1386); the lock pins pytest below 9.2."""

import subprocess
import sys
from pathlib import Path

GROUPED = """
import os, pytest
pytestmark = pytest.mark.xdist_group("shared")

@pytest.mark.parametrize("i", range(8))
def test_one_of_a_group(i):
    with open(os.environ["WORKERS_SEEN"], "a") as seen:
        seen.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


def test_the_installed_pytest_and_xdist_keep_a_group_on_one_worker(tmp_path: Path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    seen = tmp_path / "workers.txt"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2",
         "--dist", "loadgroup", "test_grouped.py"],
        cwd=tmp_path, env={"WORKERS_SEEN": str(seen), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    workers = seen.read_text().split()
    assert len(workers) == 8
    assert len(set(workers)) == 1, workers
