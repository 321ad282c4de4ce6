"""Not-null columns: a model without an enforced contract has one `not_null_columns` check (one row
per column holding nulls in the tested days); a mart's not-null columns are contract constraints,
enforced by its build, also on a table created before the constraint was declared. Real dbt runs
on copies of the built warehouse."""

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Home, run_dbt

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]


def _copy(home: Home, tmp: Path) -> Path:
    warehouse = tmp / "warehouse.duckdb"
    shutil.copyfile(home.warehouse, warehouse)
    return warehouse


def _null_out(con, relation: str, column: str, day_column: str, day: dt.date, row="min") -> None:
    """Set `column` to null in the first (or last) row of `relation` on `day`."""
    con.execute(
        f"update {relation} set {column} = null where rowid = "  # noqa: S608 (the test's names)
        f"(select {row}(rowid) from {relation} where {day_column} = ?)",
        [day],
    )


def test_one_check_names_each_column_with_nulls_in_the_tested_days(built_home: Home, tmp_path):
    warehouse = _copy(built_home, tmp_path)
    first, day = built_home.days[0], built_home.days[1]
    with duckdb.connect(str(warehouse)) as con:
        _null_out(con, "intermediate.int_session_days", "session_id", "event_day", day)
        _null_out(con, "intermediate.int_session_days", "event_day", "event_day", day, "max")
        # another day: outside the tested window, not counted
        _null_out(con, "intermediate.int_session_days", "session_id", "event_day", first)
    name = "not_null_columns_int_session_days"
    found = {}
    for window in (day, None):  # the row without a day is in no day's window, only in the whole
        (result,) = run_dbt(
            warehouse, tmp_path, "test", "--select", name, "--store-failures", day=window
        )
        assert result["status"] == "fail"
        with duckdb.connect(str(warehouse), read_only=True) as con:
            failed = f"select * from dbt_test__audit.{name} order by 1"  # noqa: S608
            found[window] = con.execute(failed).fetchall()
        assert result["failures"] == len(found[window])
    assert found == {day: [("session_id", 1)], None: [("event_day", 1), ("session_id", 2)]}


@pytest.mark.parametrize("created", ["with the constraint", "before the constraint"])
def test_a_null_in_a_marts_not_null_column_fails_its_build(built_home: Home, tmp_path, created):
    warehouse = _copy(built_home, tmp_path)
    day = built_home.days[1]
    with duckdb.connect(str(warehouse)) as con:
        if created == "before the constraint":  # a warehouse built by an earlier version
            con.execute("create table marts.old as select * from marts.interactions")
            con.execute("drop table marts.interactions")
            con.execute("alter table marts.old rename to interactions")
        # what the mart reads gives a call of the day no session
        _null_out(con, "intermediate.int_event_sessions", "session_id", "event_day", day)
        before = con.execute("select * from marts.interactions order by all").fetchall()
    (result,) = run_dbt(warehouse, tmp_path, "run", "--select", "interactions", day=day)
    assert result["status"] == "error"
    if created == "before the constraint":
        assert '"marts"."interactions".session_id holds 1 nulls' in result["message"]
    else:
        assert "NOT NULL constraint failed: interactions.session_id" in result["message"]
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the day's rows as they were
        assert con.execute("select * from marts.interactions order by all").fetchall() == before
