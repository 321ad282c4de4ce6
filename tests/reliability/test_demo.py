"""`costwatch demo` end to end as a user runs it (the real command, in a fresh home):

- the Dagster daemon's tick of the budget sensor that raised the demo's alerts is in the instance
  (what the UI's sensor page shows), and it agrees with marts.budget_alerts and the webhook;
- no secret (admin keys, the PII key, the webhook URL's token) appears in its output, logs, the
  Dagster instance (event log, run metadata), the warehouse, the analysts' copy or the report.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sources import settings
from tests.conftest import relations_holding_each
from tests.unit.test_alerts import Receiver

pytestmark = pytest.mark.slow

PII_KEY = "pii-key-RECOGNISABLE-7f3a9c"
WEBHOOK_TOKEN = "T0WEBHOOK-RECOGNISABLE-b41d"
# The demo always talks to its own fake providers with these keys, whatever the environment has.
DEMO_KEYS = ("demo-openai-admin-key", "demo-anthropic-admin-key")
SECRETS = (*DEMO_KEYS, PII_KEY, WEBHOOK_TOKEN)


def _run_demo(home: Path):
    receiver = Receiver()
    url = receiver.url.replace("/hook", f"/services/{WEBHOOK_TOKEN}")
    cleared = {k: None for k in os.environ if k.startswith(("COSTWATCH_", "DAGSTER_"))}
    env_vars = {
        **cleared,
        "COSTWATCH_HOME": str(home),
        "COSTWATCH_PII_KEY": PII_KEY,
        "COSTWATCH_ALERT_WEBHOOK_URL": url,
    }
    with settings.temporary_env(env_vars):
        env = dict(os.environ)
    costwatch = str(Path(sys.executable).parent / "costwatch")
    proc = subprocess.run(
        [costwatch, "demo"],  # the default demo, of which the README speaks
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    receiver.shutdown()
    receiver.server_close()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return home, env_vars, proc, receiver


def _demo_env(env_vars: dict) -> dict:
    with settings.temporary_env(env_vars):
        return dict(os.environ)


def test_demo_end_to_end(tmp_path):
    """One demo run (it takes a minute), two checks."""
    home, env_vars, proc, receiver = _run_demo(tmp_path)
    # README: two checks fail on purpose "and nothing else fails"
    failed = {
        ln.strip() for ln in proc.stdout.splitlines() if ln.strip().startswith("failed check:")
    }
    assert failed == {
        "failed check: marts/parity_daily:token_parity (error)",
        "failed check: marts/cost_breakdown:llm_calls_priced (warn)",
    }, proc.stdout[-3000:]
    # the result is not buried (issue 22): a line per stage, dbt's node lines in the logs only
    lines = proc.stdout.splitlines()
    summary = next(i for i, ln in enumerate(lines) if ln.startswith("Warehouse (written"))
    assert summary <= 40, "\n".join(lines[:summary])
    assert not [ln for ln in lines if " START " in ln or "PASS " in ln]
    bars = [ln for ln in lines[:summary] if "dbt models and tests [" in ln]
    done, total = bars[0].rsplit(" ", 1)[1].split("/")
    assert done == total == str(_dbt_nodes())  # every node of the first run, none failed
    logs = sorted((home / "logs").glob("run-*.log"))
    assert len(logs) == 2 and f" of {total} START " in logs[0].read_text()
    # every command the demo suggests works as printed (issue 22)
    (suggested,) = [ln.strip()[len("e.g. ") :] for ln in proc.stdout.splitlines() if "e.g. " in ln]
    ran = subprocess.run(
        suggested,
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path.parent,
        env=_demo_env(env_vars),  # the shell the demo ran in
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0].split() == ["day", "total_cost_usd", "session_count"]
    _the_daemon_tick_that_raised_the_alerts_is_recorded(home, env_vars, receiver)
    _no_secret_anywhere(home, proc)


def _the_daemon_tick_that_raised_the_alerts_is_recorded(home, env_vars, receiver):
    from orchestration.demo import sensor_ticks

    with settings.temporary_env(env_vars):
        settings.apply()
        ticks = sensor_ticks("budget_alerts", after=0.0)
    assert len(ticks) == 1
    summary = json.loads(ticks[0].skip_reason)
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as con:
        alerts, delivered = con.execute(
            "select count(*), count(*) filter (where delivered) from marts.budget_alerts"
        ).fetchall()[0]
    assert summary["new_alerts"] == alerts == delivered == len(receiver.received) > 0
    blocked = json.loads((home / "blocklist.json").read_text())["blocked"]
    assert summary["blocked_scopes"] == len(blocked) > 0


def _no_secret_anywhere(home: Path, proc: subprocess.CompletedProcess):
    leaks = []
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.name == "runs.db" for p in files)
    leaks += [f"demo output: {s}" for s in SECRETS if s in proc.stdout or s in proc.stderr]
    for path in files:  # each file read once, for every secret
        if path.suffix == ".duckdb" and not path.name.endswith(".tmp"):
            found = relations_holding_each(path, list(SECRETS), views=True)
            leaks += [f"{path.name}:{t}: {s}" for s in SECRETS for t in found[s]]
        elif path.suffix == ".parquet":  # compressed: its values, decoded
            with duckdb.connect() as con:
                text = (
                    con.execute(
                        "select string_agg(t::VARCHAR, chr(10)) from read_parquet(?) t", [str(path)]
                    ).fetchall()[0][0]
                    or ""
                )
            leaks += [f"{path.relative_to(home)}: {s}" for s in SECRETS if s in text]
        else:
            data = path.read_bytes()
            leaks += [f"{path.relative_to(home)}: {s}" for s in SECRETS if s.encode() in data]
    assert leaks == []


def _dbt_nodes() -> int:
    """The models, snapshots and data tests of the dbt project (the daily build's nodes)."""
    manifest = json.loads((settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    kinds = ("model", "snapshot", "test")
    return sum(1 for n in manifest["nodes"].values() if n["resource_type"] in kinds)
