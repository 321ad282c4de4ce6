"""A warehouse built before 2026-12 holds `intermediate.int_events_sessionized` as a table of every
event's columns and its session. The first run after the upgrade builds `int_event_sessions` (one
narrow row per event) and turns that table into a view: the sessions of the days outside the
run's window are taken from the old table, not derived again (a chain's derived id depends on the
windows of the runs that derived it). Real dbt runs on copies of the built warehouse."""

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import Home, run_dbt

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]

NARROW = (
    "select event_id, event_day, session_id, is_derived_session "
    "from intermediate.int_event_sessions order by all"
)


def _as_built_before(home: Home, tmp: Path) -> tuple[Path, list[tuple]]:
    """A copy of the built warehouse in the shape of one built before: the wide table in place
    of the view, no int_event_sessions; one event outside the window with a session id no
    derivation gives. Returns the copy and the wide table's rows."""
    warehouse = tmp / "warehouse.duckdb"
    shutil.copyfile(home.warehouse, warehouse)
    first = home.days[0]
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "create table intermediate.wide as select * from intermediate.int_events_sessionized"
        )
        con.execute("drop view intermediate.int_events_sessionized")
        con.execute("drop table intermediate.int_event_sessions")
        con.execute("alter table intermediate.wide rename to int_events_sessionized")
        con.execute(
            "update intermediate.int_events_sessionized set session_id = 'kept-from-before' "
            "where event_id = (select min(event_id) from intermediate.int_events_sessionized "
            "where event_day = ?)",
            [first],
        )
        wide = con.execute("select * from intermediate.int_events_sessionized order by all")
        return warehouse, wide.fetchall()


def test_the_first_run_after_the_upgrade_keeps_every_session(built_home: Home, tmp_path: Path):
    with duckdb.connect(str(built_home.warehouse), read_only=True) as con:
        built = con.execute(NARROW).fetchall()
    warehouse, wide = _as_built_before(built_home, tmp_path)
    day = built_home.days[1]
    results = run_dbt(
        warehouse, tmp_path, "run", "--select", "int_event_sessions", "int_events_sessionized",
        day=day,
    )  # fmt: skip
    assert {r["status"] for r in results} == {"success"}, results
    with duckdb.connect(str(warehouse), read_only=True) as con:
        kind = con.execute(
            "select table_type from information_schema.tables "
            "where table_schema = 'intermediate' and table_name = 'int_events_sessionized'"
        ).fetchall()
        narrow = con.execute(NARROW).fetchall()
        view = con.execute("select * from intermediate.int_events_sessionized order by all")
        view = view.fetchall()
    assert kind == [("VIEW",)]
    # the window's day derived again (as built), the other days as the old table held them
    assert view == wide
    assert sorted(r for r in narrow if r[1] == day) == sorted(r for r in built if r[1] == day)
    assert ("kept-from-before" in {r[2] for r in narrow}) and len(narrow) == len(built)
