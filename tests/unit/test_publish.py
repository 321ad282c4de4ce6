# ruff: noqa: E501  (tables written inline)
"""The published copy: atomic, complete, and pseudonymised when COSTWATCH_PII_KEY is set."""

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb

from sources.publishing.publish import publish_copy, publish_method
from sources.warehouse import note_unpublished

KEY = "pii-key-RECOGNISABLE-42"


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema raw")
    con.execute(
        "create table marts.sessions as select * from (values ('s1', 'alice'), ('s2', 'bob')) t(session_id, user_id)"
    )
    con.execute("create table marts.focus_costs as select 'alice' as x_user_id, 1.5 as cost")
    con.execute(
        "create table marts.budget_status as select * from (values ('user', 'alice'), "
        "('project', 'proj_main')) t(scope, scope_id)"
    )
    con.execute('create table raw.event_quarantine as select \'{"user_id":"alice"}\' as raw_line')
    return con


def _pseudonym(user: str) -> str:
    return "u_" + hashlib.sha256(f"{KEY}|{user}".encode()).hexdigest()[:20]


def test_pseudonymised_copy(tmp_path: Path):
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    counts = publish_copy(con, target, {"run_id": "r"}, pii_key=KEY)
    con.close()
    assert counts == {
        "marts.budget_status": 2,
        "marts.focus_costs": 1,
        "marts.sessions": 2,
        "raw.event_quarantine": 1,
    }
    with duckdb.connect(str(target), read_only=True) as pub:
        assert pub.execute(
            "select session_id, user_id from marts.sessions order by 1"
        ).fetchall() == [("s1", _pseudonym("alice")), ("s2", _pseudonym("bob"))]
        assert pub.execute("select x_user_id from marts.focus_costs").fetchall() == [
            (_pseudonym("alice"),)
        ]
        assert pub.execute(
            "select scope_id from marts.budget_status order by scope"
        ).fetchall() == [("proj_main",), (_pseudonym("alice"),)]
        assert (
            "alice" not in pub.execute("select raw_line from raw.event_quarantine").fetchall()[0][0]
        )
        assert pub.execute("select user_ids_pseudonymised from meta.publish_info").fetchall() == [
            (True,)
        ]
    data = target.read_bytes()
    assert KEY.encode() not in data and b"alice" not in data


def test_plain_copy_without_a_key(tmp_path: Path):
    con = _warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "r"})
    con.close()
    with duckdb.connect(str(target), read_only=True) as pub:
        assert pub.execute("select user_id from marts.sessions order by 1").fetchall() == [
            ("alice",),
            ("bob",),
        ]


def _history_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """Ten days of interactions and sessions (two per day), nothing archived yet."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema archive")
    con.execute(
        "create table marts.interactions as select 'e' || i as event_id, 's' || (i // 2) as "
        "session_id, 'user' || (i % 3) as user_id, date '2025-01-01' + (i // 2)::INT as "
        "interaction_day, i as input_tokens from range(20) t(i)"
    )
    con.execute(
        "create table marts.sessions as select session_id, min(interaction_day) as session_day, "
        "sum(input_tokens) as tokens from marts.interactions group by 1"
    )
    con.execute("create table archive.interactions as select * from marts.interactions limit 0")
    return con


def _tables(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as pub:
        names = pub.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'archive')"
        ).fetchall()
        return {n: pub.execute(f"select * from {n} order by all").fetchall() for (n,) in names}  # noqa: S608


def test_a_daily_publish_refreshes_the_changed_days_and_equals_a_full_copy(tmp_path: Path):
    con = _history_warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    note_unpublished(con, dt.date(2025, 1, 1), dt.date(2025, 1, 10))
    publish_copy(con, target, {"run_id": "1"})
    assert publish_method(target) == "full copy"  # no earlier copy to start from
    # the next run: rebuilds Jan 10, adds Jan 11, archives Jan 1, and a late event of Jan 11
    # lands in the session of Jan 1 (rebuilt although its day is outside the window)
    note_unpublished(con, dt.date(2025, 1, 10), dt.date(2025, 1, 11))
    con.execute(
        "update marts.interactions set input_tokens = 100 where interaction_day = '2025-01-10'"
    )
    con.execute(
        "insert into marts.interactions values ('e20', 's10', 'user2', '2025-01-11', 5), "
        "('e21', 's0', 'user0', '2025-01-11', 7)"
    )
    con.execute(
        "insert into archive.interactions select * from marts.interactions where interaction_day = '2025-01-01'"
    )
    con.execute("delete from marts.interactions where interaction_day = '2025-01-01'")
    con.execute(
        "create or replace table marts.sessions as select session_id, min(interaction_day) as "
        "session_day, sum(input_tokens) as tokens from (select * from marts.interactions "
        "union all select * from archive.interactions) group by 1"
    )
    counts = publish_copy(con, target, {"run_id": "2"})
    assert publish_method(target) == "changed days"
    assert counts["marts.interactions"] == 20 and counts["archive.interactions"] == 2
    refreshed = _tables(target)
    full = tmp_path / "full.duckdb"
    publish_copy(con, full, {"run_id": "full"})  # the journal is empty now: still a full copy
    assert publish_method(full) == "full copy"
    assert refreshed == _tables(full)
    assert ("s0", dt.date(2025, 1, 1), 0 + 1 + 7) in refreshed["marts.sessions"]
    assert con.execute("select count(*) from meta.unpublished_windows").fetchall() == [(0,)]


def test_a_change_outside_the_recorded_days_falls_back_to_a_full_copy(tmp_path: Path):
    con = _history_warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "1"})
    note_unpublished(con, dt.date(2025, 1, 10), dt.date(2025, 1, 10))
    con.execute("delete from marts.interactions where event_id = 'e0'")  # Jan 1: not recorded
    publish_copy(con, target, {"run_id": "2"})
    assert publish_method(target).startswith("full copy (refreshing the changed days did not match")
    assert len(_tables(target)["marts.interactions"]) == 19


def test_a_new_key_republishes_every_row(tmp_path: Path):
    con = _history_warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    note_unpublished(con, dt.date(2025, 1, 1), dt.date(2025, 1, 10))
    publish_copy(con, target, {"run_id": "1"}, pii_key=KEY)
    note_unpublished(con, dt.date(2025, 1, 10), dt.date(2025, 1, 10))
    publish_copy(con, target, {"run_id": "2"}, pii_key="another-key")
    assert publish_method(target) == "full copy"
    users = {r[2] for r in _tables(target)["marts.interactions"]}
    assert users == {
        "u_" + hashlib.sha256(f"another-key|user{i}".encode()).hexdigest()[:20] for i in range(3)
    }


def test_the_python_pseudonym_is_the_one_the_publish_writes():
    """The guard looks users up by user_pseudonym(); the publish writes PSEUDONYM in SQL."""
    from sources.publishing.pseudonyms import PSEUDONYM, user_pseudonym

    with duckdb.connect() as con:
        for user in ("u1", "user with spaces", "ünïcode-ユーザー", "x|y"):
            (sql,) = con.execute(
                f"select {PSEUDONYM.format(col='$user')}",
                {"pii_key": "k3y|x", "user": user},
            ).fetchone()
            assert sql == user_pseudonym("k3y|x", user)


def test_the_publish_records_how_and_with_what_key(tmp_path: Path):
    con = _history_warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "nested" / "folder" / "analytics.duckdb"
    publish_copy(con, target, {"run_id": "r1"}, pii_key=KEY, metadata_keys=("b", "a", "b"))
    with duckdb.connect(str(target), read_only=True) as pub:
        (info, pseudonymised, age) = pub.execute(
            "select info::VARCHAR, user_ids_pseudonymised, "
            "epoch(now()::TIMESTAMP - published_at) from meta.publish_info"
        ).fetchall()[0]
    fingerprint = hashlib.sha256(f"costwatch-publish-fingerprint|{KEY}".encode()).hexdigest()[:16]
    assert json.loads(info) == {
        "run_id": "r1", "pii": fingerprint, "metadata_keys": "a,b", "method": "full copy",
        "layout": "catalog + parquet days v1",
    }  # fmt: skip
    assert pseudonymised is True and 0 <= age < 3600
    assert KEY not in target.read_bytes().decode("latin-1")
    publish_copy(con, target, {"run_id": "r2"})
    with duckdb.connect(str(target), read_only=True) as pub:
        assert pub.execute(
            "select info->>'pii', info->>'metadata_keys', user_ids_pseudonymised "
            "from meta.publish_info"
        ).fetchall() == [("", "", False)]


def test_an_unreadable_previous_copy_is_replaced_by_a_full_copy(tmp_path: Path):
    con = _history_warehouse(tmp_path / "w.duckdb")
    target = tmp_path / "analytics.duckdb"
    target.write_bytes(b"not a database")
    note_unpublished(con, dt.date(2025, 1, 10), dt.date(2025, 1, 10))
    publish_copy(con, target, {"run_id": "1"})
    assert publish_method(target) == "full copy"
    assert len(_tables(target)["marts.interactions"]) == 20


def test_an_identifier_with_quotes_or_odd_characters_is_quoted_whole():
    from sources.warehouse import ident

    con = duckdb.connect()
    name = 'we"ird; drop table x --'
    assert ident(name) == '"we""ird; drop table x --"'
    con.execute(f"create table {ident(name)} as select 1 as {ident('a b')}")
    assert con.execute(f"select {ident('a b')} from {ident(name)}").fetchall() == [(1,)]  # noqa: S608
