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
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib import metadata

from dagster._core.definitions.run_request import InstigatorType
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
from packaging import version

__all__ = [
    "GRPC_INFO_TAG",
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "AssetCheckExecutionRecordStatus",
    "CheckRunHealthResult",
    "DagsterGrpcClient",
    "DbtResource",
    "GetCurrentRunsResult",
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
