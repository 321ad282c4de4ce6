"""The warehouse and the Spark lake kept in step (sources/spark/lake.py), on Parquet folders laid
out as Spark writes them (`<lake>/warehouse/<schema>.db/<table>/<column>=<day>/part-*.parquet`),
written here with DuckDB: no Spark needed to check which days are copied back."""

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from sources.spark import lake
from sources.spark.catalog import write_lake_catalog
from sources.spark.lake import Relation

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
INTERACTIONS = Relation(
    "marts", "interactions", ("event_id", "cost_usd", "metadata", "interaction_day"),
    ("varchar", "decimal(38,18)", "json", "date"),
)  # fmt: skip


def _write_day(root: Path, relation: Relation, day: dt.date, rows: list[tuple]) -> None:
    """One day partition as Spark leaves it after an append (the partition column only in the
    folder name). Rows of (event_id, cost_usd, metadata), and a `region` when a fourth value is
    given (a version whose model added that column)."""
    folder = lake.lake_folder(root, relation) / f"interaction_day={day}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    names = ("event_id", "cost_usd", "metadata", "region")[: len(rows[0])]
    values = ", ".join(
        "(" + ", ".join(f"'{v}'" if n != "cost_usd" else f"{v}::DECIMAL(38,18)"
                        for n, v in zip(names, row, strict=True)) + ")"
        for row in rows
    )  # fmt: skip
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from (values {values}) t({', '.join(names)})) "  # noqa: S608
            f"to '{folder}/part-00000.snappy.parquet' (format parquet)"
        )


def _rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select interaction_day, event_id, cost_usd from marts.interactions order by all"
    ).fetchall()


def _age(root: Path, relation: Relation, day: dt.date) -> None:
    """Files written before the last mirror (their modification time in the past)."""
    for f in (lake.lake_folder(root, relation) / f"interaction_day={day}").iterdir():
        os.utime(f, (1_000_000_000, 1_000_000_000))


def test_first_mirror_creates_the_declared_table_then_copies_only_changed_days(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    _write_day(tmp_path, INTERACTIONS, D1, [("a", "1.000000000000000001", "{}")])
    _write_day(tmp_path, INTERACTIONS, D2, [("b", "2", "{}")])
    since = lake.mirror_since(tmp_path)
    assert since == 0  # nothing mirrored yet: every partition is new
    done = lake.mirror(con, tmp_path, [INTERACTIONS], since)
    lake.commit_mirror(tmp_path)
    assert [(m.relation, m.how) for m in done] == [("marts.interactions", "whole")]
    # the declared order and types (Spark put the day last; it has no JSON type)
    assert con.execute("describe marts.interactions").fetchall()[2][:2] == ("metadata", "JSON")
    assert [r[0] for r in con.execute("describe marts.interactions").fetchall()] == list(
        INTERACTIONS.columns
    )
    assert _rows(con) == [(D1, "a", Decimal("1.000000000000000001")),
                          (D2, "b", 2)]  # fmt: skip

    # the archive moved D1 out of the warehouse's marts (the lake keeps it)
    con.execute("delete from marts.interactions where interaction_day = ?", [D1])
    for day in (D1, D2):
        _age(tmp_path, INTERACTIONS, day)
    # the next build rewrote D2, added D3 and dropped nothing
    since = lake.mirror_since(tmp_path)
    _write_day(tmp_path, INTERACTIONS, D2, [("b", "3", "{}"), ("c", "4", "{}")])
    _write_day(tmp_path, INTERACTIONS, D3, [("d", "5", "{}")])
    (done,) = lake.mirror(con, tmp_path, [INTERACTIONS], since)
    lake.commit_mirror(tmp_path)
    assert (done.how, done.days) == ("days", [D2, D3])
    assert _rows(con) == [(D2, "b", 3), (D2, "c", 4), (D3, "d", 5)]  # D1 stays archived


WITH_REGION = Relation(
    "marts", "interactions", (*INTERACTIONS.columns[:-1], "region", "interaction_day"),
    (*INTERACTIONS.types[:-1], "varchar", "date"),
)  # fmt: skip


def test_a_column_a_new_version_adds_reaches_the_warehouse_and_old_days_read_null(tmp_path):
    """The lake's older partitions lack the column (dbt's `append_new_columns`): the mirror adds
    it to the warehouse table and copies the changed days; a first mirror of such a lake reads
    every partition by name (before: a binder error, or a schema mismatch across files)."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    _write_day(tmp_path, INTERACTIONS, D1, [("a", "1", "{}")])
    _write_day(tmp_path, INTERACTIONS, D2, [("b", "2", "{}")])
    lake.mirror(con, tmp_path, [INTERACTIONS], lake.mirror_since(tmp_path))
    lake.commit_mirror(tmp_path)
    for day in (D1, D2):
        _age(tmp_path, INTERACTIONS, day)
    since = lake.mirror_since(tmp_path)
    _write_day(tmp_path, INTERACTIONS, D2, [("b", "3", "{}", "eu")])
    _write_day(tmp_path, INTERACTIONS, D3, [("c", "4", "{}", "us")])
    (done,) = lake.mirror(con, tmp_path, [WITH_REGION], since)
    assert (done.how, done.days) == ("days", [D2, D3])
    expected = [(D1, "a", None), (D2, "b", "eu"), (D3, "c", "us")]
    query = "select interaction_day, event_id, region from marts.interactions order by all"
    assert con.execute(query).fetchall() == expected
    fresh = duckdb.connect(str(tmp_path / "fresh.duckdb"))
    lake.mirror(fresh, tmp_path, [WITH_REGION], 0)
    assert fresh.execute(query).fetchall() == expected
    assert [r[0] for r in fresh.execute("describe marts.interactions").fetchall()] == list(
        WITH_REGION.columns
    )
    catalog = tmp_path / "lake.duckdb"  # the analysts' views straight over the lake, too
    assert write_lake_catalog(tmp_path, catalog, ("marts",)) == ["marts.interactions"]
    with duckdb.connect(str(catalog), read_only=True) as views:
        assert views.execute(query).fetchall() == expected


def test_a_day_the_build_emptied_is_emptied_in_the_warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    for day, event in ((D1, "a"), (D2, "b")):
        _write_day(tmp_path, INTERACTIONS, day, [(event, "1", "{}")])
    lake.mirror(con, tmp_path, [INTERACTIONS], lake.mirror_since(tmp_path))
    lake.commit_mirror(tmp_path)
    for day in (D1, D2):
        _age(tmp_path, INTERACTIONS, day)
    since = lake.mirror_since(tmp_path)
    folder = lake.lake_folder(tmp_path, INTERACTIONS) / f"interaction_day={D2}"
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()  # Spark dropped the partition and appended no row for that day
    (done,) = lake.mirror(con, tmp_path, [INTERACTIONS], since)
    assert (done.how, done.days) == ("days", [D2])
    assert _rows(con) == [(D1, "a", 1)]


def test_a_failed_build_leaves_the_mark_so_the_next_mirror_copies_its_days(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    _write_day(tmp_path, INTERACTIONS, D1, [("a", "1", "{}")])
    lake.mirror(con, tmp_path, [INTERACTIONS], lake.mirror_since(tmp_path))
    lake.commit_mirror(tmp_path)
    _age(tmp_path, INTERACTIONS, D1)
    # a build rewrites D1 on Spark, then fails before its mirror (no commit)
    lake.mirror_since(tmp_path)
    _write_day(tmp_path, INTERACTIONS, D1, [("a", "7", "{}")])
    # the next build starts: its mark is still the last completed mirror's
    since = lake.mirror_since(tmp_path)
    (done,) = lake.mirror(con, tmp_path, [INTERACTIONS], since)
    assert done.days == [D1]
    assert _rows(con) == [(D1, "a", 7)]


def test_an_empty_lake_table_and_an_unpartitioned_one(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    empty = Relation(
        "marts", "budget_alerts", ("alert_id", "amount_usd"), ("varchar", "decimal(38,9)")
    )
    lake.lake_folder(tmp_path, empty).mkdir(parents=True)  # Spark wrote no file: no rows
    totals = Relation("marts", "daily_totals")  # no enforced contract: the lake's columns
    folder = lake.lake_folder(tmp_path, totals)
    folder.mkdir(parents=True)
    con.execute(f"copy (select 1 as n, 'x' as label) to '{folder}/part-0.parquet' (format parquet)")
    lake.mirror(con, tmp_path, [empty, totals], 0)
    assert con.execute("select count(*) from marts.budget_alerts").fetchone() == (0,)
    assert con.execute("describe marts.budget_alerts").fetchall()[1][1] == "DECIMAL(38,9)"
    assert con.execute("select * from marts.daily_totals").fetchall() == [(1, "x")]
    undeclared = Relation("marts", "model_daily")
    lake.lake_folder(tmp_path, undeclared).mkdir(parents=True)
    with pytest.raises(RuntimeError, match="not declared"):
        lake.mirror(con, tmp_path, [undeclared], 0)
    with pytest.raises(RuntimeError, match="not in the lake"):
        lake.mirror(con, tmp_path, [Relation("marts", "sessions")], 0)


def test_export_writes_each_source_whole_and_names_a_missing_one(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.app_events as select range as n from range(5)")
    assert lake.export_sources(con, tmp_path, [("raw", "app_events")]) == {"raw.app_events": 5}
    con.execute("insert into raw.app_events values (99)")
    lake.export_sources(con, tmp_path, [("raw", "app_events")])
    files = sorted(p.name for p in (tmp_path / "raw").iterdir())
    assert files == ["app_events"]  # the previous copy replaced, nothing left aside
    (count,) = con.execute(
        f"select count(*) from read_parquet('{tmp_path}/raw/app_events/*.parquet')"  # noqa: S608
    ).fetchone()
    assert count == 6
    with pytest.raises(RuntimeError, match=r"raw\.provider_usage is not in the warehouse"):
        lake.export_sources(con, tmp_path, [("raw", "provider_usage")])


def test_the_relations_and_sources_come_from_the_manifest():
    from assets.dbt import MANIFEST

    sources = lake.dbt_sources(MANIFEST)
    assert ("raw", "app_events") in sources and ("raw", "llm_prices") in sources
    relations = {f"{r.schema}.{r.name}": r for r in lake.mirrored_relations(MANIFEST)}
    assert {"marts.interactions", "marts.sessions", "snapshots.user_stats_snapshot"} <= set(
        relations
    )
    assert not [n for n in relations if n.startswith(("staging.", "intermediate."))]
    assert relations["marts.interactions"].columns[0] == "event_id"
    assert relations["marts.interactions"].types  # contracted: declared types


def test_every_mart_declares_its_columns_in_order_with_types():
    """On Spark a day-partitioned table keeps its partition column last; the mirror restores the
    declared order, so `select *` gives the same columns in the same order on both engines only
    if every mart declares them all (an enforced contract: on DuckDB it fails a build whose
    columns differ from the declaration)."""
    from assets.dbt import MANIFEST

    marts = [r for r in lake.mirrored_relations(MANIFEST) if r.schema == "marts"]
    assert len(marts) >= 15
    assert [r.name for r in marts if not (r.columns and all(r.types))] == []
