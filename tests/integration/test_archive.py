"""Archival on a copy of the built warehouse, by a real Dagster materialization: the history
views in the published copy give back every row and cent of the marts; a second move is a no-op."""

import datetime as dt
import shutil

import dagster as dg
import duckdb
import pytest

from assets.publishing.archive import ARCHIVE_KEYS, archive_old_days
from assets.resources import RetentionResource, WarehouseResource
from sources.events.contract import INTERACTION_TYPES
from sources.publishing.archive import ARCHIVED
from sources.publishing.publish import publish_copy
from tests.conftest import Home, run_dbt

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]


def _archive(warehouse, retention_days: int) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [archive_old_days],
        resources={
            "duckdb": WarehouseResource(database=str(warehouse)),
            "retention": RetentionResource(retention_days=retention_days),
        },
    )
    assert result.success
    return result


def _moved(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    return {
        m.asset_key.path[-1]: m.metadata["rows_moved"].value
        for m in result.asset_materializations_for_node("archive_old_days")
        if m.asset_key in ARCHIVE_KEYS.values()
    }


def test_archival_round_trips_every_row_and_cent(built_home: Home, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_home.warehouse, warehouse)
    first = built_home.days[0]
    retention = (dt.datetime.now(dt.UTC).date() - built_home.days[1]).days  # first day is out

    result = _archive(warehouse, retention)
    checks = result.get_asset_check_evaluations()
    assert sorted(c.asset_key.path[-1] for c in checks if c.passed) == sorted(ARCHIVED)
    interactions_day_1 = sum(
        1
        for e in built_home.ledger.events.values()
        if e["type"] in INTERACTION_TYPES and e["day"] == first
    )
    sessions_day_1 = sum(
        1 for s in built_home.ledger.sessions().values() if s["session_day"] == first
    )
    assert _moved(result) == {
        "interactions": interactions_day_1,
        "cost_breakdown": interactions_day_1,
        "sessions": sessions_day_1,
    }
    assert _moved(_archive(warehouse, retention)) == dict.fromkeys(ARCHIVED, 0)  # idempotent

    published = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        publish_copy(con, published, {"run_id": "test"})
    with duckdb.connect(str(published), read_only=True) as pub:
        for relation, (day, _) in ARCHIVED.items():
            sql = f"select * from {{}}.{relation} order by all"  # noqa: S608 (constants)
            assert pub.execute(sql.format("history")).fetchall() == built_home.query(
                sql.format("marts")
            )
            active_days = pub.execute(f"select distinct {day} from marts.{relation}").fetchall()  # noqa: S608
            archived_days = pub.execute(f"select distinct {day} from archive.{relation}").fetchall()  # noqa: S608
            assert first not in [d for (d,) in active_days]
            assert [d for (d,) in archived_days] == [first]
        total = "select sum(total_cost_usd) from {}.cost_breakdown"
        assert pub.execute(total.format("history")).fetchall() == built_home.query(
            total.format("marts")
        )


def test_keys_and_projects_of_archived_days_stay_in_the_parity_scope(built_home: Home, tmp_path):
    """The parity marts' default scope is what the application ever logged: a key and a project
    seen only on a day the archive has moved stay in it (on Spark the lake keeps every day), also
    when the scope's table is built again from nothing (it then reads the archive)."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_home.warehouse, warehouse)
    first = built_home.days[0]
    scope_of_first_day = (
        "select distinct provider, project_id, api_key_id from intermediate.int_logged_scope_days "
        "where interaction_day = ? order by all"
    )
    with duckdb.connect(str(warehouse)) as con:
        # a call on the first day with a key and a project of its own, as a run would have built it
        con.execute(
            "insert into marts.interactions by name select * replace ("
            "'evt-archived-key' as event_id, 'proj_archived' as project_id, "
            "'key_archived' as api_key_id) from marts.interactions "
            "where interaction_day = ? and interaction_type = 'llm_call' limit 1",
            [first],
        )
        con.execute(
            "insert into intermediate.int_logged_scope_days by name select interaction_day, "
            "provider, project_id, api_key_id from marts.interactions "
            "where event_id = 'evt-archived-key'"
        )
        expected = con.execute(scope_of_first_day, [first]).fetchall()
    assert any(row[1:] == ("proj_archived", "key_archived") for row in expected)
    retention = (dt.datetime.now(dt.UTC).date() - built_home.days[1]).days  # first day is out
    assert _moved(_archive(warehouse, retention))["interactions"] > 0

    def scope() -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            archived = con.execute(
                "select count(*) from archive.interactions where event_id = 'evt-archived-key'"
            ).fetchall()
            assert archived == [(1,)]
            return con.execute(scope_of_first_day, [first]).fetchall()

    assert scope() == expected  # the archive leaves the scope's days alone
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table intermediate.int_logged_scope_days")
    (result,) = run_dbt(warehouse, tmp_path, "run", "--select", "int_logged_scope_days")
    assert result["status"] == "success", result
    assert scope() == expected  # built from nothing: the marts' days and the archived ones
