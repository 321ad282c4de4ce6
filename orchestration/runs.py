"""Runs of the daily job for a range of days, on the Dagster instance the UI shows: one run per
chunk of days, each with its outcome (failed checks, failed steps, its log).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from orchestration import progress
from sources import settings

DEFAULT_CHUNK_DAYS = 31


class UsageError(ValueError):
    """What the command was asked cannot be done; the message says what to change."""


@dataclass
class RunOutcome:
    start: dt.date
    end: dt.date
    run_id: str
    success: bool
    seconds: float
    checks_passed: int = 0
    failed_checks: list[str] = field(default_factory=list)


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
            # a skipped step (an output not produced) fails the command: nothing is published
            success = result.success and not progress.skipped_steps(result)
            outcome = RunOutcome(a, b, result.run_id, success, time.monotonic() - t0)
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
