"""The suite's own helpers that decide whether a leak test passes (tests/conftest.py)."""

from pathlib import Path

import duckdb

from tests.conftest import relations_holding_each


def test_relations_holding_each_finds_a_substring_anywhere_in_a_row(tmp_path: Path):
    path = tmp_path / "x.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create schema s; create table s.a (x VARCHAR, y STRUCT(z VARCHAR)); "
            "insert into s.a values ('hello u_1', {'z': 'deep'}); "
            "create view s.v as select * from s.a; create table s.b (n INTEGER)"
        )
    assert relations_holding_each(path, ["deep"]) == {"deep": ["s.a"]}  # inside a nested value
    assert relations_holding_each(path, ["deep"], views=True) == {"deep": ["s.a", "s.v"]}
    assert relations_holding_each(path, ["u%1"]) == {"u%1": []}  # a substring, not a LIKE pattern
    assert relations_holding_each(path, ["hello", "nothing", "u_1"]) == {
        "hello": ["s.a"],
        "nothing": [],
        "u_1": ["s.a"],
    }
