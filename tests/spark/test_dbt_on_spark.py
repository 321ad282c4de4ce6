"""The dbt layer on Spark (issue 16, in progress): the built warehouse's raw tables as Parquet lake
tables, the whole dbt project built on Spark with the `spark` target (dbt-spark, in-process
session, local[2]; snapshots on Parquet), then one day rebuilt through the incremental path; every
mart and snapshot equals DuckDB's row for row. Money and counts must be equal exactly; DOUBLE
columns (latency quantiles, shares) to 9 decimals, as the two engines add floating-point numbers in
different orders."""

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sources.publishing.lake_catalog import write_lake_catalog
from tests.conftest import Home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]

SCRIPT = Path(__file__).with_name("build_on_spark.py")
# written when the row is, not what it says
VOLATILE = {"monthly_close": ("monthly_close_id", "recorded_at")}


@pytest.fixture(scope="module")
def lake(built_home: Home, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("lake")
    day = str(built_home.days[1])
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(built_home.warehouse), str(lake), day],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=lake,  # Spark and Derby write their logs to the working folder
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return lake


def _differences(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, folder: Path
) -> tuple[int, int, int]:
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = 'wh' and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    # a snapshot's dbt_* columns record when it ran (its ids hash that time)
    kept = [
        (c, t)
        for c, t in columns
        if c not in VOLATILE.get(table, ()) and not (schema == "snapshots" and c.startswith("dbt_"))
    ]

    def select(source: str) -> str:
        return ", ".join(
            f'round(cast({source}."{c}" as DOUBLE), 9)' if t == "DOUBLE"
            else f'cast({source}."{c}" as {t})'
            for c, t in kept
        )  # fmt: skip

    files = f"{folder}/**/*.parquet"
    view = f"create or replace temp view lake_table as select * from read_parquet('{files}', hive_partitioning = true)"  # noqa: E501, S608
    con.execute(view)
    # a snapshot: its current versions (the built warehouse's holds the history of every build the
    # other tests of the group made; the lake's, one build)
    where = " where dbt_valid_to is null" if schema == "snapshots" else ""
    duck = f"select {select('d')} from wh.{schema}.{table} d{where}"  # noqa: S608 (catalog names)
    spark = f"select {select('s')} from lake_table s{where}"  # noqa: S608
    only_duck = con.execute(f"select count(*) from ({duck} except all {spark})").fetchone()[0]  # noqa: S608
    only_spark = con.execute(f"select count(*) from ({spark} except all {duck})").fetchone()[0]  # noqa: S608
    rows = con.execute(f"select count(*) from ({duck})").fetchone()[0]  # noqa: S608
    return rows, only_duck, only_spark


def test_every_mart_and_snapshot_built_on_spark_equals_duckdbs(built_home: Home, lake: Path):
    con = duckdb.connect()
    con.execute(f"attach '{built_home.warehouse}' as wh (read_only)")
    relations = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'wh' and table_schema in ('marts', 'snapshots') order by 1, 2"
    ).fetchall()
    assert len(relations) >= 17
    found = {}
    for schema, table in relations:
        folder = lake / "warehouse" / f"{schema}.db" / table
        assert folder.is_dir(), f"{schema}.{table} was not built on Spark"
        found[f"{schema}.{table}"] = _differences(con, schema, table, folder)
    assert {t: d[1:] for t, d in found.items()} == {t: (0, 0) for t in found}
    assert found["marts.interactions"][0] > 0 and found["snapshots.user_stats_snapshot"][0] > 0


# analysts' questions (docs/analysts.md, the demo's "next" query), exact types only
ANALYST_QUERIES = (
    "select day, total_cost_usd, session_count from marts.daily_totals order by day",
    "select user_id, lifetime_cost_usd from marts.user_stats "
    "order by lifetime_cost_usd desc, user_id limit 5",
    "select interaction_type, sum(total_cost_usd), count(*) from marts.cost_breakdown "
    "group by 1 order by 1",
    "select canonical_model, sum(input_tokens), sum(cached_input_tokens) from marts.interactions "
    "where interaction_type = 'llm_call' group by 1 order by 1",
    "select session_day, count(*), sum(total_cost_usd) from marts.sessions group by 1 order by 1",
    'select "ServiceName", sum("BilledCost") from marts.focus_costs group by 1 order by 1',
)


def test_analysts_query_the_lake_through_a_duckdb_file_of_views(built_home: Home, lake: Path):
    catalog = lake / "analytics.duckdb"
    written = write_lake_catalog(lake, catalog, ("marts", "snapshots"))
    assert {"marts.daily_totals", "marts.sessions", "snapshots.llm_prices_snapshot"} <= set(written)
    with (
        duckdb.connect(str(catalog), read_only=True) as on_lake,
        duckdb.connect(str(built_home.published), read_only=True) as published,
    ):
        for sql in ANALYST_QUERIES:
            expected = published.execute(sql).fetchall()
            assert expected, sql
            assert on_lake.execute(sql).fetchall() == expected, sql
        # the day partition column is a DATE again, not folder text
        (kind,) = on_lake.execute(
            "select data_type from information_schema.columns "
            "where table_name = 'sessions' and column_name = 'session_day'"
        ).fetchone()
        assert kind == "DATE"
