"""The embedded instance's event log (orchestration/event_log.py): Dagster's own SQLite files,
written through kept engines. Real Dagster runs on real instances in a temporary DAGSTER_HOME."""

from pathlib import Path

import dagster as dg
import pytest

from assets.internals import SqliteEventLogStorage
from orchestration.event_log import KEPT_RUN_FILES, KeptEnginesSqliteEventLogStorage
from sources import settings


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="numbers")])
def numbers():
    yield dg.Output([1, 2, 3], metadata={"count": 3})
    yield dg.AssetCheckResult(check_name="positive", passed=True)


def _run(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([numbers], instance=instance)
    assert result.success
    return result.run_id


def _records(storage, run_id: str) -> list[tuple]:
    records = storage.get_records_for_run(run_id, limit=10_000).records
    return [(r.storage_id, r.event_log_entry.dagster_event_type) for r in records]


@pytest.fixture
def home(tmp_path: Path):
    with settings.temporary_env({"COSTWATCH_HOME": str(tmp_path), "DAGSTER_HOME": None}):
        yield settings.apply()


def test_the_embedded_instance_uses_it_on_dagsters_default_files(home):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert type(storage) is KeptEnginesSqliteEventLogStorage
        run_id = _run(instance)
        # the files of Dagster's default SQLite instance, where a stock instance looks
        files = home.dagster_home / "history" / "runs"
        assert sorted(p.name for p in files.glob("*.db")) == sorted([f"{run_id}.db", "index.db"])
        ours = _records(storage, run_id)
        assert {"ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION"} <= {t for _, t in ours}
        # the statements went through the kept engines: the run's file and the index
        assert set(storage._engines) == {run_id, "index"}
    stock = SqliteEventLogStorage(str(files))
    assert _records(stock, run_id) == ours
    assert stock.get_latest_materialization_events([numbers.key])[numbers.key].run_id == run_id


def test_a_stock_instances_events_are_read_and_continued(home):
    (home.dagster_home / "dagster.yaml").unlink()  # Dagster's defaults on the same folder
    with dg.DagsterInstance.get() as plain:
        assert type(plain.event_log_storage) is SqliteEventLogStorage
        first = _run(plain)
    settings.apply()  # writes costwatch's instance config again
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage) is KeptEnginesSqliteEventLogStorage
        types = [t for _, t in _records(instance.event_log_storage, first)]
        assert types.count("ASSET_MATERIALIZATION") == 1
        second = _run(instance)
        latest = instance.get_latest_materialization_event(numbers.key)
        assert latest is not None and latest.run_id == second


def test_only_the_index_and_the_last_runs_keep_an_engine(tmp_path):
    storage = KeptEnginesSqliteEventLogStorage(str(tmp_path))
    runs = [f"run-{i}" for i in range(KEPT_RUN_FILES + 3)]
    for run_id in runs:
        with storage.run_connection(run_id) as conn:
            conn.exec_driver_sql("select 1")
    with storage.index_connection() as conn:
        conn.exec_driver_sql("select 1")
    assert list(storage._engines) == [*runs[-KEPT_RUN_FILES:], "index"]
    with storage.run_connection(runs[0]) as conn:  # an evicted file opens again
        assert conn.exec_driver_sql("select count(*) from event_logs").scalar() == 0
    assert list(storage._engines)[-1] == runs[0]
    assert len(storage._engines) == KEPT_RUN_FILES + 1
    storage.dispose()
    assert storage._engines == {}


def test_wipe_closes_the_engines_before_the_files_go(home):
    with dg.DagsterInstance.get() as instance:
        run_id = _run(instance)
        instance.event_log_storage.wipe()
        files = home.dagster_home / "history" / "runs"
        assert not (files / f"{run_id}.db").exists()
        assert run_id not in instance.event_log_storage._engines  # closed; the index is kept
        again = _run(instance)  # new files, not the deleted ones still open
        assert (files / f"{again}.db").exists()
        assert _records(instance.event_log_storage, again)


def test_on_postgres_dagsters_own_storage_is_kept(tmp_path):
    env = {"COSTWATCH_HOME": str(tmp_path), "COSTWATCH_DAGSTER_PG_URL": "postgresql://u@h/db"}
    config = settings.instance_config(settings.resolve(env))
    assert "event_log_storage" not in config  # it would override `storage: postgres`
    assert "storage:\n  postgres:" in config
