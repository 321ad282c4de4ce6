"""Every private Dagster and dagster-dbt name Costwatch uses, in one place, each with why.

Public APIs are preferred everywhere; these have no public equivalent in the pinned versions
(requirements.lock: dagster 1.13.27, dagster-dbt 0.29.27). `tests/unit/test_internals.py` fails
loudly, naming the name, when an upgrade moves or changes one of them; then this module is the
only place to fix.

- `CheckRunHealthResult`, `WorkerStatus` (orchestration/run_launcher.py): the launcher
  health-check API. A launcher that reports whether a run's worker is alive lets the daemon's run
  monitoring fail runs whose process died; Dagster exports `dg.DefaultRunLauncher`, not the
  types its health check returns.
- `GRPC_INFO_TAG`, `DagsterGrpcClient`, `GetCurrentRunsResult`, `deserialize_value`
  (orchestration/run_launcher.py): how DefaultRunLauncher itself finds the code server of a run;
  asking it which runs it executes is the evidence that a worker is gone.
- `InstigatorType`, `TickStatus` (orchestration/cli.py): the instance's sensor ticks;
  `costwatch demo` waits for the daemon's first budget tick.
- `AssetCheckExecutionRecordStatus` (tests/integration/test_check_results.py): the check status
  the instance records, which the UI's Checks tab shows.
- `SqliteEventLogStorage` and its `_connect`, `has_table`, `_initdb`, `_initialized_dbs`,
  `_db_lock`, `SQLITE_BUSY_TIMEOUT_SECONDS` (orchestration/event_log.py): Dagster's SQLite event
  log builds a new SQLAlchemy engine for every statement it sends, which also throws away the
  engine's compiled-statement cache; the embedded instance keeps one engine per database file
  instead. No public setting does this.
- `DbtCliResource._cli_version`, `._initialize_dbt_core_adapter` (assets/resources.py,
  `DbtResource` below): two start-up costs dagster-dbt has no public switch for.
- `dagster_dbt.core.dbt_cli_invocation.subprocess`: the name through which dagster-dbt's
  `DbtCliInvocation.run` starts dbt (`subprocess.Popen(args=..., stdout=PIPE, stderr=STDOUT,
  env=..., cwd=...)`). Below, that module sees `subprocess` with a `Popen` that forks dbt from the
  run's process when it safely can (sources/dbt_process.py: dbt is imported there already, 2.5-3
  CPU-seconds of every run); dagster-dbt has no public way to say how dbt is started.
- `InstanceConcurrencyContext.interval_to_next_pending_claim_check`: a run whose step waits for
  the warehouse pool (another run holds it) asks this how long to sleep before its next look, and
  Dagster's answer is `min([0, *seconds_to_each_pending_check])`, never more than 0: the run's
  loop spins at a full core for as long as it waits (measured: two one-day runs at once used 20
  CPU-seconds more than one after the other), while the claim itself is only retried when its
  back-off has passed (dagster-io/dagster#20367 found it in 2024 and was closed unmerged). Below,
  the answer is the time to the next pending check, at most `POOL_WAIT_LOOK_S`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from functools import cached_property
from importlib import metadata
from typing import Any

from dagster._core.definitions.run_request import InstigatorType
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import GetCurrentRunsResult
from dagster._serdes import deserialize_value
from dagster_dbt import DbtCliResource
from dagster_dbt.core import dbt_cli_invocation
from packaging import version

from sources import dbt_process

__all__ = [
    "GRPC_INFO_TAG",
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "AssetCheckExecutionRecordStatus",
    "CheckRunHealthResult",
    "DagsterGrpcClient",
    "DbtResource",
    "GetCurrentRunsResult",
    "InstanceConcurrencyContext",
    "InstigatorType",
    "SqliteEventLogStorage",
    "TickStatus",
    "WorkerStatus",
    "deserialize_value",
]


class DbtResource(DbtCliResource):
    """dagster-dbt's resource without its two start-up costs that this project never uses (about
    3 s of every run, measured in BENCHMARKS.md's profile). Both are private methods of
    DbtCliResource; there is no public switch for either.

    - `_cli_version`: `dbt --version` in a subprocess to learn the version; the executable is the
      dbt-core of this environment, so its package metadata says the same thing;
    - `_initialize_dbt_core_adapter`: a dbt adapter built in the Dagster process, which dagster-dbt
      only needs to fetch row counts or column metadata, which these assets do not ask for.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


class _SubprocessForkingDbt:
    """The `subprocess` module as dagster-dbt's invocation module sees it: the module itself, but
    for `Popen`, which forks dbt from the run's process when it can (`sources/dbt_process.py`)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def Popen(args: Sequence[str], env: dict[str, str], cwd: Any, **popen: Any):
        return dbt_process.start(args, env=env, cwd=cwd, **popen)


dbt_cli_invocation.subprocess = _SubprocessForkingDbt()  # type: ignore[assignment]


# the longest a run waiting for a pool slot sleeps before looking at its loop again: Dagster's
# shortest back-off between two claims of a slot, so a slot is taken as soon as before
POOL_WAIT_LOOK_S = 1.0


def _interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    """Seconds until the next pending claim may be retried (0: one may be now)."""
    if not self._pending_claims or not self._pending_timeouts:
        return 0.0
    wait = min(self._pending_timeouts.values()) - time.time()
    return min(max(wait, 0.0), POOL_WAIT_LOOK_S)


_dagster_interval_to_next_pending_claim_check = (
    InstanceConcurrencyContext.interval_to_next_pending_claim_check
)
InstanceConcurrencyContext.interval_to_next_pending_claim_check = (  # type: ignore[method-assign]
    _interval_to_next_pending_claim_check
)
