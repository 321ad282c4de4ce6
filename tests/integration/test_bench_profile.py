"""The bench's profile of a run (benchmarks/run.py `run_profile`) read from a real Dagster
instance: the built warehouse's run."""

import dagster as dg
import pytest

from benchmarks.run import run_profile, run_profiles
from tests.conftest import Home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]


def test_the_profile_names_each_dbt_node_and_the_readers_stages(built_home: Home):
    profile = run_profile(built_home.root / "dagster")
    assert {"ingest_app_events", "dbt_models", "published__analytics_warehouse"} <= set(
        profile["steps"]
    )
    nodes = profile["dbt_nodes"]
    assert {"marts/sessions", "intermediate/int_budget_spend", "snapshots/llm_prices_snapshot"} <= (
        set(nodes)
    )
    assert "marts/sessions:unique_sessions_session_id" in nodes  # a test, as asset check
    assert list(nodes.values()) == sorted(nodes.values(), reverse=True)
    assert profile["dbt_sql_s"] == pytest.approx(sum(nodes.values()))
    assert 0 < profile["dbt_sql_s"] < profile["steps"]["dbt_models"]
    stages = profile["ingest_stages"]  # as stored: keys sorted
    assert {"files", "scan new files", "read lines", "parse", "dedup", "write"} <= set(stages)
    assert len(stages) == 11 and all(s >= 0 for s in stages.values())


def test_a_multi_day_runs_nodes_count_once(built_home: Home):
    """The built home's run covers 3 days: Dagster records each dbt model's materialization once
    per day, each with the duration of the model's one build; the profile counts it once."""
    profile = run_profile(built_home.root / "dagster")
    with built_home.active(), dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["marts", "sessions"])), limit=10
        ).records
    durations = {
        r.asset_materialization.metadata["Execution Duration"].value
        for r in records
        if r.run_id == run.run_id
    }
    assert len([r for r in records if r.run_id == run.run_id]) == len(built_home.days)
    assert len(durations) == 1
    assert profile["dbt_nodes"]["marts/sessions"] == pytest.approx(float(durations.pop()))


def test_every_runs_profile_oldest_first_with_its_days(built_copy: Home):
    """A full rebuild is several runs: the bench profiles each, oldest first, with the days it
    ran (its partition range); the last one is the profile of the last run."""
    home = built_copy
    last = home.days[-1]
    assert [o.success for o in home.run(last, last)] == [True]
    profiles = run_profiles(home.root / "dagster")
    assert [(p["start"], p["end"]) for p in profiles] == [
        (str(home.days[0]), str(last)),
        (str(last), str(last)),
    ]
    assert profiles[-1] == run_profile(home.root / "dagster")
    assert all(p["dbt_nodes"] and p["ingest_stages"] for p in profiles)
    assert profiles[0]["run_s"] > 0 and profiles[1]["run_s"] > 0
