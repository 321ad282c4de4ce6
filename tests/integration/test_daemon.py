"""The budget sensor through the real Dagster daemon: alerts arrive at a local webhook."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sources import settings
from tests.unit.test_alerts import Receiver, publish

pytestmark = [pytest.mark.xdist_group("standalone"), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_daemon_ticks_the_budget_sensor_and_alerts_arrive(tmp_path):
    receiver = Receiver()
    env_vars = {
        "COSTWATCH_HOME": str(tmp_path),
        "COSTWATCH_ALERT_WEBHOOK_URL": receiver.url,
        "DAGSTER_HOME": None,
        "COSTWATCH_PUBLISHED": None,
        "COSTWATCH_EVENTS_DIR": None,
        "COSTWATCH_WAREHOUSE": None,
    }
    with settings.temporary_env(env_vars):
        settings.apply()  # instance folder and its dagster.yaml
        env = dict(os.environ)
    (tmp_path / "events").mkdir()
    publish(tmp_path, "101")
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-daemon"),
            "run",
            "-w",
            str(REPO / "workspace.yaml"),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while len(receiver.received) < 4 and time.monotonic() < deadline:
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(1)
        texts = [m["blocks"][0]["text"]["text"] for m in receiver.received]
        assert texts == [f"Budget org-monthly crossed {t}%" for t in (50, 80, 90, 100)]
        assert (tmp_path / "blocklist.json").exists()
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)  # daemons may inherit an ignored SIGTERM
        daemon.wait(timeout=30)
        log.close()
        receiver.shutdown()
        receiver.server_close()
