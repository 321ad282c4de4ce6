"""Processes on this machine, read from /proc (no Dagster): whether one runs, what runs below it,
what is left of a process group; and stopping groups so that nothing of them is left running
(`costwatch ui`'s services, killed runs in the tests, the Spark tests' daemons)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def process_alive(pid: int) -> bool:
    """A process with this id exists (perhaps a zombie: see `running`)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _stat(stat: Path) -> list[str] | None:
    """The fields of a /proc/<pid>/stat after the command name (state, ppid, pgrp, ...), or None
    for a process that exited while we looked. The name may hold spaces and parentheses."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, stat fields) of every process, from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        if (fields := _stat(stat)) is not None:
            yield int(stat.parent.name), fields


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for child, fields in _processes():
        parents.setdefault(int(fields[1]), []).append(child)
    out: list[int] = []
    todo = list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(parents.get(child, []))
    return out


def _exited(pid: int, state: str) -> bool:
    """Every thread of the process has ended. /proc shows a process as a zombie ("Z") once its
    main thread has ended, while its other threads may still be exiting with its files open (a
    killed dbt build's worker thread, holding the warehouse's lock): those are its tasks."""
    if state != "Z":
        return False
    tasks = (_stat(task) for task in Path(f"/proc/{pid}/task").glob("[0-9]*/stat"))
    return all(fields is None or fields[0] in ("Z", "X") for fields in tasks)


def running(pid: int) -> bool:
    """Alive and not exited (a zombie whose threads have all ended has exited; its parent has not
    collected it yet)."""
    if not process_alive(pid):
        return False
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return fields is not None and not _exited(pid, fields[0])


def group_members(pgid: int) -> list[int]:
    """The processes of process group `pgid` that have not exited, from /proc."""
    return [
        pid
        for pid, fields in _processes()
        if int(fields[2]) == pgid and not _exited(pid, fields[0])
    ]


def _wait_group(leader: subprocess.Popen, deadline: float) -> list[int]:
    """Wait until the leader is collected and no member of its group is left, or `deadline`
    (time.monotonic()) passes; returns the members still there."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        leader.wait(timeout=max(0.0, deadline - time.monotonic()))
    while (alive := group_members(leader.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def kill_group(leader: subprocess.Popen, timeout: float = 60) -> None:
    """SIGKILL the process group `leader` started (`start_new_session=True`) and wait until every
    process of it has exited, not only the leader: a child still dying (a dbt build) holds the
    warehouse's lock for a moment after the leader has been collected."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGKILL)
    if alive := _wait_group(leader, time.monotonic() + timeout):
        raise RuntimeError(f"processes {alive} outlived SIGKILL for {timeout:.0f} s")


def stop_groups(leaders: list[subprocess.Popen], grace: float = 30) -> None:
    """SIGTERM the process group each of `leaders` started (`start_new_session=True`); a group
    with members left after `grace` seconds is killed (`kill_group`). Returns once nothing of
    any group runs: a JVM the leader started may still be shutting down when the leader is gone."""
    for leader in leaders:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for leader in leaders:
        if _wait_group(leader, deadline):
            kill_group(leader)
