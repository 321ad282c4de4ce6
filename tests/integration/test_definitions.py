"""The code location loads, and the UI shows one graph raw -> staging -> marts with dbt tests as
checks."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

pytestmark = pytest.mark.xdist_group("built")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def defs(built_home):
    with built_home.active():  # loaded for the built home; the graph needs no variables after
        from orchestration.definitions import defs
    return defs


def test_definitions_validate_like_the_cli(built_home):
    with built_home.active():
        proc = subprocess.run(
            [
                str(Path(sys.executable).parent / "dagster"),
                "definitions",
                "validate",
                "-w",
                str(REPO / "workspace.yaml"),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lineage_is_one_graph_from_raw_to_marts(defs):
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey(["marts", "sessions"])).parent_keys
    assert dg.AssetKey(["intermediate", "int_event_sessions"]) in upstream
    assert graph.get(dg.AssetKey(["intermediate", "int_events_sessionized"])).parent_keys == {
        dg.AssetKey(["staging", "stg_app__events"]),
        dg.AssetKey(["intermediate", "int_event_sessions"]),
    }
    interactions = graph.get(dg.AssetKey(["marts", "interactions"])).parent_keys
    assert dg.AssetKey(["intermediate", "int_events_sessionized"]) in interactions
    stg = graph.get(dg.AssetKey(["staging", "stg_app__events"]))
    assert stg.parent_keys == {dg.AssetKey(["raw", "app_events"])}
    published = graph.get(dg.AssetKey(["published", "analytics_warehouse"])).parent_keys
    assert {
        dg.AssetKey(["marts", m]) for m in ("sessions", "interactions", "user_stats")
    } <= published


def test_dbt_tests_are_asset_checks(defs):
    checks = {
        (k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys
    }
    assert ("marts/sessions", "unique_sessions_session_id") in checks
    # one not-null check per model (not one per column); a mart's not-null columns are contract
    # constraints, which its build enforces
    assert ("staging/stg_app__events", "not_null_columns_stg_app__events") in checks
    assert not [n for _, n in checks if n.startswith("not_null_") and "columns" not in n]
    assert ("raw/app_events", "lines_accounted_for") in checks


def test_every_warehouse_writer_is_in_the_warehouse_pool(defs):
    # The report reads only the published copy (replaced atomically), never the warehouse.
    readers_of_published_copy = {dg.AssetKey(["published", "html_report"])}
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys - readers_of_published_copy:
        assert graph.get(key).pools == {"warehouse"}, key
    assert graph.get(dg.AssetKey(["published", "html_report"])).pools in (set(), None)
