# ruff: noqa: E501  (tables written inline)
"""The published copy's large relations as immutable per-day Parquet files: a daily publish
writes only the days it changes, readers of an older catalog keep working, nothing is left
behind by a failed publish, and the views read back exactly the warehouse's rows and types."""

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sources.publishing import day_files
from sources.publishing.publish import publish_copy, publish_method
from sources.warehouse import note_unpublished

KEY = "pii-key-RECOGNISABLE-42"


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """Ten days of interactions (two sessions a day), sessions, and a quarantine with a row
    whose day is unknown; every type the marts use."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema archive; create schema raw")
    con.execute(
        "create table marts.interactions as select 'e' || i as event_id, "
        "'s' || (i // 2) as session_id, 'user' || (i % 3) as user_id, "
        "date '2025-01-01' + (i // 2)::INT as interaction_day, i as input_tokens, "
        "(i * 0.000000001)::DECIMAL(38, 9) as cost_usd, "
        "timestamptz '2025-01-01 00:00:00+00' + to_hours(i) as started_at, "
        "json_object('k', i) as metadata, [i, i + 1]::INTEGER[] as flags "
        "from range(20) t(i)"
    )
    con.execute(
        "create table marts.sessions as select session_id, min(interaction_day) as session_day, "
        "sum(input_tokens) as tokens from marts.interactions group by 1"
    )
    con.execute("create table archive.interactions as select * from marts.interactions limit 0")
    con.execute(
        "create table raw.event_quarantine as select * from (values "
        "('f.jsonl', 1, date '2025-01-02', 'bad', '{\"user_id\":\"user1\"}'), "
        "('f.jsonl', 2, NULL::DATE, 'no timestamp', '{')) t(file, line, event_day, reason, raw_line)"
    )
    con.execute("create table marts.daily_totals as select 1 as n")  # not day-keyed: a table
    return con


def _manifest(target: Path) -> dict[str, dict]:
    with duckdb.connect(str(target), read_only=True) as pub:
        found = day_files.read_manifest(pub, day_files.parts_root(target))
    assert found is not None
    return found


def _rows(path: Path, relation: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as pub:
        return pub.execute(f"select * from {relation} order by all").fetchall()  # noqa: S608


def test_the_views_read_back_the_warehouse_rows_and_types(tmp_path: Path):
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"})
    with duckdb.connect(str(target), read_only=True) as pub:
        kinds = dict(
            pub.execute(
                "select table_schema || '.' || table_name, table_type "
                "from information_schema.tables where table_schema in ('marts', 'archive', 'raw')"
            ).fetchall()
        )
        for relation in ("marts.interactions", "marts.sessions", "raw.event_quarantine"):
            published = pub.execute(f"describe {relation}").fetchall()
            assert [r[:2] for r in published] == [
                r[:2] for r in con.execute(f"describe {relation}").fetchall()
            ]
    assert kinds == {
        "marts.interactions": "VIEW",
        "marts.sessions": "VIEW",
        "raw.event_quarantine": "VIEW",
        "archive.interactions": "BASE TABLE",  # empty: no files, an empty table
        "marts.daily_totals": "BASE TABLE",
    }
    for relation in ("marts.interactions", "marts.sessions", "raw.event_quarantine"):
        warehouse = con.execute(f"select * from {relation} order by all").fetchall()  # noqa: S608
        assert _rows(target, relation) == warehouse
    manifest = _manifest(target)
    assert sorted(manifest["marts.interactions"]) == [
        dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(10)
    ]
    assert sorted(manifest["raw.event_quarantine"], key=str) == [dt.date(2025, 1, 2), None]
    assert all(f.rows == 2 for f in manifest["marts.interactions"].values())


def test_a_daily_publish_writes_only_the_days_it_changes(tmp_path: Path):
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"})
    before = _manifest(target)
    # the next run changes Jan 10 and adds Jan 11
    note_unpublished(con, dt.date(2025, 1, 10), dt.date(2025, 1, 11))
    con.execute(
        "update marts.interactions set input_tokens = 0 where interaction_day = '2025-01-10'"
    )
    con.execute(
        "insert into marts.interactions select 'e99', 's99', 'user0', date '2025-01-11', 5, "
        "0.5, timestamptz '2025-01-11 10:00:00+00', '{}', []"
    )
    con.execute(
        "create or replace table marts.sessions as select session_id, min(interaction_day) as "
        "session_day, sum(input_tokens) as tokens from marts.interactions group by 1"
    )
    publish_copy(con, target, {"run_id": "2"})
    assert publish_method(target) == "changed days"
    after = _manifest(target)
    for relation in ("marts.interactions", "marts.sessions"):
        unchanged = {d for d in before[relation] if d < dt.date(2025, 1, 10)}
        assert {d: after[relation][d] for d in unchanged} == {
            d: before[relation][d] for d in unchanged
        }  # the same files: not written again
        new = {d for d, f in after[relation].items() if f != before[relation].get(d)}
        assert new == {dt.date(2025, 1, 10), dt.date(2025, 1, 11)}
    # the quarantine's rows without a day are always rewritten (there is no day to refresh by)
    quarantine = [after["raw.event_quarantine"], before["raw.event_quarantine"]]
    assert quarantine[0][None] != quarantine[1][None]
    assert quarantine[0][dt.date(2025, 1, 2)] == quarantine[1][dt.date(2025, 1, 2)]
    for relation in ("marts.interactions", "marts.sessions", "raw.event_quarantine"):
        assert (
            _rows(target, relation)
            == con.execute(
                f"select * from {relation} order by all"  # noqa: S608
            ).fetchall()
        )


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
for _ in sys.stdin:
    print(con.execute("select sum(input_tokens), count(*) from marts.interactions").fetchall(), flush=True)
"""


def test_a_reader_of_the_older_catalog_keeps_reading_until_its_files_expire(tmp_path: Path):
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"})
    # an analyst's connection in another process (one process shares one instance per file)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(target)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip

    def ask() -> str:
        assert reader.stdin and reader.stdout
        reader.stdin.write("\n")
        reader.stdin.flush()
        return reader.stdout.readline().strip()

    try:
        assert ask() == "[(190, 20)]"
        note_unpublished(con, dt.date(2025, 1, 1), dt.date(2025, 1, 10))
        con.execute("update marts.interactions set input_tokens = input_tokens + 1")
        publish_copy(con, target, {"run_id": "2"})  # every day rewritten, a new catalog
        assert publish_method(target) == "changed days"
        # the open connection still reads the copy it opened, whole; a new one the new copy
        assert ask() == "[(190, 20)]"
        assert (
            _rows(target, "marts.interactions")
            == con.execute("select * from marts.interactions order by all").fetchall()
        )
        root = day_files.parts_root(target)
        folders = sorted(p.name for p in root.iterdir())
        assert len(folders) == 2  # the first publish's files are kept for its readers
        manifest = _manifest(target)
        current = day_files.referenced_publishes({r: list(d.values()) for r, d in manifest.items()})
        # a day later they go
        later = dt.datetime.now(dt.UTC) + day_files.KEEP_UNREFERENCED + dt.timedelta(minutes=1)
        assert day_files.collect_garbage(root, current, now=later) == [
            f for f in folders if f not in current
        ]
        assert sorted(p.name for p in root.iterdir()) == sorted(current)
        assert sum(r[4] for r in _rows(target, "marts.interactions")) == 190 + 20
    finally:
        reader.kill()
        reader.wait()


def test_a_publish_that_fails_leaves_the_previous_copy_and_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"})
    root = day_files.parts_root(target)
    folders = sorted(os.listdir(root))
    old = _rows(target, "marts.interactions")
    note_unpublished(con, dt.date(2025, 1, 1), dt.date(2025, 1, 10))
    con.execute("update marts.interactions set input_tokens = 0")

    def fail(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("sources.publishing.publish.write_manifest", fail)
    with pytest.raises(OSError, match="disk full"):
        publish_copy(con, target, {"run_id": "2"})
    assert sorted(os.listdir(root)) == folders
    assert _rows(target, "marts.interactions") == old
    assert not list(tmp_path.glob(".analytics.duckdb.*"))


def test_a_missing_day_file_makes_the_next_publish_a_full_copy(tmp_path: Path):
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"})
    gone = _manifest(target)["marts.sessions"][dt.date(2025, 1, 3)]
    (day_files.parts_root(target) / gone.path).unlink()  # a careless clean-up
    note_unpublished(con, dt.date(2025, 1, 10), dt.date(2025, 1, 10))
    publish_copy(con, target, {"run_id": "2"})
    assert publish_method(target) == "full copy"
    assert (
        _rows(target, "marts.sessions")
        == con.execute("select * from marts.sessions order by all").fetchall()
    )


@pytest.mark.parametrize(
    "change",
    [
        "alter table marts.interactions add column region VARCHAR default 'eu'",
        "alter table marts.interactions alter column input_tokens type DOUBLE",
        "alter table marts.interactions drop column flags",
    ],
)
def test_a_relation_whose_columns_changed_gets_every_day_written_again(tmp_path, change):
    """A new version adds, retypes or drops a mart's column: the next daily publish writes every
    day of that relation again (one view reads its files with one schema; before, the view
    mixed old and new files and failed to read), and only the changed days of the others."""
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"})
    before = _manifest(target)
    con.execute(change)
    note_unpublished(con, dt.date(2025, 1, 10), dt.date(2025, 1, 10))
    publish_copy(con, target, {"run_id": "2"})
    assert publish_method(target) == "changed days"
    after = _manifest(target)
    assert not set(after["marts.interactions"].values()) & set(
        before["marts.interactions"].values()
    )
    kept = {
        d
        for d in after["marts.sessions"]
        if after["marts.sessions"][d] == before["marts.sessions"].get(d)
    }
    assert kept == {dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(9)}  # all but Jan 10
    for relation in ("marts.interactions", "marts.sessions"):
        with duckdb.connect(str(target), read_only=True) as pub:
            published = pub.execute(f"describe {relation}").fetchall()
        assert [r[:2] for r in published] == [
            r[:2] for r in con.execute(f"describe {relation}").fetchall()
        ]  # names and types (a view has no column defaults)
        warehouse = con.execute(f"select * from {relation} order by all").fetchall()  # noqa: S608
        assert _rows(target, relation) == warehouse


def test_a_keyed_publish_writes_no_user_id_or_key_into_the_files(tmp_path: Path):
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"}, pii_key=KEY)
    files = [p for p in day_files.parts_root(target).rglob("*") if p.is_file()]
    assert len(files) == 10 + 10 + 2  # interactions, sessions, quarantine days
    assert KEY not in target.read_bytes().decode("latin-1")
    with duckdb.connect() as reader:  # values decoded (the files are compressed)
        for p in files:
            text = reader.execute(
                "select string_agg(t::VARCHAR, ' ') from read_parquet(?) t", [str(p)]
            ).fetchall()[0][0]
            assert KEY not in text and not re.search(r"\buser\d\b", text), p


def test_costwatch_sql_reads_the_day_files_and_nothing_else(tmp_path: Path):
    """`costwatch sql` has no access to other files; the published copy's own files it reads.
    Only a query runs: nothing can write over a day file."""
    import io

    from sources.publishing.query import QueryError, run_query

    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"})
    out = io.StringIO()
    n = run_query(
        target, "select sum(input_tokens), count(*) from marts.interactions", True, out=out
    )
    assert (n, out.getvalue()) == (1, "sum(input_tokens),count_star()\n190,20\n")
    day_file = (
        day_files.parts_root(target) / _manifest(target)["marts.sessions"][dt.date(2025, 1, 1)].path
    )
    before = day_file.read_bytes()
    for statement in (
        f"copy (select 1 as x) to '{day_file}' (format parquet)",
        "attach ':memory:' as other",
        "set threads = 1",
        "select 1; copy (select 1) to 'x.csv'",
        f"select * from read_text('{tmp_path / 'w.duckdb'}')",  # noqa: S608
    ):
        with pytest.raises(QueryError):
            run_query(target, statement, out=io.StringIO())
    assert day_file.read_bytes() == before


def test_the_user_snapshot_is_split_by_the_day_a_version_closed(tmp_path: Path):
    """Closed versions never change: their files stay; the current versions are rewritten."""
    con = _warehouse(tmp_path / "w.duckdb")
    con.execute("create schema snapshots")
    con.execute(
        "create table snapshots.user_stats_snapshot as select * from (values "
        "('a', 0, timestamp '2025-01-01 01:00', timestamp '2025-01-01 05:00'), "
        "('a', 1, timestamp '2025-01-01 05:00', timestamp '2025-01-02 05:00'), "
        "('a', 2, timestamp '2025-01-02 05:00', NULL), "
        "('b', 7, timestamp '2025-01-01 05:00', NULL)) t(user_id, lifetime_sessions, "
        "dbt_valid_from, dbt_valid_to)"
    )
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"})
    before = _manifest(target)["snapshots.user_stats_snapshot"]
    assert sorted(before, key=str) == [dt.date(2025, 1, 1), dt.date(2025, 1, 2), None]
    # the next build closes b's version and adds its new one
    note_unpublished(con, dt.date(2025, 1, 3), dt.date(2025, 1, 3))
    con.execute(
        "update snapshots.user_stats_snapshot set dbt_valid_to = timestamp '2025-01-03 06:00' "
        "where user_id = 'b'"
    )
    con.execute(
        "insert into snapshots.user_stats_snapshot values "
        "('b', 8, timestamp '2025-01-03 06:00', NULL)"
    )
    publish_copy(con, target, {"run_id": "2"})
    assert publish_method(target) == "changed days"
    after = _manifest(target)["snapshots.user_stats_snapshot"]
    assert after[dt.date(2025, 1, 1)] == before[dt.date(2025, 1, 1)]  # a's first version
    assert after[None] != before[None]  # the current versions
    assert sorted(after, key=str) == [
        dt.date(2025, 1, 1), dt.date(2025, 1, 2), dt.date(2025, 1, 3), None,
    ]  # fmt: skip
    warehouse = con.execute("select * from snapshots.user_stats_snapshot order by all").fetchall()
    assert _rows(target, "snapshots.user_stats_snapshot") == warehouse
    with duckdb.connect(str(target), read_only=True) as pub:
        assert [r[0] for r in pub.execute("describe snapshots.user_stats_snapshot").fetchall()] == [
            "user_id", "lifetime_sessions", "dbt_valid_from", "dbt_valid_to",
        ]  # fmt: skip


def _file(root: Path, day_file: day_files.DayFile) -> tuple[list, list]:
    """A day file's columns (name, type) and its rows, read as Parquet alone."""
    with duckdb.connect() as con:
        path = {"p": str(root / day_file.path)}
        return (
            con.execute("select name, type from parquet_schema($p)", path).fetchall(),
            con.execute(
                "select * from read_parquet($p, hive_partitioning = false) order by all", path
            ).fetchall(),
        )


@pytest.mark.parametrize("key", [None, KEY])
def test_a_refresh_writes_each_day_file_as_a_full_copy_writes_it(
    tmp_path: Path, key, monkeypatch: pytest.MonkeyPatch
):
    """A refresh writes its days one COPY each, several at once; a full copy of a table whose
    row groups mix many days writes every day in one partitioned COPY (forced here). Each
    day's file is the same either way: its columns (the day column left to the folder's name,
    the snapshot's closing day too), its rows; a changed day with no rows gets no file."""
    con = _warehouse(tmp_path / "w.duckdb")
    con.execute("set threads = 3")
    con.execute("create schema snapshots")
    con.execute(
        "create table snapshots.user_stats_snapshot as select 'u' || i as user_id, "
        "i as lifetime_sessions, timestamp '2025-01-01 01:00' + to_hours(i * 7) as dbt_valid_from,"
        " timestamp '2025-01-01 05:00' + to_hours(i * 9) as dbt_valid_to from range(12) t(i)"
    )
    refreshed, full = tmp_path / "refreshed.duckdb", tmp_path / "full.duckdb"
    publish_copy(con, refreshed, {"run_id": "1"}, key)
    note_unpublished(con, dt.date(2025, 1, 1), dt.date(2025, 1, 12))  # Jan 11 and 12: no rows
    publish_copy(con, refreshed, {"run_id": "2"}, key)
    assert publish_method(refreshed) == "changed days"
    monkeypatch.setattr(day_files, "PER_DAY_READS", 0)  # every day table as if mixed
    publish_copy(con, full, {"run_id": "3"}, key)
    assert publish_method(full) == "full copy"
    got, want = _manifest(refreshed), _manifest(full)
    assert all("/all/" in f.path for r in want.values() for f in r.values())  # the partitioned COPY
    assert {r: sorted(f, key=str) for r, f in got.items()} == {
        r: sorted(f, key=str) for r, f in want.items()
    }
    assert dt.date(2025, 1, 11) not in got["marts.interactions"]
    for relation in ("marts.interactions", "marts.sessions", "snapshots.user_stats_snapshot"):
        for day, day_file in got[relation].items():
            assert "/days/" in day_file.path or day is None
            mine = _file(day_files.parts_root(refreshed), day_file)
            theirs = _file(day_files.parts_root(full), want[relation][day])
            assert mine == theirs, (relation, day)
            assert day_file.rows == want[relation][day].rows == len(mine[1])


def test_a_full_copy_writes_a_day_per_copy_unless_row_groups_mix_too_many_days(tmp_path: Path):
    """A full copy writes a COPY per day where the table's row groups hold few days each (the
    per-day filters skip the others), and the one-pass partitioned COPY where they mix more than
    PER_DAY_READS days (each filter would read most of the table); each file holds its day's
    rows. The day computed from another column (the snapshot's) and a view always take the
    partitioned COPY."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema marts")
    for name, days in (("few", day_files.PER_DAY_READS), ("many", day_files.PER_DAY_READS + 1)):
        # one row group: 10 rows of each day, every day in its min-max range
        con.execute(
            f"create table marts.{name} as select i, date '2025-01-01' + (i % {days})::INT "  # noqa: S608
            f"as interaction_day from range({10 * days}) t(i)"
        )
        con.execute(f"insert into marts.{name} values (-1, NULL)")  # noqa: S608 (a row, no day)
    con.execute("checkpoint")
    part = day_files.Partition("interaction_day")
    few = day_files.full_copy_days(con, "marts.few", part)
    assert few == [dt.date(2025, 1, 1) + dt.timedelta(days=d) for d in range(32)]
    assert day_files.full_copy_days(con, "marts.many", part) is None
    con.execute("create view marts.v as select * from marts.few")
    assert day_files.full_copy_days(con, "marts.v", part) is None
    computed = day_files.Partition("closed_day", "i::DATE", "i")
    assert day_files.full_copy_days(con, "marts.few", computed) is None

    def written(table: str, folder: str) -> list[tuple]:
        files = day_files.write_days(con, f"marts.{table}", "*", {}, part, tmp_path, folder, None)
        return sorted((f.day is None, f.day, f.rows, Path(f.path).parts[1]) for f in files)

    per_day = written("few", "a")
    assert [(d, n, how) for _, d, n, how in per_day] == [
        *((dt.date(2025, 1, 1) + dt.timedelta(days=d), 10, "days") for d in range(32)),
        (None, 1, "none"),
    ]
    many = written("many", "b")  # 33 days in its row group: the partitioned COPY
    assert {how for *_, how in many} == {"all"} and len(many) == 34
    with duckdb.connect() as reader:
        for _, day, rows, _how in per_day:
            where = "interaction_day is null" if day is None else f"interaction_day = '{day}'"
            want = con.execute(f"select i from marts.few where {where} order by 1").fetchall()  # noqa: S608
            path = next(
                f
                for f in (tmp_path / "a").rglob("*.parquet")
                if (day is None and "none" in f.parts) or (day and f"={day}" in str(f))
            )
            got = reader.execute(
                "select i from read_parquet($p, hive_partitioning = false) order by 1",
                {"p": str(path)},
            ).fetchall()
            assert got == want and len(got) == rows
