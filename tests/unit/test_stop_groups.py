"""`stop_groups` (sources/processes.py; the Spark tests' cluster and metastore): every process of
each group goes, a group that ignores SIGTERM by SIGKILL after the grace, and a group already
gone is no error."""

import subprocess

from sources.processes import group_members, running, stop_groups


def _group(script: str) -> tuple[subprocess.Popen, int]:
    """A shell leading a group of its own with a child; (the shell, the child's pid)."""
    proc = subprocess.Popen(
        ["sh", "-c", f"{script} & echo $!; wait"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return proc, int(proc.stdout.readline())


def test_every_process_of_each_group_stops_one_ignoring_sigterm_by_sigkill():
    polite, polite_child = _group("sleep 300")
    stubborn, stubborn_child = _group("trap '' TERM; sleep 300")
    # (each shell printed its child's pid after its trap: ignoring SIGTERM before it comes)
    gone = subprocess.Popen(["true"], start_new_session=True)
    gone.wait()
    stop_groups([polite, stubborn, gone], grace=3)  # loaded CI: seconds
    assert (polite.returncode, stubborn.returncode) == (-15, -9)  # SIGTERM; SIGKILL after 3 s
    # nothing left once it returns, not only the leaders collected
    assert not running(polite_child) and not running(stubborn_child)
    assert group_members(polite.pid) == group_members(stubborn.pid) == []
    for leader in (polite, stubborn):
        leader.stdout.close()
