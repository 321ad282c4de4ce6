"""`costwatch`: the command-line entry point (shared/contracts/interface.md).

Runs started here execute on the same Dagster instance as the UI ($COSTWATCH_HOME/dagster), so they
show up in the UI with their materializations and check results.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from orchestration import progress
from sources import settings

DEMO_MARKER = ".costwatch-demo"
DEFAULT_CHUNK_DAYS = 31


@dataclass
class RunOutcome:
    start: dt.date
    end: dt.date
    run_id: str
    success: bool
    seconds: float
    checks_passed: int = 0
    failed_checks: list[str] = field(default_factory=list)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-21") from exc


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days >= 1")
    return value


class UsageError(ValueError):
    """What the command was asked cannot be done; the message says what to change."""


def check_range(start: dt.date, end: dt.date, today: dt.date | None = None) -> None:
    """The days must be day partitions: from COSTWATCH_START_DATE to today (UTC)."""
    first = settings.start_date()
    today = today or dt.datetime.now(dt.UTC).date()
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    if start < first:
        raise UsageError(
            f"--start {start} is before the first day partition {first} "
            "(COSTWATCH_START_DATE): start later, or set COSTWATCH_START_DATE earlier"
        )
    if end > today:
        raise UsageError(f"--end {end} is after today ({today}, UTC): the last day that can run")


def check_config_files() -> None:
    """Budgets, custom prices and the rate card load (errors name the file and line), and the
    reader's settings are valid, before any run starts."""
    from sources.budgets.config import load_budgets
    from sources.pricing.files import load_custom_prices, load_rate_card

    custom_prices, rate_card, budgets = settings.config_files()
    load_custom_prices(custom_prices)
    load_rate_card(rate_card)
    load_budgets(budgets)
    settings.read_limits()


def _chunks(start: dt.date, end: dt.date, size: int) -> list[tuple[dt.date, dt.date]]:
    out = []
    cur = start
    while cur <= end:
        last = min(end, cur + dt.timedelta(days=size - 1))
        out.append((cur, last))
        cur = last + dt.timedelta(days=1)
    return out


def run_range(
    start: dt.date,
    end: dt.date,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    asset_selection: list | None = None,
    accept_removed_files: bool = False,
) -> list[RunOutcome]:
    """Materialize every asset and check (or `asset_selection`) for the days [start, end], one
    run per chunk of days."""
    import dagster as dg

    from sources.warehouse import preflight

    s = settings.resolve()
    preflight(s.warehouse, s.min_free_mb)  # before Dagster starts

    from orchestration.definitions import get_daily_refresh_job

    outcomes: list[RunOutcome] = []
    chunks = _chunks(start, end, chunk_days)
    with open_instance() as instance:
        from orchestration.run_launcher import fail_dead_runs, release_finished_runs

        for run_id, why in fail_dead_runs(instance):
            print(
                f"Run {run_id} was left unfinished ({why}); marked it failed and freed its hold "
                "on the warehouse. Its days are rebuilt by any run that covers them.",
                flush=True,
            )
        for run_id in release_finished_runs(instance):
            print(f"Run {run_id} had ended but still held the warehouse pool: released", flush=True)
        for i, (a, b) in enumerate(chunks, start=1):
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
            log_path = settings.resolve().home / "logs" / f"run-{a}_{b}-{stamp}.log"
            print(f"[{i}/{len(chunks)}] {a}..{b}: running (full log: {log_path})", flush=True)
            t0 = time.monotonic()
            with progress.captured(log_path):
                result = dg.execute_job(
                    dg.reconstructable(get_daily_refresh_job),
                    instance=instance,
                    tags={
                        "dagster/asset_partition_range_start": a.isoformat(),
                        "dagster/asset_partition_range_end": b.isoformat(),
                        "costwatch/launched_by": "cli",
                        "costwatch/host": socket.gethostname(),
                        "costwatch/pid": str(os.getpid()),
                    },
                    run_config=_run_config(accept_removed_files, asset_selection),
                    asset_selection=asset_selection,
                )
            outcome = RunOutcome(a, b, result.run_id, result.success, time.monotonic() - t0)
            for line in progress.stage_lines(result):
                print(line, flush=True)
            evaluations = [
                e.event_specific_data
                for e in result.all_events
                if e.event_type_value == "ASSET_CHECK_EVALUATION"
            ]
            # a multi-day run records each check per day and once for the run: count it once
            overall = {ev.asset_check_key for ev in evaluations if ev.partition is None}
            for ev in evaluations:
                if ev.partition is not None and ev.asset_check_key in overall:
                    continue
                if ev.passed:
                    outcome.checks_passed += 1
                else:
                    key = ev.asset_check_key
                    outcome.failed_checks.append(
                        f"{key.asset_key.to_user_string()}:{key.name} ({ev.severity.value.lower()})"
                    )
            outcomes.append(outcome)
            status = "ok" if outcome.success else "FAILED"
            print(
                f"[{i}/{len(chunks)}] {a}..{b}: {status} in {outcome.seconds:.1f}s, "
                f"run {outcome.run_id}, checks passed {outcome.checks_passed}, "
                f"failed {len(outcome.failed_checks)}",
                flush=True,
            )
            for name in outcome.failed_checks:
                print(f"    failed check: {name}", flush=True)
            for step, message in _step_failures(result):
                print(f"    {step} failed: {message}", flush=True)
            if not outcome.success:
                for line in progress.log_excerpt(log_path):
                    print(f"      | {line}", flush=True)
                print(
                    f"    full log: {log_path}; in the UI (`costwatch ui`): Runs -> "
                    f"{outcome.run_id}",
                    flush=True,
                )
    return outcomes


def _run_config(accept_removed_files: bool, asset_selection: list | None) -> dict:
    config: dict = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if accept_removed_files and asset_selection is None:
        config["ops"] = {"ingest_app_events": {"config": {"accept_removed_files": True}}}
    return config


def _step_failures(result) -> list[tuple[str, str]]:
    """(step, first line of the error) of each failed step of a run, innermost cause first, so
    the reason is printed where the operator looks, not only in the UI."""
    out = []
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        error = event.event_specific_data.error
        while error is not None and error.cause is not None:
            error = error.cause  # Dagster wraps the exception that went wrong
        lines = (error.message or "").strip().splitlines() if error is not None else []
        out.append((event.step_key or "?", lines[0] if lines else "unknown error"))
    return out


@contextmanager
def open_instance():
    """The Dagster instance of $DAGSTER_HOME. The first process to open a new instance creates its
    storage; a lock makes a second `costwatch run` started at the same moment wait for that
    instead of racing it (sqlite: "UNIQUE constraint failed: alembic_version")."""
    import dagster as dg

    lock_path = settings.resolve().dagster_home / ".instance-init.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        instance = dg.DagsterInstance.get()
        instance.get_runs(limit=1)  # run storage
        instance.all_instigator_state()  # schedule storage
        instance.event_log_storage.get_concurrency_keys()  # event log index and pools
        fcntl.flock(lock, fcntl.LOCK_UN)
    with instance:
        yield instance


def _cmd_run(args: argparse.Namespace) -> int:
    check_range(args.start, args.end)
    check_config_files()
    outcomes = run_range(
        args.start, args.end, args.chunk_days, accept_removed_files=args.accept_removed_files
    )
    return 0 if all(o.success for o in outcomes) else 1


def _prepare_demo_events(s: settings.Settings) -> Path:
    root = s.events_dir
    if root.exists() and any(root.iterdir()) and not (root / DEMO_MARKER).exists():
        raise SystemExit(
            f"{root} holds event logs that the demo did not write; refusing to replace them. "
            "Point COSTWATCH_HOME (or COSTWATCH_EVENTS_DIR) at an empty folder for the demo."
        )
    return root


def _cmd_demo(args: argparse.Namespace) -> int:
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
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _cmd_ui(args: argparse.Namespace) -> int:
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


def _cmd_report(args: argparse.Namespace) -> int:
    import duckdb

    from sources.publishing.report import write_report

    s = settings.apply()
    if not s.published.exists():
        print(
            f"costwatch report: {s.published} does not exist yet; run `costwatch demo` or "
            "`costwatch run` first",
            file=sys.stderr,
        )
        return 2
    with duckdb.connect(str(s.published), read_only=True) as con:
        path = write_report(con, args.out or s.report)
    print(f"wrote {path.resolve()}")
    return 0


DEMO_QUERY = "select day, total_cost_usd, session_count from marts.daily_totals order by day"


def sql_hint(s: settings.Settings) -> str:
    """A `costwatch sql` command line that works as printed, from any folder."""
    costwatch = Path(sys.executable).parent / "costwatch"
    return f'COSTWATCH_HOME={s.home} {costwatch} sql "{DEMO_QUERY}"'


def _cmd_sql(args: argparse.Namespace) -> int:
    from sources.publishing.query import QueryError, run_query

    s = settings.apply()
    try:
        run_query(s.published, args.query, as_csv=args.csv, max_rows=args.max_rows)
    except QueryError as exc:
        print(f"costwatch sql: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from sources.publishing.export import ExportError, export_relation

    s = settings.apply()
    if args.start and args.end and args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    suffix = f"_{args.start or 'start'}_{args.end or 'end'}" if args.start or args.end else ""
    ext = {"json": "jsonl"}.get(args.format, args.format)
    out = args.out or s.home / "exports" / f"{args.relation}{suffix}.{ext}"
    try:
        rows = export_relation(s.published, args.relation, args.format, out, args.start, args.end)
    except ExportError as exc:
        print(f"costwatch export: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {rows} rows to {Path(out).resolve()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="costwatch", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="sample data end to end, no keys and no network needed")
    demo.add_argument("--days", type=int, default=7, help="days of sample data (default 7)")
    demo.add_argument("--users", type=int, default=40, help="sample users (default 40)")
    demo.set_defaults(func=_cmd_demo)

    run = sub.add_parser("run", help="materialize every asset and check for a range of days")
    run.add_argument("--start", type=_date, required=True, help="first UTC day, YYYY-MM-DD")
    run.add_argument("--end", type=_date, required=True, help="last UTC day (inclusive)")
    run.add_argument(
        "--chunk-days",
        type=_positive,
        default=DEFAULT_CHUNK_DAYS,
        help=f"days per run (default {DEFAULT_CHUNK_DAYS})",
    )
    run.add_argument(
        "--accept-removed-files",
        action="store_true",
        help=(
            "let reruns drop stored events whose files are gone or shorter (deleted logs); "
            "without it such a rerun fails and changes nothing"
        ),
    )
    run.set_defaults(func=_cmd_run)

    report = sub.add_parser("report", help="write the HTML report of the current warehouse")
    report.add_argument("--out", type=Path, help="file to write (default $COSTWATCH_REPORT)")
    report.set_defaults(func=_cmd_report)

    export = sub.add_parser("export", help="export a published relation (streams, any size)")
    export.add_argument("relation", help="e.g. marts.interactions (or just interactions)")
    export.add_argument("--format", choices=["csv", "json", "parquet"], default="csv")
    export.add_argument("--start", type=_date, help="first day (by the relation's day column)")
    export.add_argument("--end", type=_date, help="last day (inclusive)")
    export.add_argument(
        "--out", type=Path, help="file to write (default under $COSTWATCH_HOME/exports)"
    )
    export.set_defaults(func=_cmd_export)

    sql = sub.add_parser(
        "sql", help="query the analysts' published copy (read-only), print a table or CSV"
    )
    sql.add_argument("query", help='e.g. "select * from marts.daily_totals order by day"')
    sql.add_argument("--csv", action="store_true", help="CSV with a header instead of a table")
    sql.add_argument(
        "--max-rows", type=_positive, default=100, help="rows shown in a table (default 100)"
    )
    sql.set_defaults(func=_cmd_sql)

    ui = sub.add_parser("ui", help="start the Dagster webserver and daemon")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    ui.set_defaults(func=_cmd_ui)
    return p


def main(argv: list[str] | None = None) -> int:
    from sources.warehouse import WarehouseUnavailable
    from sources.yaml_lines import ConfigFileError

    args = build_parser().parse_args(argv)
    try:
        settings.apply()
        return int(args.func(args) or 0)
    except (WarehouseUnavailable, UsageError, settings.SettingError, ConfigFileError) as exc:
        print(f"costwatch {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
