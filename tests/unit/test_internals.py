"""The private Dagster and dagster-dbt names in assets/internals.py still mean what Costwatch
relies on. An upgrade that moves or changes one fails here, naming it (issue 21)."""

import inspect
import re
import subprocess
from importlib import metadata
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from assets import internals
from sources.dbt_process import DBT_EXECUTABLE

REPO = Path(__file__).resolve().parents[2]


def _locked(package: str) -> str:
    lock = (REPO / "requirements.lock").read_text()
    found = re.search(rf"^{re.escape(package)}==([^\s;]+)", lock, re.M)
    assert found, package
    return found.group(1)


def test_the_installed_versions_are_the_ones_the_adapter_was_written_for():
    """The adapter names the versions it was checked against; bumping the lock means re-reading
    assets/internals.py and updating its docstring (this test says so)."""
    doc = internals.__doc__ or ""
    for package in ("dagster", "dagster-dbt"):
        assert metadata.version(package) == _locked(package), package
        assert f"{package} {_locked(package)}" in doc, f"re-check assets/internals.py for {package}"


def test_the_health_check_types_build_what_the_launcher_returns():
    result = internals.CheckRunHealthResult(internals.WorkerStatus.FAILED, "gone")
    assert (result.status, result.msg) == (internals.WorkerStatus.FAILED, "gone")
    assert {"RUNNING", "FAILED"} <= set(internals.WorkerStatus.__members__)
    assert "check_run_worker_health" in vars(dg.DefaultRunLauncher) or hasattr(
        dg.DefaultRunLauncher, "check_run_worker_health"
    )


def test_the_code_server_client_can_list_its_runs():
    assert callable(internals.DagsterGrpcClient.get_current_runs)
    result = internals.GetCurrentRunsResult(current_runs=["r1"], serializable_error_info=None)
    assert list(result.current_runs) == ["r1"]
    assert isinstance(internals.GRPC_INFO_TAG, str) and internals.GRPC_INFO_TAG
    assert callable(internals.deserialize_value)


def test_tick_and_check_statuses_have_the_members_used():
    assert {"SKIPPED", "SUCCESS", "FAILURE"} <= set(internals.TickStatus.__members__)
    assert "SENSOR" in internals.InstigatorType.__members__
    assert {"SUCCEEDED", "FAILED", "EXECUTION_FAILED", "PLANNED"} >= {
        m
        for m in ("SUCCEEDED", "FAILED")
        if m in internals.AssetCheckExecutionRecordStatus.__members__
    }
    assert {"SUCCEEDED", "FAILED"} <= set(internals.AssetCheckExecutionRecordStatus.__members__)


def test_the_dbt_resource_overrides_private_methods_that_still_exist():
    """DbtResource replaces two private DbtCliResource members; each must still exist (else the
    override silently stops saving the start-up cost) with the same shape."""
    base = vars(DbtCliResource)
    assert isinstance(
        base.get("_cli_version"), (property, type(internals.DbtResource._cli_version))
    )
    params = list(inspect.signature(base["_initialize_dbt_core_adapter"]).parameters)
    assert params == ["self", "args"]
    resource = internals.DbtResource(
        project_dir=str(REPO / "dbt_project"),
        dbt_executable=DBT_EXECUTABLE,
    )
    assert str(resource._cli_version) == metadata.version("dbt-core")


def _waiting(seconds: list[float]) -> internals.InstanceConcurrencyContext:
    """A concurrency context with claims pending, each retried `seconds` from now."""
    import time

    context = object.__new__(internals.InstanceConcurrencyContext)
    context._pending_claims = {f"step_{i}" for i in range(len(seconds))}
    context._pending_timeouts = {f"step_{i}": time.time() + s for i, s in enumerate(seconds)}
    return context


def test_dagsters_pool_wait_never_sleeps_and_the_adapters_sleeps_to_the_next_claim():
    """Dagster's answer is at most 0 however far the next retry is: a run waiting for the
    warehouse pool spins (when an upgrade fixes it, this fails: drop the replacement)."""
    assert internals._dagster_interval_to_next_pending_claim_check(_waiting([10.0, 12.0])) <= 0
    patched = internals.InstanceConcurrencyContext.interval_to_next_pending_claim_check
    assert patched is internals._interval_to_next_pending_claim_check
    assert 0.4 < patched(_waiting([0.5, 12.0])) <= 0.5  # the nearest retry, under the cap
    assert patched(_waiting([10.0, 12.0])) == internals.POOL_WAIT_LOOK_S == 1.0  # look each second
    assert patched(_waiting([-3.0])) == 0.0  # a retry that is due: no sleep
    assert patched(_waiting([])) == 0.0  # nothing pending


def test_dagster_dbt_starts_dbt_through_the_adapters_subprocess():
    from dagster_dbt.core import dbt_cli_invocation

    source = inspect.getsource(dbt_cli_invocation.DbtCliInvocation.run)
    assert "subprocess.Popen(" in source  # the name the adapter replaces is the one used
    assert isinstance(dbt_cli_invocation.subprocess, internals._SubprocessForkingDbt)
    assert dbt_cli_invocation.subprocess.PIPE == subprocess.PIPE  # the rest is the module's
    assert dbt_cli_invocation.subprocess.STDOUT == subprocess.STDOUT
