"""Long-running services started by `costwatch`: `costwatch ui` (one person: `dagster dev`) and
`costwatch serve webserver|daemon|code-server` (a team: one long-lived process each, on shared
instance storage). Each stops with its whole process tree on SIGINT/SIGTERM.
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

from orchestration.runs import UsageError, open_instance
from sources import settings
from sources.processes import descendants, running


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
SERVICES = {"webserver": 3000, "daemon": None, "code-server": 4266}  # service -> default port
LOCATION = "orchestration.definitions"  # the code location's name, whichever way it is loaded


def workspace_file(s: settings.Settings) -> Path:
    """The workspace the webserver and the daemon load: the repo's (each starts the code location
    itself) or, with COSTWATCH_CODE_SERVER set, one that points at that code server over gRPC."""
    if not s.code_server:
        return settings.REPO_ROOT / "workspace.yaml"
    host, port = s.code_server.rsplit(":", 1)
    path = s.dagster_home / "workspace-grpc.yaml"
    path.write_text(
        "# written by costwatch: the code location is `costwatch serve code-server` at "
        f"{s.code_server}\nload_from:\n  - grpc_server:\n      host: {host}\n"
        f"      port: {port}\n      location_name: {LOCATION}\n"
    )
    return path


def service_command(service: str, host: str, port: int | None, s: settings.Settings) -> list[str]:
    """The Dagster command line of one service, with the shipped instance and workspace."""
    bin_dir = Path(sys.executable).parent
    if service == "webserver":
        workspace = str(workspace_file(s))
        return [str(bin_dir / "dagster-webserver"), "-h", host, "-p", str(port), "-w", workspace]
    if service == "daemon":
        return [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace_file(s))]
    return [
        str(bin_dir / "dagster"), "code-server", "start", "-h", host, "-p", str(port),
        "-m", LOCATION, "-d", str(settings.REPO_ROOT), "--location-name", LOCATION,
    ]  # fmt: skip


# Dagster's daemon writes a heartbeat every 30 s; one younger than this is a daemon still running
DAEMON_ALIVE_S = 75


def running_daemon(instance, now: float | None = None) -> str | None:
    """The id of a daemon that is sending heartbeats to `instance`, if any."""
    now = time.time() if now is None else now
    beats = instance.get_daemon_heartbeats().values()
    alive = sorted(
        (b for b in beats if now - b.timestamp < DAEMON_ALIVE_S), key=lambda b: b.timestamp
    )
    return alive[-1].daemon_id if alive else None


def cmd_serve(args: argparse.Namespace) -> int:
    s = settings.apply()
    port = args.port or SERVICES[args.service]
    cmd = service_command(args.service, args.host, port, s)
    with open_instance() as instance:  # create or migrate the storage before the services race to
        other = running_daemon(instance) if args.service == "daemon" else None
    if other is not None:
        raise UsageError(
            f"another Dagster daemon ({other}) is running on this instance: one daemon per "
            "instance is supported (two would tick every sensor and schedule twice). Stop it "
            f"first; if it has just stopped, retry in {DAEMON_ALIVE_S} s."
        )
    where = f" on {args.host}:{port}" if port else ""
    print(f"costwatch serve {args.service}{where} (SIGTERM or Ctrl-C stops it)", flush=True)
    code = run_service(cmd)
    if args.service == "daemon":
        with open_instance() as instance:  # stopped: a new daemon may start at once
            instance.wipe_daemon_heartbeats()
    return code


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


def _stop_tree(pid: int) -> None:
    """SIGTERM to `pid` and every descendant, then SIGKILL to the survivors."""
    tree = [pid, *descendants(pid)]
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        tree = [p for p in {*tree, *descendants(pid)} if running(p)]
        if not tree:
            return
        time.sleep(0.2)
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
