"""Run monitoring for every launcher of a run: the UI, the schedule, sensors and `costwatch run`.

Dagster's daemon fails a started run whose worker is gone only when the run launcher can tell
(`check_run_worker_health`); its DefaultRunLauncher cannot. A run whose process died (OOM,
kill -9, reboot) then stays "started" and keeps its slot in the `warehouse` pool: every later
run waits forever. This launcher is Dagster's DefaultRunLauncher plus that health check, so the
daemon's run monitoring (enabled in the shipped `dagster.yaml`) fails such runs and then frees
their pool slots (`free_slots_after_run_end_seconds`).

A worker is judged dead only on evidence: the code server that launched it answers and no longer
runs it, or its process id (recorded by Dagster when the worker started, or by `costwatch run` in
the run's tags) is gone on this machine. Anything it cannot tell counts as running.

Dagster internals used come from assets/internals.py (the launcher health-check types, and how
DefaultRunLauncher itself finds and asks the code server of a run).
"""

from __future__ import annotations

import json
import socket

import dagster as dg

from assets.internals import (
    GRPC_INFO_TAG,
    CheckRunHealthResult,
    DagsterGrpcClient,
    GetCurrentRunsResult,
    WorkerStatus,
    deserialize_value,
)
from sources.processes import process_alive

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", socket.gethostname()})
CLI_TAG, CLI_HOST_TAG, CLI_PID_TAG = "costwatch/launched_by", "costwatch/host", "costwatch/pid"


def release_finished_runs(instance: dg.DagsterInstance) -> list[str]:
    """Free the pool slots and queued steps that runs which have ended still hold.

    Dagster's monitoring frees the slots of a finished run, but only of runs that hold a slot: a
    run killed while one of its steps waited in a pool's queue leaves that step queued, ahead of
    every later run's steps, which then wait forever. Returns the run ids released."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders: set[str] = set()
    for key in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(key)
        holders |= {s.run_id for s in info.claimed_slots if s.run_id}
        holders |= {s.run_id for s in info.pending_steps if s.run_id}
    released = []
    for run_id in sorted(holders):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            released.append(run_id)
    return released


def fail_dead_runs(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    """What the daemon's run monitoring does, once, for `costwatch run` (which runs no daemon):
    fail the unfinished runs whose worker the launcher's health check finds dead, and free their
    pool slots. Runs not yet started are judged only when `costwatch run` launched them (their
    process id is the evidence). Returns (run id, why) of each run failed."""
    launcher = instance.run_launcher
    if not isinstance(launcher, CostwatchRunLauncher):
        return []
    started = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    not_yet = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=started))
    runs += instance.get_runs(filters=dg.RunsFilter(statuses=not_yet, tags={CLI_TAG: "cli"}))
    failed = []
    for run in runs:
        health = launcher.check_run_worker_health(run)
        if health.status != WorkerStatus.FAILED:
            continue
        instance.report_run_failed(run, message=f"The run's worker is gone: {health.msg}.")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append((run.run_id, health.msg or "its process is gone"))
    return failed


class CostwatchRunLauncher(dg.DefaultRunLauncher):
    """DefaultRunLauncher that can tell the daemon whether a run's worker is still alive."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        # called by the daemon for every started run on each monitoring pass: the moment to let
        # queued steps of runs that have ended go (else the run being checked may wait on them)
        release_finished_runs(self._instance)
        if run.tags.get(CLI_TAG) == "cli":
            return self._by_pid(run.tags.get(CLI_HOST_TAG), run.tags.get(CLI_PID_TAG))
        in_server = self._code_server_runs(run)
        if in_server is not None:
            if run.run_id in in_server:
                return CheckRunHealthResult(WorkerStatus.RUNNING)
            return CheckRunHealthResult(
                WorkerStatus.FAILED, "the code server that launched the run no longer runs it"
            )
        grpc = json.loads(run.tags.get(GRPC_INFO_TAG, "{}"))
        return self._by_pid(grpc.get("host") or "localhost", self._worker_pid(run))

    def _code_server_runs(self, run: dg.DagsterRun) -> set[str] | None:
        """Run ids the run's code server is executing; None when it cannot be asked."""
        info = run.tags.get(GRPC_INFO_TAG)
        if not info:
            return None
        grpc = json.loads(info)
        client = DagsterGrpcClient(
            port=grpc.get("port"),
            socket=grpc.get("socket"),
            host=grpc.get("host"),
            use_ssl=bool(grpc.get("use_ssl", False)),
        )
        try:
            result = deserialize_value(client.get_current_runs(), GetCurrentRunsResult)
        except Exception:
            return None  # the server is gone or busy: fall back to the process id
        return set(result.current_runs)

    def _worker_pid(self, run: dg.DagsterRun) -> str | None:
        """The pid Dagster recorded when the run's worker process started."""
        records = self._instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20
        ).records
        for record in records:
            event = record.event_log_entry.dagster_event
            metadata = event.engine_event_data.metadata if event else {}
            pid = metadata.get("pid")
            if pid is not None:
                return str(pid.value if hasattr(pid, "value") else pid)
        return None

    @staticmethod
    def _by_pid(host: str | None, pid: str | None) -> CheckRunHealthResult:
        if not pid or host not in LOCAL_HOSTS:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "cannot tell: not on this machine")
        if process_alive(int(pid)):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"the run's process {pid} is gone (killed or crashed)"
        )
