"""A `costwatch run` killed (SIGKILL) in the middle of ingestion or of the dbt build: analysts' copy
untouched, the warehouse still opens, and the next run of the day leaves every mart exactly as an
uninterrupted run does."""

import hashlib
import os
import subprocess
import sys
import time

import dagster as dg
import pytest

from sources import settings
from sources.processes import kill_group
from tests.conftest import Home
from tests.integration.test_pipeline import _snapshot

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kill_when(home: Home, day: str, step: str, event_type: str, asset: list[str] | None) -> str:
    """Start `costwatch run` for `day` and SIGKILL it when its run logs `event_type` for `step`
    (and `asset`); returns the killed run's id."""
    with home.active():
        settings.apply()
        env = dict(os.environ)
        costwatch = [os.path.join(os.path.dirname(sys.executable), "costwatch"), "run"]
        with dg.DagsterInstance.get() as instance:
            earlier = {r.run_id for r in instance.get_runs()}
        proc = subprocess.Popen(
            [*costwatch, "--start", day, "--end", day],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            with dg.DagsterInstance.get() as instance:
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline:
                    assert proc.poll() is None, "the run ended before the kill point"
                    for run in instance.get_runs(limit=1):
                        if run.run_id in earlier:
                            continue
                        for record in instance.get_records_for_run(run.run_id).records:
                            entry = record.event_log_entry
                            if (
                                entry.dagster_event
                                and entry.dagster_event.event_type_value == event_type
                                and entry.step_key == step
                                and (asset is None or entry.dagster_event.asset_key.path == asset)
                            ):
                                kill_group(proc)
                                return run.run_id
                    time.sleep(0.05)
                raise AssertionError(f"{step} never logged {event_type}")
        finally:
            kill_group(proc)  # every process of it, so that the warehouse's lock is free


def _step_events(home: Home, run_id: str) -> set[tuple[str, str]]:
    with home.active(), dg.DagsterInstance.get() as instance:
        records = instance.get_records_for_run(run_id).records
        return {
            (r.event_log_entry.step_key, r.event_log_entry.dagster_event.event_type_value)
            for r in records
            if r.event_log_entry.dagster_event and r.event_log_entry.step_key
        }


# a kill that lands after its step ended (the step takes a fraction of a second: a loaded machine
# can see its start late) is still a killed run, and the point is tried again
TRIES = 3
KILL_POINTS = [
    ("ingest_app_events", "STEP_START", None),  # ingestion has begun
    ("dbt_models", "ASSET_MATERIALIZATION", ["marts", "interactions"]),  # dbt half-way
]


def test_killed_runs_lose_nothing_and_the_next_run_completes_them(built_copy: Home):
    home = built_copy
    before = _snapshot(home)
    published = _digest(home.published)
    day = home.days[1]

    kills = 0
    for step, event_type, asset in KILL_POINTS:
        # the second kill also finds the first run orphaned: it must not wait for its pool slot
        for _ in range(TRIES):
            killed = _kill_when(home, day.isoformat(), step, event_type, asset)
            kills += 1
            assert _digest(home.published) == published  # analysts never see a half-built day
            assert home.query("select count(*) from marts.interactions")[0][0] > 0  # still opens
            if (step, "STEP_SUCCESS") not in _step_events(home, killed):
                break  # it died inside the step
        else:
            raise AssertionError(f"{step} ended before its kill landed, {TRIES} times")

    # what an ingestion killed inside its temporary folder leaves (the kill above lands before it
    # or inside it): copies of event lines, in the home's scratch folder, not the system's /tmp
    scratch = home.root / "scratch"
    left = scratch / "costwatch-ingest-killed"
    left.mkdir(parents=True, exist_ok=True)
    (left / "0000000.jsonl").write_text('{"event_id": "copied", "user_id": "someone"}\n')
    outcomes = home.run(day, day)
    assert [o.success for o in outcomes] == [True]
    assert list(scratch.iterdir()) == []  # the next run removed every leftover, and its own
    assert _snapshot(home) == before
    assert _snapshot(home, published=True) == before
    with home.active(), dg.DagsterInstance.get() as instance:
        statuses = [r.status for r in instance.get_runs()]
    assert statuses.count(dg.DagsterRunStatus.FAILURE) == kills
    assert dg.DagsterRunStatus.STARTED not in statuses
