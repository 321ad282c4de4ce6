"""`kill_group`: nothing of a killed process group is left running when it returns, whatever the
leader did (a `costwatch run` killed mid-build leaves a dbt child that holds the warehouse's lock
until it has exited)."""

import os
import signal
import subprocess
import time

from orchestration.services import group_members, kill_group


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
