"""`costwatch ui` leaves no orphans (issue 15, item 14): SIGTERM, or SIGINT to a `costwatch ui`
started in the background (which inherits an ignored SIGINT), stops the webserver, the daemon and
the code servers it started within 30 s."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sources.processes import descendants, running
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `costwatch ui &` gets from a script


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_process_costwatch_ui_started(tmp_path, sig):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))}
    env["COSTWATCH_HOME"] = str(tmp_path)
    ui = subprocess.Popen(
        [str(Path(sys.executable).parent / "costwatch"), "ui", "--port", str(port)],
        env=env,
        stdout=(tmp_path / "ui.log").open("w"),
        stderr=subprocess.STDOUT,
        preexec_fn=_ignore_sigint,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise AssertionError((tmp_path / "ui.log").read_text()[-3000:])
        time.sleep(3)  # the daemon and its code server start after the webserver answers
        started = descendants(ui.pid)
        assert len(started) >= 3, started  # dagster dev, webserver, daemon (+ code servers)
        ui.send_signal(sig)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30 and [p for p in [ui.pid, *started] if running(p)]:
            time.sleep(0.2)
        assert [p for p in [ui.pid, *started] if running(p)] == []
        assert ui.wait(timeout=5) == 0
    finally:
        for p in [ui.pid, *descendants(ui.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
