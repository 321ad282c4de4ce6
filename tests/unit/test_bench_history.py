"""The long-history builder of the benchmarks: one seed day copied to every other day, on a
real DuckDB warehouse, with values worked out by hand."""

import datetime as dt

import duckdb

from benchmarks.history import replicate, seed_tables
from sources.events.tables import EVENT_ID_HASH, event_id_hash_sql
from tests.conftest import hash40

SEED = dt.date(2025, 1, 1)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts; create schema archive; create schema raw")
    con.execute("create schema snapshots; create schema meta")
    con.execute(
        "create table marts.interactions as select * from (values "
        "('e1', 's1', 'u1', date '2025-01-01', timestamp '2025-01-01 10:00', 5), "
        "('e2', 's1', 'u1', date '2025-01-01', timestamp '2025-01-01 23:59', 7)) "
        "t(event_id, session_id, user_id, interaction_day, occurred_at, input_tokens)"
    )
    con.execute("create table archive.interactions as select * from marts.interactions limit 0")
    con.execute("create table raw.llm_prices as select date '2024-06-01' as effective_from")
    con.execute(
        "create table marts.user_stats as select 'u1' as user_id, "
        "timestamp '2025-01-01 10:00' as first_seen_at"
    )
    con.execute(
        "create table snapshots.user_stats_snapshot as select 'u1' as user_id, 12 as tokens, "
        "'x1' as dbt_scd_id, timestamp '2025-01-01 10:00' as first_seen_at, "
        "timestamp '2025-01-02 03:00' as dbt_valid_from, NULL::TIMESTAMP as dbt_valid_to"
    )
    con.execute("create table meta.unpublished_windows as select date '2025-01-01' as start_day")
    return con


def test_only_tables_of_the_seed_day_alone_are_copied():
    con = _warehouse()
    assert sorted(seed_tables(con, SEED)) == ["marts.interactions", "snapshots.user_stats_snapshot"]


def test_days_are_shifted_ids_made_unique_and_old_days_archived():
    con = _warehouse()
    rows = replicate(con, SEED, days=4, cutoff=dt.date(2025, 1, 3), progress=lambda _: None)
    assert rows == {"marts.interactions": 4, "snapshots.user_stats_snapshot": 4}
    assert con.execute("select * from archive.interactions order by all").fetchall() == [
        ("e1", "s1", "u1", dt.date(2025, 1, 1), dt.datetime(2025, 1, 1, 10), 5),
        ("e1~1", "s1~1", "u1", dt.date(2025, 1, 2), dt.datetime(2025, 1, 2, 10), 5),
        ("e2", "s1", "u1", dt.date(2025, 1, 1), dt.datetime(2025, 1, 1, 23, 59), 7),
        ("e2~1", "s1~1", "u1", dt.date(2025, 1, 2), dt.datetime(2025, 1, 2, 23, 59), 7),
    ]
    assert con.execute("select * from marts.interactions order by all").fetchall() == [
        ("e1~2", "s1~2", "u1", dt.date(2025, 1, 3), dt.datetime(2025, 1, 3, 10), 5),
        ("e1~3", "s1~3", "u1", dt.date(2025, 1, 4), dt.datetime(2025, 1, 4, 10), 5),
        ("e2~2", "s1~2", "u1", dt.date(2025, 1, 3), dt.datetime(2025, 1, 3, 23, 59), 7),
        ("e2~3", "s1~3", "u1", dt.date(2025, 1, 4), dt.datetime(2025, 1, 4, 23, 59), 7),
    ]
    # the snapshot gets earlier versions, each valid for one day; the seed's stays current
    assert con.execute(
        "select dbt_scd_id, dbt_valid_from, dbt_valid_to from snapshots.user_stats_snapshot "
        "order by dbt_valid_from"
    ).fetchall() == [
        ("x1~-3", dt.datetime(2024, 12, 30, 3), dt.datetime(2024, 12, 31, 3)),
        ("x1~-2", dt.datetime(2024, 12, 31, 3), dt.datetime(2025, 1, 1, 3)),
        ("x1~-1", dt.datetime(2025, 1, 1, 3), dt.datetime(2025, 1, 2, 3)),
        ("x1", dt.datetime(2025, 1, 2, 3), None),
    ]
    assert con.execute("select count(*) from marts.user_stats").fetchall() == [(1,)]


def test_a_stored_events_id_hash_is_the_hash_of_its_copys_id():
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.app_events as select 'e1' as event_id, date '2025-01-01' as event_day, "
        f"{event_id_hash_sql(repr('e1'))} as {EVENT_ID_HASH}"
    )
    replicate(con, SEED, days=3, cutoff=SEED, progress=lambda _: None)
    assert con.execute(
        f"select event_id, {EVENT_ID_HASH} from raw.app_events order by 1"  # noqa: S608
    ).fetchall() == [(e, hash40(e)) for e in ("e1", "e1~1", "e1~2")]


def test_the_seed_day_is_never_the_first_of_a_month():
    from benchmarks.history import seed_day

    # 1,095 days before 2026-11-30 is 2023-12-01: a month start, so one day earlier
    assert seed_day(dt.date(2026, 11, 30), 1095) == (dt.date(2023, 11, 30), 1096)
    assert seed_day(dt.date(2026, 11, 30), 365) == (dt.date(2025, 11, 30), 365)
    assert seed_day(dt.date(2026, 3, 1), 28) == (dt.date(2026, 1, 31), 29)  # 2026-02-01 moved


def test_rollups_are_built_by_dbt_from_the_copied_days(tmp_path):
    """A user's month (int_user_months) sums the copied days: built again by dbt after the
    copy, one row per user and month, not one per copied day."""
    from decimal import Decimal

    from benchmarks.history import ROLLUPS, rebuild_rollups
    from sources.settings import REPO_ROOT

    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.daily_stats as select * from (values "
            "('u1', date '2025-01-30', timestamp '2025-01-30 09:00', timestamp '2025-01-30 10:00',"
            " 1, 3, 2, 100, 10, 0.25::DECIMAL(38,18)), "
            "('u1', date '2025-01-31', timestamp '2025-01-31 08:00', timestamp '2025-01-31 11:00',"
            " 2, 4, 4, 50, 5, 0.5::DECIMAL(38,18)), "
            "('u1', date '2025-02-01', timestamp '2025-02-01 07:00', timestamp '2025-02-01 07:30',"
            " 1, 1, 1, 7, 1, 0.125::DECIMAL(38,18))) "
            "t(user_id, day, first_event_at, last_event_at, session_count, interaction_count, "
            "llm_call_count, input_tokens, output_tokens, exact_total_cost_usd)"
        )
    assert ROLLUPS == ("intermediate.int_user_months",)
    rebuild_rollups(warehouse, {"PATH": "/usr/bin:/bin"}, REPO_ROOT)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select user_id, month_start, last_active_day, first_event_at, last_event_at, "
            "session_count, interaction_count, llm_call_count, input_tokens, output_tokens, "
            "exact_total_cost_usd from intermediate.int_user_months order by month_start"
        ).fetchall()
    assert rows == [
        ("u1", dt.date(2025, 1, 1), dt.date(2025, 1, 31), dt.datetime(2025, 1, 30, 9),
         dt.datetime(2025, 1, 31, 11), 3, 7, 6, 150, 15, Decimal("0.75")),
        ("u1", dt.date(2025, 2, 1), dt.date(2025, 2, 1), dt.datetime(2025, 2, 1, 7),
         dt.datetime(2025, 2, 1, 7, 30), 1, 1, 1, 7, 1, Decimal("0.125")),
    ]  # fmt: skip


def test_rollups_are_not_copied_per_day():
    con = _warehouse()
    con.execute("create schema intermediate")
    con.execute(
        "create table intermediate.int_user_months as select 'u1' as user_id, "
        "date '2024-12-01' as month_start, date '2025-01-01' as last_active_day"
    )
    assert "intermediate.int_user_months" not in seed_tables(con, SEED)
