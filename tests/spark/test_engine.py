"""COSTWATCH_ENGINE=spark (issue 16): `costwatch run` on Spark builds marts equal to the DuckDB
engine's, row for row, from the same event logs (the demo's days) and provider reports, after a
range run (`local[2]`) and a rerun of its first day with a late file (a new session and a
re-delivered event) against a real Spark standalone cluster (a master and two one-core workers on
127.0.0.1, started here from the pip-installed pyspark), on the lake the local run wrote, its
catalog served by a Hive metastore on 127.0.0.1 (sources/spark/metastore.py), the lake first put
in the shape of one built before the sessions were stored narrow (so the rerun is also the
upgrade).

The DuckDB reference is a run of the same days on the embedded default. Money and counts must be
equal exactly; DOUBLE columns (latency quantiles, shares) to 9 decimals, as the engines add
floating-point numbers in different orders; a snapshot's `dbt_*` columns record when it ran.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sources.demo.fake_provider import fake_providers
from sources.demo.provider_sample import provider_reports
from sources.demo.sample_data import DEMO_DAYS, DEMO_USERS
from sources.spark.catalog import write_lake_catalog
from sources.spark.cluster import (
    QUICK_JVM,
    QUICK_RUN_CONF,
    SMALL_DATA_CONF,
    executors_with_tasks,
    local_cluster,
)
from sources.spark.ingest import BELOW_SPARK_SIZE
from sources.spark.metastore import audited_calls, local_metastore
from tests.conftest import Home, make_home

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.slow]

COSTWATCH = str(Path(sys.executable).parent / "costwatch")
# written when the row is, not what it says
VOLATILE = {"monthly_close": ("monthly_close_id", "recorded_at")}
COMPARED_SCHEMAS = ("marts", "snapshots", "archive")


class Built:
    def __init__(
        self,
        duck: Home,
        spark: Home,
        outputs: list[str],
        executors: dict[str, int],
        lake: dict,
        planted: str,
        metastore_calls: list[tuple[str, str]],
    ):
        self.duck, self.spark, self.executors = duck, spark, executors
        self.metastore_calls = metastore_calls  # what the rerun asked the shared metastore
        # the range run's (local[2]), the late day's rerun's (on the cluster)
        self.output, self.rerun_output = outputs
        self.lake_days_written = lake  # the raw event days the rerun wrote to the lake
        # the event whose session the lake's old-shape table carried into the rerun
        self.planted = planted


def _late_file(home: Home, day) -> None:
    """A session that arrives after its day was built, and a re-delivered copy of an event."""
    late = home.root / "events" / "late" / "late-session.jsonl"
    late.parent.mkdir(parents=True, exist_ok=True)
    first = sorted((home.root / "events").rglob("*.jsonl"))[0].read_text().splitlines()[0]
    late.write_text(
        '{"event_id": "late-1", "type": "compute", "user_id": "late-user", '
        f'"session_id": "late-session", "ts": "{day}T12:00:00Z", "duration_ms": 5}}\n'
        f"{first}\n"
    )


# A lake built before 2026-12 held intermediate.int_events_sessionized as a table of every event's
# columns and its session, and no int_event_sessions. This puts a lake in that shape: the view's
# rows as that table (partitioned by day, as the window-rebuilt model was), one event's session
# changed to an id no derivation gives. Run in a process of its own: the lake's embedded
# metastore (Derby) admits one process at a time. The settings are dbt's (profiles.yml).
AS_BUILT_BEFORE = """
import sys
from pyspark.sql import SparkSession, functions as F

lake, event_id = sys.argv[1:]
spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.sql.warehouse.dir", f"{lake}/warehouse")
    .config(
        "spark.hadoop.javax.jdo.option.ConnectionURL",
        f"jdbc:derby:;databaseName={lake}/metastore_db;create=true",
    )
    .config("spark.hadoop.hive.downloaded.resources.dir", f"{lake}/hive-resources")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
    .config("spark.ui.enabled", "false")
    .enableHiveSupport()
    .getOrCreate()
)
session = F.when(F.col("event_id") == event_id, F.lit("kept-from-before"))
wide = spark.table("intermediate.int_events_sessionized")
wide = wide.withColumn("session_id", session.otherwise(F.col("session_id")))
wide.write.format("parquet").partitionBy("event_day").saveAsTable("intermediate.wide")
spark.sql("drop view intermediate.int_events_sessionized")
spark.sql("drop table intermediate.int_event_sessions")
spark.sql("alter table intermediate.wide rename to intermediate.int_events_sessionized")
spark.stop()
"""


def _as_built_before(home: Home, day, env: dict[str, str]) -> str:
    """The Spark home's lake in the shape of one built before 2026-12 (AS_BUILT_BEFORE), an event
    of `day` with the planted session; returns that event's id. The event's session is all on
    that day, so the rerun of another day rebuilds no mart of it: the marts stay DuckDB's."""
    ((planted,),) = home.query(
        "select min(e.event_id) from raw.app_events e "
        "join marts.sessions s on s.session_id = e.session_id "
        "where e.event_day = $day and s.session_day = $day and cast(s.ended_at as DATE) = $day",
        {"day": day},
    )
    assert planted is not None
    done = subprocess.run(
        [sys.executable, "-c", AS_BUILT_BEFORE, str(home.root / "lake"), planted],
        env=env,
        cwd=home.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return planted


def _jvm_options(pid: int) -> list[str]:
    """The -XX options of a running JVM, from its command line."""
    args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    assert Path(args[0]).name == "java", args[:3]
    return [a for a in args if a.startswith("-XX:")]


def _spark_run(home: Home, start, end, env: dict[str, str]) -> str:
    """`costwatch run` of the days on the Spark engine; its output."""
    done = subprocess.run(
        [COSTWATCH, "run", "--start", str(start), "--end", str(end)],
        env=env,
        cwd=home.root,  # Spark and Derby write their logs to the working folder
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done.stdout


def _build(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Both days on both engines (Spark `local[2]`), then a late file for the first day and a rerun
    of that day, on DuckDB and on the Spark cluster (reading the lake the local run wrote). One
    run on the cluster: a cluster run costs half as much again as a local one (per query, not per
    row), and the suite's 15 minutes are shared."""
    root = tmp_path_factory.mktemp("engines")
    duck = make_home(root / "duckdb", days=DEMO_DAYS, users=DEMO_USERS)
    spark = Home(root / "spark", duck.ledger)
    shutil.copytree(duck.root / "events", spark.root / "events")
    reports = provider_reports(duck.ledger)
    first, last = duck.days[0], duck.days[-1]
    assert [o.success for o in duck.run(first, last, reports)] == [True]
    local_conf = root / "local-conf"
    local_conf.mkdir()
    (local_conf / "spark-defaults.conf").write_text(SMALL_DATA_CONF + QUICK_RUN_CONF)
    raw_days = spark.root / "lake" / "raw" / "app_events"
    with fake_providers(reports):  # sets the providers' URLs and keys in os.environ
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))}
        env |= {
            "COSTWATCH_HOME": str(spark.root),
            "COSTWATCH_ENGINE": "spark",
            "COSTWATCH_RETENTION_DAYS": str(spark.retention_days),
            "COSTWATCH_SPARK_MASTER": "local[2]",
            "SPARK_CONF_DIR": str(local_conf),
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
        range_output = _spark_run(spark, first, last, env)
        # the rerun below is then the first run after the upgrade to the narrow sessions; its
        # window is the first day, so the last day's sessions come from the old table
        planted = _as_built_before(spark, last, env)
        for home in (duck, spark):  # the rerun: the same late file in both homes
            _late_file(home, first)
        assert [o.success for o in duck.run(first, first, reports)] == [True]
        before = {p.name: p.stat().st_mtime_ns for p in raw_days.glob("day-*")}
        lake = spark.root / "lake"
        # the catalog the local run kept embedded (Derby, one process at a time), now served by a
        # Hive metastore on 127.0.0.1 to every process, as a cluster's must be
        with (
            local_metastore(lake / "metastore_db", lake / "warehouse", root / "metastore") as uri,
            local_cluster(
                root / "cluster", extra_conf=QUICK_RUN_CONF, daemon_jvm=QUICK_JVM
            ) as cluster,
        ):
            daemon_options = [_jvm_options(pid) for pid in cluster.daemons]
            # the late day's files read and parsed by the cluster's tasks, however few bytes
            rerun_env = (
                env
                | cluster.env()
                | {
                    "COSTWATCH_SPARK_INGEST_MIN_MB": "0",
                    "COSTWATCH_SPARK_METASTORE_URI": uri,
                }
            )
            rerun_output = _spark_run(spark, first, first, rerun_env)
            assert len(cluster.state()["workers"]) == 2
            executors = executors_with_tasks(cluster.event_log)
    # the master and both workers are JVMs started with the quick options (Spark's launcher adds
    # -XX:+IgnoreUnrecognizedVMOptions: tests/unit/test_spark_quick_jvm.py asks Java what they do)
    assert len(daemon_options) == 3
    assert all(set(QUICK_JVM.split()) <= set(o) for o in daemon_options), daemon_options
    after = {p.name: p.stat().st_mtime_ns for p in raw_days.glob("day-*")}
    written = {"written": sorted(n for n in after if before.get(n) != after[n])}
    calls = audited_calls(root / "metastore" / "metastore.log")
    return Built(duck, spark, [range_output, rerun_output], executors, written, planted, calls)


def _the_run_used_both_workers_of_the_cluster(built: Built):
    for step in ("dbt models and tests", "archive", "publish", "report"):
        assert f"{step}: ok" in built.output, step
        assert f"{step}: ok" in built.rerun_output, step
    # the driver runs no task on a cluster; each one-core worker ran one executor
    assert len([e for e, tasks in built.executors.items() if e != "driver" and tasks > 0]) == 2


def _the_rerun_used_the_shared_metastore(built: Built):
    """The rerun's dbt found the lake's tables through the metastore service, which held the
    catalog's Derby database all along (a second process opening it embedded would have failed):
    its reads of the marts and its writes of the rebuilt tables are in the service's audit log."""
    assert {address for address, _ in built.metastore_calls} == {"127.0.0.1"}
    calls = [call for _, call in built.metastore_calls]
    assert any(c.startswith("get_table : db=marts tbl=sessions") for c in calls), calls[:20]
    assert any(c.startswith(("create_table", "alter_table", "add_partition")) for c in calls)


def _each_run_forked_dbt_the_rerun_after_stopping_its_ingestions_jvm(built: Built):
    """The range run read its kilobytes in its process (no JVM); the rerun's ingestion ran on the
    cluster, and its JVM was stopped before dbt (sources/spark/jvm.py), so both forked dbt."""
    with built.spark.active(), dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()[::-1]  # oldest first
        said = [
            [
                r.user_message
                for r in instance.all_logs(run.run_id)
                if r.user_message.startswith(("dbt forked", "dbt started", "the ingestion's"))
            ]
            for run in runs
        ]
    assert said == [
        ["dbt forked from the run's process"],
        ["the ingestion's Spark JVM stopped before dbt", "dbt forked from the run's process"],
    ]


def _the_late_days_rerun_wrote_only_its_day_of_raw_events(built: Built):
    assert built.lake_days_written == {"written": [f"day-{built.duck.days[0]}.parquet"]}
    for home in (built.duck, built.spark):  # the late session is in both, on its day
        assert home.query(
            "select session_day from marts.sessions where session_id = 'late-session'"
        ) == [(built.duck.days[0],)]


def _the_first_run_after_the_upgrade_kept_the_old_tables_sessions(built: Built):
    """The rerun found the old table (AS_BUILT_BEFORE), took the sessions of the days outside its
    window from it and replaced it with the view (as tests/integration/
    test_event_sessions_migration.py shows on DuckDB): the lake's int_event_sessions is DuckDB's,
    but for the planted session."""
    tables = built.spark.root / "lake" / "warehouse" / "intermediate.db"
    assert not (tables / "int_events_sessionized").exists()  # a view now: no files of its own
    assert not (tables / "wide").exists()
    narrow = (
        "select event_id, cast(event_day as DATE), session_id, is_derived_session from {} "
        "order by all"
    )
    lake = f"read_parquet('{tables / 'int_event_sessions'}/*/*.parquet', hive_partitioning = true)"
    with duckdb.connect() as con:
        spark = con.execute(narrow.format(lake)).fetchall()
    duck = built.duck.query(narrow.format("intermediate.int_event_sessions"))
    planted = [r for r in spark if r[2] == "kept-from-before"]
    assert [r[0] for r in planted] == [built.planted]
    assert [r for r in spark if r not in planted] == [r for r in duck if r[0] != built.planted]
    assert len(spark) == len(duck) > 0


def _relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'duck' and table_schema in (select unnest($s)) order by 1, 2",
        {"s": list(COMPARED_SCHEMAS)},
    ).fetchall()


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list:
    return con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [catalog, schema, table],
    ).fetchall()


def _differences(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> tuple[int, int, int]:
    kept = [
        (c, t)
        for c, t in _columns(con, "duck", schema, table)
        if c not in VOLATILE.get(table, ()) and not (schema == "snapshots" and c.startswith("dbt_"))
    ]
    select = ", ".join(
        f'round(cast("{c}" as DOUBLE), 9)' if t == "DOUBLE" else f'"{c}"' for c, t in kept
    )
    where = " where dbt_valid_to is null" if schema == "snapshots" else ""
    duck = f"select {select} from duck.{schema}.{table}{where}"  # noqa: S608 (catalog names)
    spark = f"select {select} from spark.{schema}.{table}{where}"  # noqa: S608
    only_duck = con.execute(f"select count(*) from ({duck} except all {spark})").fetchone()[0]  # noqa: S608
    only_spark = con.execute(f"select count(*) from ({spark} except all {duck})").fetchone()[0]  # noqa: S608
    rows = con.execute(f"select count(*) from ({duck})").fetchone()[0]  # noqa: S608
    return rows, only_duck, only_spark


def test_a_run_and_a_late_files_rerun_on_a_spark_cluster_equal_duckdb(tmp_path_factory):
    """One test whose parts share one Spark run (as separate tests they would each build it): the
    range run, then a late file for the first day and a rerun of that day, on both engines."""
    hive_folders = set(Path(tempfile.gettempdir()).glob("*_resources"))
    built = _build(tmp_path_factory)
    # Hive's per-session folder is the lake's one, not a new /tmp/<session id>_resources each
    assert set(Path(tempfile.gettempdir()).glob("*_resources")) - hive_folders == set()
    assert (built.spark.root / "lake" / "hive-resources").is_dir()
    _the_run_used_both_workers_of_the_cluster(built)
    _the_rerun_used_the_shared_metastore(built)
    _each_run_forked_dbt_the_rerun_after_stopping_its_ingestions_jvm(built)
    _the_late_days_rerun_wrote_only_its_day_of_raw_events(built)
    _the_first_run_after_the_upgrade_kept_the_old_tables_sessions(built)
    with duckdb.connect() as both:
        both.execute(f"attach '{built.duck.warehouse}' as duck (read_only)")
        both.execute(f"attach '{built.spark.warehouse}' as spark (read_only)")
        _every_mart_snapshot_and_archive_equals_duckdbs(both)
        _the_same_quarantine_line_accounting_and_checks(built, both)
    _analysts_get_the_same_answers_from_the_published_copy_and_the_lake(built)
    _the_days_are_partitions_of_the_lake(built)


def _every_mart_snapshot_and_archive_equals_duckdbs(both: duckdb.DuckDBPyConnection):
    relations = _relations(both)
    assert len(relations) >= 20
    found = {f"{s}.{t}": _differences(both, s, t) for s, t in relations}
    assert {t: d[1:] for t, d in found.items()} == {t: (0, 0) for t in found}
    for name in ("marts.interactions", "marts.sessions", "marts.provider_costs_daily",
                 "marts.parity_daily", "snapshots.user_stats_snapshot"):  # fmt: skip
        assert found[name][0] > 0, name
    # the same columns with the same types in the same order (Spark keeps a partition column
    # last; the mirror restores each mart's declared order)
    for schema, table in relations:
        duck, spark = (_columns(both, c, schema, table) for c in ("duck", "spark"))
        assert spark == duck, f"{schema}.{table}"


def _the_same_quarantine_line_accounting_and_checks(built: Built, both):
    """Spark tasks read and parsed the event files (sources/spark/ingest.py), with the same
    quarantine, line accounting, raw events and failed checks as DuckDB's ingestion."""
    range_run, rerun = _ingest_stages(built.spark)
    assert BELOW_SPARK_SIZE in range_run  # kilobytes: read in the run's process
    assert "spark tasks" in rerun  # COSTWATCH_SPARK_INGEST_MIN_MB=0: on the cluster
    assert "spark history search" in rerun  # the stored copies searched for in the lake there
    for sql in (
        "select * exclude (ingested_at) from {c}.raw.app_events",
        "select source_file, line_no, reason, raw_line from {c}.raw.event_quarantine",
        "select source_file, event_day, lines_read, accepted, quarantined, duplicates, blank "
        "from {c}.raw.event_file_stats",
    ):
        duck = sorted(both.execute(sql.format(c="duck")).fetchall())
        assert duck, sql
        assert sorted(both.execute(sql.format(c="spark")).fetchall()) == duck, sql
    # the same checks failed on both engines in the last run, the rerun (the CLI prints each)
    lines = built.rerun_output.splitlines()
    failed = sorted(line.strip() for line in lines if "failed check" in line)
    assert failed == _failed_checks(built.duck)


def _ingest_stages(home: Home) -> list[dict[str, float]]:
    """The stages of each run's ingestion (its materialization's `stage_seconds`), oldest first."""
    dg = __import__("dagster")
    with home.active(), dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(
            dg.AssetKey(["raw", "app_events"]), limit=100, ascending=True
        ).records
    runs: dict[str, dict[str, float]] = {}  # a range run records its materialization per day
    for r in records:
        stages = r.event_log_entry.asset_materialization.metadata["stage_seconds"].value
        runs.setdefault(r.run_id, dict(stages))
    return list(runs.values())


def _failed_checks(home: Home) -> list[str]:
    with home.active(), __import__("dagster").DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        records = instance.get_records_for_run(run.run_id).records
    failed = []
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None or event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        data = event.event_specific_data
        if not data.passed and data.partition is None:
            key = data.asset_check_key
            failed.append(
                f"failed check: {key.asset_key.to_user_string()}:{key.name} "
                f"({data.severity.value.lower()})"
            )
    return sorted(failed)


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


def _analysts_get_the_same_answers_from_the_published_copy_and_the_lake(built: Built):
    catalog = built.spark.root / "lake-views.duckdb"
    written = write_lake_catalog(built.spark.root / "lake", catalog, ("marts", "snapshots"))
    assert {"marts.daily_totals", "marts.sessions", "snapshots.llm_prices_snapshot"} <= set(written)
    with (
        duckdb.connect(str(built.duck.published), read_only=True) as duck,
        duckdb.connect(str(built.spark.published), read_only=True) as spark,
        duckdb.connect(str(catalog), read_only=True) as lake,
    ):
        for sql in ANALYST_QUERIES:
            expected = duck.execute(sql).fetchall()
            assert expected, sql
            assert spark.execute(sql).fetchall() == expected, sql
            assert lake.execute(sql).fetchall() == expected, sql
        # the day partition column is a DATE again, not folder text
        (kind,) = lake.execute(
            "select data_type from information_schema.columns "
            "where table_name = 'sessions' and column_name = 'session_day'"
        ).fetchone()
        assert kind == "DATE"


def _the_days_are_partitions_of_the_lake(built: Built):
    folder = built.spark.root / "lake" / "warehouse" / "marts.db" / "interactions"
    days = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert days == [f"interaction_day={d}" for d in built.duck.days]
