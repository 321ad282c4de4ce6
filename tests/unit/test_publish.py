# ruff: noqa: E501  (tables written inline)
"""The published copy: atomic, complete, and pseudonymised when COSTWATCH_PII_KEY is set."""

import hashlib
from pathlib import Path

import duckdb

from sources.warehouse import publish_copy

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
