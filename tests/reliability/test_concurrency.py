"""Two `costwatch run` processes at once on one warehouse: the second waits, neither fails."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from sources import settings
from tests.conftest import COSTWATCH_VARS, make_home

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_two_runs_at_once_both_succeed(tmp_path):
    home = make_home(tmp_path / "home", days=2, users=6)
    with settings.temporary_env(
        {**dict.fromkeys(COSTWATCH_VARS), "COSTWATCH_HOME": str(home.root)}
    ):
        settings.apply()
        env = dict(os.environ)
    costwatch = str(Path(sys.executable).parent / "costwatch")
    procs = [
        subprocess.Popen(
            [costwatch, "run", "--start", str(day), "--end", str(day)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for day in home.days
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    assert not any("Could not set lock" in o or "Conflicting lock" in o for o in outputs)
    days = home.query("select distinct event_day from raw.app_events order by 1")
    assert [d for (d,) in days] == home.days
    # each `costwatch run` forked its dbt from its own process (sources/dbt_process.py)
    with home.active(), dg.DagsterInstance.get() as instance:
        started = [
            r.user_message
            for run in instance.get_runs()
            for r in instance.all_logs(run.run_id)
            if r.user_message.startswith(("dbt forked", "dbt started"))
        ]
    assert started == ["dbt forked from the run's process"] * 2
