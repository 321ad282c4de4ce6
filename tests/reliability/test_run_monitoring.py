"""Runs never hang (issue 14, item 10): a run the daemon launched (here: the new_event_files
sensor's) whose worker and code server are killed -9 is failed by run monitoring, its slot in the
`warehouse` pool is freed, and the next run proceeds. Before, only runs started by `costwatch run`
were cleaned up, by the next `costwatch run`."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from sources import settings
from sources.processes import kill_group
from tests.conftest import make_home

pytestmark = pytest.mark.slow

DEADLINE_S = 240


def _wait(what: str, probe, timeout: float = DEADLINE_S, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
    for record in records:
        event = record.event_log_entry.dagster_event
        pid = event.engine_event_data.metadata.get("pid") if event else None
        if pid is not None:
            return int(pid.value)
    return None


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _held_slots(instance: dg.DagsterInstance, run_id: str) -> int:
    info = instance.event_log_storage.get_concurrency_info("warehouse")
    return sum(1 for slot in info.claimed_slots if slot.run_id == run_id)


def _queued(instance: dg.DagsterInstance, run_id: str) -> int:
    info = instance.event_log_storage.get_concurrency_info("warehouse")
    return sum(1 for step in info.pending_steps if step.run_id == run_id)


def test_a_killed_daemon_launched_run_is_failed_and_frees_its_slot(tmp_path):
    from orchestration.runs import open_instance

    home = make_home(tmp_path / "home", days=1, users=5)
    with home.active(), open_instance():  # storage created once, as `costwatch` does
        env = dict(os.environ)
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=settings.REPO_ROOT,
        env=env,
        stdout=(tmp_path / "daemon.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with home.active(), open_instance() as instance:
            run = _wait(
                "the sensor's run to hold the warehouse slot",
                lambda: next(
                    (
                        r
                        for r in instance.get_runs(
                            filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
                        )
                        if _held_slots(instance, r.run_id) and _worker_pid(instance, r.run_id)
                    ),
                    None,
                ),
            )
            assert run.tags.get("dagster/sensor_name") == "new_event_files"
            worker = _worker_pid(instance, run.run_id)
            code_server = _parent(worker)
            # the run's machine dies: its worker and the code server that launched it
            os.kill(worker, signal.SIGKILL)
            os.kill(code_server, signal.SIGKILL)
            failed = _wait(
                "run monitoring to fail the run",
                lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE,
                timeout=120,
            )
            assert failed
            _wait(
                "its warehouse slot to be freed", lambda: not _held_slots(instance, run.run_id), 60
            )
    finally:
        kill_group(daemon)
    # the next run needing the pool (the ingestion: its three keys are one step) is not blocked
    ingestion = [
        dg.AssetKey(["raw", t]) for t in ("app_events", "event_quarantine", "model_aliases")
    ]
    outcomes = home.run(home.days[0], home.days[0], asset_selection=ingestion)
    assert [o.success for o in outcomes] == [True]


def test_steps_queued_by_runs_that_ended_are_let_go():
    """A run that died while one of its steps waited in the pool's queue left that step queued
    ahead of every later run (seen: the next run waited forever). Released at the next run or
    monitoring pass."""
    from orchestration.run_launcher import release_finished_runs

    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("warehouse", 1)
        job = dg.GraphDefinition(name="g", node_defs=[]).to_job()
        holder, dead, later = (instance.create_run_for_job(job) for _ in range(3))
        assert storage.claim_concurrency_slot("warehouse", holder.run_id, "a").is_claimed
        assert not storage.claim_concurrency_slot("warehouse", dead.run_id, "a").is_claimed
        assert not storage.claim_concurrency_slot("warehouse", later.run_id, "a").is_claimed
        instance.report_run_failed(dead)  # dies while its step waits in the queue
        assert _queued(instance, dead.run_id) == 1
        storage.free_concurrency_slots_for_run(holder.run_id)
        assert release_finished_runs(instance) == [dead.run_id]
        assert _queued(instance, dead.run_id) == 0 and not _held_slots(instance, dead.run_id)
        assert storage.claim_concurrency_slot("warehouse", later.run_id, "a").is_claimed
