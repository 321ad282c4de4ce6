"""Long-running services started by `costwatch` (the UI's webserver and daemon): started in their
own process group, stopped with their whole process tree on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestration.runs import open_instance
from sources import settings


def cmd_ui(args: argparse.Namespace) -> int:
    settings.apply()
    cmd = [
        str(Path(sys.executable).parent / "dagster"),
        "dev",
        "-w",
        str(settings.REPO_ROOT / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    with open_instance():  # create the storage once, before several processes race to
        pass
    print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    return run_service(cmd)


STOP_GRACE_S = 20


def run_service(cmd: list[str]) -> int:
    """Run a long-lived Dagster process tree until it ends or this process is told to stop.

    SIGTERM, SIGINT and SIGHUP to this process stop every process it started, however deep
    (`dagster dev` starts a webserver, a daemon and code servers): SIGTERM to each, then SIGKILL
    to what is left after STOP_GRACE_S. The child gets default signal handling back, since a
    command started in the background inherits an ignored SIGINT.
    """
    proc = subprocess.Popen(
        cmd,
        cwd=settings.REPO_ROOT,
        env=os.environ.copy(),
        preexec_fn=_default_signals,
    )
    stopping: list[int] = []

    def stop(signum: int, _frame) -> None:
        stopping.append(signum)
        _stop_tree(proc.pid)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    try:
        code = proc.wait()
    finally:
        _stop_tree(proc.pid)
    return 0 if stopping else code


def _default_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out: list[int] = []
    todo = list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(parents.get(child, []))
    return out


def _stop_tree(pid: int) -> None:
    """SIGTERM to `pid` and every descendant, then SIGKILL to the survivors."""
    from orchestration.run_launcher import process_alive

    tree = [pid, *descendants(pid)]
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        tree = [p for p in {*tree, *descendants(pid)} if process_alive(p) and not _zombie(p)]
        if not tree:
            return
        time.sleep(0.2)
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
