"""`kill_group`: nothing of a killed process group is left running when it returns, whatever the
leader did (a `costwatch run` killed mid-build leaves a dbt child that holds the warehouse's lock
until it has exited)."""

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sources.processes import group_members, kill_group, running


def _group(script: str) -> subprocess.Popen:
    proc = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    deadline = time.monotonic() + 10
    while len(group_members(proc.pid)) < 2:  # the leader and its child
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.01)
    return proc


def test_the_children_of_a_running_leader_are_gone_when_it_returns():
    proc = _group("sleep 600 & sleep 600")
    kill_group(proc)
    assert group_members(proc.pid) == []


def test_the_children_of_a_leader_that_already_exited_are_killed_too():
    proc = _group("sleep 600 & sleep 600")
    os.kill(proc.pid, signal.SIGKILL)  # the leader alone
    proc.wait(timeout=10)
    assert group_members(proc.pid) != []  # the orphaned child is still in the group
    kill_group(proc)
    assert group_members(proc.pid) == []


def test_a_group_already_gone_is_not_an_error():
    proc = subprocess.Popen(["true"], start_new_session=True)
    proc.wait(timeout=10)
    kill_group(proc)
    assert group_members(proc.pid) == []


# SYS_exit ends the calling thread alone (exit_group would end the process)
SYS_EXIT = {"x86_64": 60, "aarch64": 93}


def test_a_process_whose_main_thread_ended_while_another_runs_is_still_a_member(tmp_path):
    """A process killed while multi-threaded (a dbt build: its worker thread, DuckDB's threads)
    shows as a zombie as soon as its main thread is gone, while its other threads still exit and
    its files (the warehouse's lock) are still open: it is a member until every thread is gone."""
    locked = tmp_path / "warehouse.lock"
    script = (
        "import ctypes, fcntl, platform, sys, threading, time\n"
        "held = open(sys.argv[1], 'w')\n"
        "fcntl.lockf(held, fcntl.LOCK_EX)\n"
        "threading.Thread(target=time.sleep, args=(600,)).start()\n"
        f"ctypes.CDLL(None).syscall({SYS_EXIT}[platform.machine()], 0)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(locked)], start_new_session=True)
    stat = Path(f"/proc/{proc.pid}/stat")
    deadline = time.monotonic() + 10
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":  # the main thread has ended
        assert time.monotonic() < deadline, "the main thread never ended"
        time.sleep(0.01)
    assert group_members(proc.pid) == [proc.pid]
    assert running(proc.pid)
    with locked.open("w") as mine, pytest.raises(OSError):  # its lock is still held
        fcntl.lockf(mine, fcntl.LOCK_EX | fcntl.LOCK_NB)
    kill_group(proc)
    assert group_members(proc.pid) == []
    with locked.open("w") as mine:
        fcntl.lockf(mine, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once kill_group has returned
