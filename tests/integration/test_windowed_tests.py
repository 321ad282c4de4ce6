"""A daily run's data tests read the run's days (dbt_project/macros/test_window.sql): the
relationships test from a cost to its interaction reads the window on both sides (its compiled
SQL), and still finds a cost of that day whose interaction is gone."""

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Home, run_dbt

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]

TEST = "relationships_cost_breakdown_event_id__event_id__ref_interactions_"


def _failures(warehouse: Path, day: dt.date, tmp: Path) -> int:
    (result,) = [
        r
        for r in run_dbt(warehouse, tmp, "test", "--select", TEST, day=day)
        if r["unique_id"].startswith(f"test.costwatch.{TEST}")
    ]
    compiled = result["compiled_code"]
    # both sides read the window's day only
    assert compiled.count(f"interaction_day between (date '{day.isoformat()}' + 0)") == 2
    return result["failures"]


def test_a_cost_without_its_interaction_fails_its_days_test(built_home: Home, tmp_path: Path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_home.warehouse, warehouse)
    day = built_home.days[1]
    with duckdb.connect(str(warehouse)) as con:
        (event_id,) = con.execute(
            "select min(event_id) from marts.cost_breakdown where interaction_day = ?", [day]
        ).fetchone()
        con.execute("delete from marts.interactions where event_id = ?", [event_id])
    assert _failures(warehouse, day, tmp_path) == 1
