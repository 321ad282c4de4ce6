"""`costwatch demo`: sample logs and provider reports, the main job on them, and one real tick
of the budget sensor by the Dagster daemon.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from orchestration.runs import DEFAULT_CHUNK_DAYS, RunOutcome, open_instance, run_range
from sources import settings
from sources.processes import kill_group

DEMO_MARKER = ".costwatch-demo"


def _prepare_demo_events(s: settings.Settings) -> Path:
    root = s.events_dir
    if root.exists() and any(root.iterdir()) and not (root / DEMO_MARKER).exists():
        raise SystemExit(
            f"{root} holds event logs that the demo did not write; refusing to replace them. "
            "Point COSTWATCH_HOME (or COSTWATCH_EVENTS_DIR) at an empty folder for the demo."
        )
    return root


def cmd_demo(args: argparse.Namespace) -> int:
    from sources.demo import sample_data
    from sources.demo.fake_provider import fake_providers
    from sources.demo.provider_sample import provider_reports

    # The sample days are fixed; keep them inside the retention window however old they get.
    age = (dt.datetime.now(dt.UTC).date() - sample_data.DEMO_START).days
    retention = max(settings.resolve().retention_days, age + 31)
    os.environ[settings.ENV["retention_days"]] = str(retention)
    s = settings.apply()
    root = _prepare_demo_events(s)
    ledger = sample_data.generate(root, sample_data.DEMO_START, args.days, args.users)
    (root / DEMO_MARKER).write_text("written by `costwatch demo`; safe to delete\n")
    first, last = ledger.day_list[0], ledger.day_list[-1]
    print(
        f"Wrote {len(ledger.lines)} sample lines ({len(ledger.events)} events) for "
        f"{first}..{last} under {root}",
        flush=True,
    )
    with fake_providers(provider_reports(ledger)) as server:
        print(f"Serving sample provider reports on {server.base_url}", flush=True)
        outcomes = run_range(first, last, DEFAULT_CHUNK_DAYS)
    ok = all(o.success for o in outcomes)
    if ok:
        outcomes += _demo_budget_alerts(first, last)
        ok = all(o.success for o in outcomes)
    print()
    print(f"Warehouse (written by runs only): {s.warehouse}")
    print(f"Analysts' read-only copy:         {s.published}")
    print(f"  e.g. {sql_hint(s)}")
    print(f"Report:                           {s.report}")
    print(
        f"Budget alerts log / block list:   {s.alerts_dir / 'alerts.jsonl'} / "
        f"{s.home / 'blocklist.json'}"
    )
    print(f"Dagster instance:                 {s.dagster_home}  (open it with `costwatch ui`)")
    print(f"Full logs:                        {s.home / 'logs'}")
    costwatch = Path(sys.executable).parent / "costwatch"
    print()
    print("Next:")
    print(
        f"  1. The UI: COSTWATCH_HOME={s.home} {costwatch} ui, then http://127.0.0.1:3000: "
        "Assets -> marts/parity_daily -> Checks (token_parity fails on purpose)"
    )
    print(f"  2. A query: {sql_hint(s)}")
    print(f"  3. The report: {s.report.as_uri()}")
    return 0 if ok else 1


DAEMON_TICK_TIMEOUT_S = 180


def _demo_budget_alerts(first: dt.date, last: dt.date) -> list[RunOutcome]:
    """Let the Dagster daemon tick the budget sensor on the demo's build, then load its alerts.

    The tick is a real one, recorded in the instance, so `costwatch ui` shows the sensor tick
    that raised the demo's alerts. (The `new_event_files` sensor ticks too and finds nothing: the
    demo's files were all read by its run.)
    """
    import dagster as dg

    s = settings.resolve()
    started = time.time()
    tick = _daemon_tick("budget_alerts", started, s.home / "logs" / "demo-daemon.log")
    if tick is None:
        from orchestration.sensors import evaluate_budgets

        print(
            f"The Dagster daemon did not tick the budget sensor within {DAEMON_TICK_TIMEOUT_S} s "
            f"(see {s.home / 'logs' / 'demo-daemon.log'}); evaluating it in this process instead.",
            flush=True,
        )
        summary = evaluate_budgets(None)[1]
    else:
        summary = json.loads(tick.skip_reason or "{}")
    print(
        f"Budget sensor: {summary.get('new_alerts', 0)} alerts raised "
        f"({summary.get('delivered', 0)} delivered; set COSTWATCH_ALERT_WEBHOOK_URL to send "
        f"them), {summary.get('blocked_scopes', 0)} scopes on the block list",
        flush=True,
    )
    keys = [
        ["raw", "budgets"],
        ["raw", "budget_alerts"],
        ["marts", "budget_alerts"],
        ["published", "analytics_warehouse"],
        ["published", "html_report"],
    ]
    return run_range(first, last, DEFAULT_CHUNK_DAYS, [dg.AssetKey(k) for k in keys])


def sensor_ticks(sensor_name: str, after: float) -> list:
    """Finished ticks of a sensor recorded in the instance since `after` (epoch seconds)."""
    from assets.internals import InstigatorType, TickStatus

    done = (TickStatus.SKIPPED, TickStatus.SUCCESS, TickStatus.FAILURE)
    with open_instance() as instance:
        ticks = []
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if state.instigator_name != sensor_name:
                continue
            found = instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after)
            ticks.extend(t for t in found if t.status in done)
    return sorted(ticks, key=lambda t: t.timestamp)


def _daemon_tick(sensor_name: str, after: float, log_path: Path):
    """Run `dagster-daemon` until it has recorded a finished tick of `sensor_name`; that tick."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    daemon = [str(Path(sys.executable).parent / "dagster-daemon"), "run"]
    print(f"Starting the Dagster daemon until it ticks the {sensor_name} sensor...", flush=True)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*daemon, "-w", str(settings.REPO_ROOT / "workspace.yaml")],
            cwd=settings.REPO_ROOT,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + DAEMON_TICK_TIMEOUT_S
            while time.monotonic() < deadline and proc.poll() is None:
                ticks = sensor_ticks(sensor_name, after)
                if ticks:
                    return ticks[0]
                time.sleep(1)
            return None
        finally:
            # The daemon's children may ignore SIGTERM; the tick is already stored.
            kill_group(proc)


DEMO_QUERY = "select day, total_cost_usd, session_count from marts.daily_totals order by day"


def sql_hint(s: settings.Settings) -> str:
    """A `costwatch sql` command line that works as printed, from any folder."""
    costwatch = Path(sys.executable).parent / "costwatch"
    return f'COSTWATCH_HOME={s.home} {costwatch} sql "{DEMO_QUERY}"'
