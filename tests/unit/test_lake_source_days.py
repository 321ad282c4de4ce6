"""The raw event tables written to the lake by day (sources/spark/source_days.py): a build's copy
writes the days that changed, removes the days the warehouse no longer has, and the folder always
reads as the warehouse table. Checked with DuckDB reading the folder as Spark reads it (every
Parquet file not starting with `.` or `_`)."""

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from sources.spark import lake

T1 = dt.datetime(2026, 11, 1, 3, 0)
T2 = dt.datetime(2026, 11, 2, 3, 0)


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema raw")
    con.execute(
        "create table raw.app_events (event_id VARCHAR, event_day DATE, ingested_at TIMESTAMP)"
    )
    return con


def _ingest(con: duckdb.DuckDBPyConnection, day: str, ids: list[str], at: dt.datetime) -> None:
    """As ingestion does: a day replaced whole, every row stamped with the run's time."""
    con.execute("delete from raw.app_events where event_day = ?::DATE", [day])
    for event_id in ids:
        con.execute("insert into raw.app_events values (?, ?::DATE, ?)", [event_id, day, at])


def _export(con: duckdb.DuckDBPyConnection, root: Path) -> dict:
    return lake.export_sources(con, root, [("raw", "app_events")])


def _folder(root: Path) -> Path:
    return root / "raw" / "app_events"


def _as_spark_reads(con: duckdb.DuckDBPyConnection, root: Path) -> list[tuple]:
    files = sorted(
        str(p) for p in _folder(root).glob("*.parquet") if not p.name.startswith((".", "_"))
    )
    return con.execute(
        "select event_id, event_day, ingested_at from read_parquet(?) order by all", [files]
    ).fetchall()


def _table(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("select * from raw.app_events order by all").fetchall()


def _mtimes(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in _folder(root).glob("day-*.parquet")}


def test_only_the_days_that_changed_are_written_and_gone_days_removed(con, tmp_path: Path):
    _ingest(con, "2026-11-01", ["a", "b"], T1)
    _ingest(con, "2026-11-02", ["c"], T1)
    _ingest(con, "2026-11-03", ["d"], T1)
    assert _export(con, tmp_path) == {"raw.app_events": 4}
    assert sorted(p.name for p in _folder(tmp_path).iterdir()) == [
        "_days.json",
        "day-2026-11-01.parquet",
        "day-2026-11-02.parquet",
        "day-2026-11-03.parquet",
        "schema.parquet",
    ]
    assert _as_spark_reads(con, tmp_path) == _table(con)
    before = _mtimes(tmp_path)
    assert _export(con, tmp_path) == {"raw.app_events": 0}  # nothing changed: nothing written
    assert _mtimes(tmp_path) == before
    # day 2 ingested again (one more event), day 3 gone from the warehouse
    _ingest(con, "2026-11-02", ["c", "e"], T2)
    con.execute("delete from raw.app_events where event_day = '2026-11-03'")
    assert _export(con, tmp_path) == {"raw.app_events": 2}
    after = _mtimes(tmp_path)
    assert set(after) == {"day-2026-11-01.parquet", "day-2026-11-02.parquet"}
    assert after["day-2026-11-01.parquet"] == before["day-2026-11-01.parquet"]
    assert after["day-2026-11-02.parquet"] != before["day-2026-11-02.parquet"]
    assert _as_spark_reads(con, tmp_path) == _table(con)


def test_the_same_rows_ingested_again_are_written_again(con, tmp_path: Path):
    """A rerun of a day with unchanged files gives the same row count: its new `ingested_at` is
    what tells the export that the day was replaced."""
    _ingest(con, "2026-11-01", ["a"], T1)
    _export(con, tmp_path)
    _ingest(con, "2026-11-01", ["b"], T2)  # same count, other rows
    assert _export(con, tmp_path) == {"raw.app_events": 1}
    assert _as_spark_reads(con, tmp_path) == _table(con)


def test_a_killed_export_and_an_earlier_layout_are_put_right(con, tmp_path: Path):
    _ingest(con, "2026-11-01", ["a"], T1)
    _ingest(con, "2026-11-02", ["b"], T1)
    folder = _folder(tmp_path)
    folder.mkdir(parents=True)
    # a whole-table copy of an earlier version, and a half-written day file left by a kill
    con.execute(f"copy raw.app_events to '{folder / 'part-0.parquet'}' (format parquet)")
    (folder / ".day-2026-11-01.parquet.tmp").write_bytes(b"PAR1 half")
    assert _export(con, tmp_path) == {"raw.app_events": 2}
    assert not (folder / "part-0.parquet").exists()
    assert not (folder / ".day-2026-11-01.parquet.tmp").exists()
    assert _as_spark_reads(con, tmp_path) == _table(con)
    # killed after writing a day's file but before its state: that day is written again
    _ingest(con, "2026-11-02", ["b", "c"], T2)
    (folder / "_days.json").unlink()
    assert _export(con, tmp_path) == {"raw.app_events": 3}
    assert _as_spark_reads(con, tmp_path) == _table(con)


def test_a_new_column_rewrites_every_day_and_an_empty_table_still_has_its_columns(
    con, tmp_path: Path
):
    _export(con, tmp_path)  # no rows yet: the schema file alone
    folder = _folder(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["_days.json", "schema.parquet"]
    described = con.execute(
        "describe select * from read_parquet(?)", [str(folder / "schema.parquet")]
    ).fetchall()
    assert [(c, t) for c, t, *_ in described] == [
        ("event_id", "VARCHAR"),
        ("event_day", "DATE"),
        ("ingested_at", "TIMESTAMP"),
    ]
    _ingest(con, "2026-11-01", ["a"], T1)
    _ingest(con, "2026-11-02", ["b"], T1)
    _export(con, tmp_path)
    con.execute("alter table raw.app_events add column event_id_hash UBIGINT default 7")
    assert _export(con, tmp_path) == {"raw.app_events": 2}
    for name in ("schema.parquet", "day-2026-11-01.parquet"):
        cols = con.execute(
            "describe select * from read_parquet(?)", [str(folder / name)]
        ).fetchall()
        assert [c for c, *_ in cols][-1] == "event_id_hash"


def test_a_table_without_days_is_still_copied_whole(con, tmp_path: Path):
    con.execute("create table raw.rate_card as select range as n from range(3)")
    assert lake.export_sources(con, tmp_path, [("raw", "rate_card")]) == {"raw.rate_card": 3}
    assert [p.name for p in (tmp_path / "raw" / "rate_card").iterdir()] == ["part-0.parquet"]
