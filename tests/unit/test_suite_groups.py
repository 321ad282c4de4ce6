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


LEAKING = """
import os, pytest

@pytest.fixture(scope="session")
def admin_key():
    os.environ["OPENAI_ADMIN_KEY"] = "set-for-the-whole-session"
    yield
    del os.environ["OPENAI_ADMIN_KEY"]

def test_sets_and_restores_with_monkeypatch(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "for-this-test-only")

def test_uses_a_session_fixture_that_sets_a_key(admin_key):
    pass
"""


def test_a_variable_left_changed_after_a_test_is_an_error(tmp_path: Path):
    """tests/conftest.py fails the test after which a provider key, a base URL or a COSTWATCH_
    variable stays changed: a session fixture once left an admin key set for every later test of
    its worker."""
    (tmp_path / "test_leaking.py").write_text(LEAKING)
    repo = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.conftest", "-q",
         "--rootdir", str(tmp_path), "test_leaking.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = done.stdout
    assert "2 passed, 1 error" in out, out[-3000:]  # monkeypatch's change is restored in time
    assert "ERROR at teardown of test_uses_a_session_fixture_that_sets_a_key" in out, out[-3000:]
    assert "['OPENAI_ADMIN_KEY'] changed in os.environ and not restored" in out, out[-3000:]
