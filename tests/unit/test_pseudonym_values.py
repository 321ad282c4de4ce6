"""Every kind of user-derived column as the pseudonymised publish writes it
(sources/publishing/pseudonyms.py), value by value against keyed hashes computed here in Python:
users, logged and derived sessions, budget scopes (and a scope raised under another key), hash
ids, metadata keys, raw lines; the other columns unchanged."""

import hashlib
import json

import duckdb
import pytest

from sources.publishing.pseudonyms import Pseudonymisation, key_fingerprint, select_list

KEY = "k3y-for-tests"


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


ROWS = [
    # user_id, x_user_id, session_id, scope, scope_id, fp, dbt_scd_id, alert_id, metadata, raw
    ("alice", "bob", "derived-abc", "user", "carol", "", "scd1", "al1", '{"a": 1, "b": 2}', "x"),
    ("alice", "bob", "s-logged", "session", "derived-xyz", "", "scd2", "al2", None, "y"),
    ("alice", "bob", "s-logged", "project", "proj_1", "", "scd3", "al3", '{"c.d": [1]}', "z"),
    ("alice", "bob", "s-logged", "user", "u_already", "fp-old", "scd4", "al4", "{}", "w"),
]


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(
        "create schema marts; create table marts.t (user_id VARCHAR, x_user_id VARCHAR, "
        "session_id VARCHAR, scope VARCHAR, scope_id VARCHAR, pseudonym_fingerprint VARCHAR, "
        "dbt_scd_id VARCHAR, alert_id VARCHAR, metadata JSON, raw_line VARCHAR, "
        "amount DECIMAL(18,9))"
    )
    con.executemany(
        "insert into marts.t values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1.5)", [list(r) for r in ROWS]
    )
    return con


def _published(con, metadata_keys: tuple[str, ...]) -> list[tuple]:
    select = select_list(con, "marts", "t", True, metadata_keys)
    params = Pseudonymisation(KEY, metadata_keys).params(select)
    return con.execute(f"select {select} from marts.t", params).fetchall()  # noqa: S608


def _user(u: str) -> str:
    return "u_" + _h(f"{KEY}|{u}")[:20]


def _session(s: str) -> str:
    return "derived-" + _h(f"{KEY}|session|{s}")[:32] if s.startswith("derived-") else s


def test_every_user_derived_column_is_keyed_and_the_rest_unchanged(con):
    hidden = "(hidden: COSTWATCH_PII_KEY is set)"
    expected = []
    for user, x_user, session, scope, scope_id, fp, scd, alert, _meta, _raw in ROWS:
        if fp:
            published_scope = scope_id  # raised under another key: already a pseudonym
        elif scope == "user":
            published_scope = _user(scope_id)
        elif scope == "session":
            published_scope = _session(scope_id)
        else:
            published_scope = scope_id
        expected.append(
            (
                _user(user), _user(x_user), _session(session), scope, published_scope, fp,
                _h(f"{KEY}|dbt_scd_id|{scd}")[:32], _h(f"{KEY}|alert_id|{alert}")[:24],
                None, hidden, pytest.approx(1.5),
            )
        )  # fmt: skip
    assert _published(con, ()) == expected


def test_metadata_keeps_only_the_allowed_keys(con):
    published = [json.loads(r[8]) if r[8] is not None else None for r in _published(con, ("a",))]
    assert published == [{"a": 1}, None, {}, {}]
    published = [r[8] for r in _published(con, ("c.d", "b"))]
    assert [json.loads(p) if p else p for p in published] == [{"b": 2}, None, {"c.d": [1]}, {}]


def test_without_a_key_everything_is_published_as_it_is(con):
    assert select_list(con, "marts", "t", False) == "*"


def test_only_the_parameters_a_select_uses_are_bound():
    p = Pseudonymisation(KEY, ("a",))
    assert p.params("x, $pii_key") == {"pii_key": KEY}
    assert p.params("$metadata_keys") == {"metadata_keys": ["a"]}
    assert p.params("*") == {}


def test_the_key_fingerprint_says_which_key_without_the_key():
    assert key_fingerprint(None) == key_fingerprint("") == ""
    assert key_fingerprint(KEY) == _h(f"costwatch-publish-fingerprint|{KEY}")[:16]
    assert KEY not in key_fingerprint(KEY)
