"""The bench's profile of a run (benchmarks/run.py `run_profile`) read from a real Dagster
instance: the built warehouse's run."""

import pytest

from benchmarks.run import run_profile
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
    assert {"files", "read lines", "parse", "dedup", "write"} <= set(stages)
    assert len(stages) == 10 and all(s >= 0 for s in stages.values())
