"""The typed fast path of the event parser gives every line exactly what the per-field rules
give it: the same reason, the same typed values, the same metadata, line by line, over a corpus
in which every contract field of every event type takes every awkward JSON value."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from sources.events.contract import ENVELOPE_OPTIONAL, ENVELOPE_REQUIRED, TYPE_FIELDS
from sources.events.contract_sql import PATHS_SQL, ts_bounds
from sources.events.files import ReadLimits
from sources.events.parsing import JSON_TYPE_ENUM, JSON_TYPES, is_fast_sql, parse_sql

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
TS = "2026-11-21T09:00:00Z"

# One valid value of every field (as JSON text), so that each base event is accepted.
VALID = {
    "event_id": '"e"',
    "type": None,  # set per event type
    "ts": json.dumps(TS),
    "user_id": '"u1"',
    "session_id": '"s1"',
    "app": '"app"',
    "metadata": '{"team":"a","n":[1,2]}',
    "provider": '"openai"',
    "model": '"gpt-4o-mini"',
    "project_id": '"p"',
    "api_key_id": '"k"',
    "service_tier": '"default"',
    "input_tokens": "1000",
    "cached_input_tokens": "100",
    "cache_write_tokens": "50",
    "cache_write_1h_tokens": "10",
    "output_tokens": "300",
    "reasoning_tokens": "30",
    "duration_ms": "850.5",
    "status": '"ok"',
    "error_code": '"e42"',
    "retry_of": '"e0"',
    "stream": "true",
    "operation": '"read"',
    "rows_read": "120",
    "rows_written": "3",
    "service": '"maps"',
    "endpoint": '"/geocode"',
    "units": "2.5",
    "memory_mb": "512",
    "amount_usd": "0.123456789",
    "category": '"storage"',
    "description": '"d"',
    "action": '"approved"',
    "quality_score": "91",
    "rating": "4",
    "ref_event_id": '"e2"',
}

# JSON texts that sit on the edges of the types and of the conversions.
AWKWARD = (
    "null",
    '""',
    '"12"',
    '"x"',
    '"read"',
    '"ok"',
    '"\\u0000\\u00e9"',
    json.dumps(TS),
    "0",
    "-0",
    "12",
    "-1",
    "12.0",
    "12.5",
    "1E2",
    "1e-7",
    "1e400",
    "-1e400",
    "0.1000000000000000055511151231257827",
    "123456.123456789012",
    "999999.9999999999",
    "1000000.0000000001",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "-9223372036854775809",
    "10000000000",
    "10000000001",
    "true",
    "false",
    "{}",
    '{"a":{"b":[1,"x",null]}}',
    "[]",
    "[1]",
)


def _line(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


def _base(event_type: str) -> list[tuple[str, str]]:
    names = [*ENVELOPE_REQUIRED, *(f.name for f in ENVELOPE_OPTIONAL), *TYPE_FIELDS[event_type]]
    return [(n, json.dumps(event_type) if n == "type" else VALID[n]) for n in names]


def corpus() -> list[str]:
    lines: list[str] = []
    for event_type in TYPE_FIELDS:
        base = _base(event_type)
        lines.append(_line(base))
        for i, (key, _) in enumerate(base):
            lines.append(_line(base[:i] + base[i + 1 :]))  # the field missing
            for value in AWKWARD:
                lines.append(_line([*base[:i], (key, value), *base[i + 1 :]]))
            # the same key twice, the valid value first and then second
            lines.append(_line([*base, (key, '"dup"')]))
            lines.append(_line([(key, '"dup"'), *base]))
        # a field of another event type, an unknown key, an escaped key name
        lines.append(_line([*base, ("rating", "9"), ("zzz", "1")]))
        lines.append(_line([("\\u0074ype", json.dumps(event_type)), *base[:1], *base[2:]]))
    return [*lines, "", "   ", "not json", "[1,2]", '"s"', "12", "{}", '{"type":"llm_call"}']


def _parse(con: duckdb.DuckDBPyConnection, fast: bool) -> list[tuple]:
    sql = parse_sql(ts_bounds(ReadLimits(), NOW), fast=fast)
    return con.execute(f"{sql} order by line_no").fetchall()


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "create temp table lines as select *, "
        "date '2026-11-01' + (line_no % 3)::INTEGER as event_day from ("
        "select 'a.jsonl' as source_file, generate_subscripts($l, 1) as line_no, "
        "unnest($l) as line, null::VARCHAR as sentinel_reason)",
        {"l": corpus()},
    )
    return con


def test_both_paths_give_every_line_the_same_row(con: duckdb.DuckDBPyConnection):
    fast, slow = _parse(con, True), _parse(con, False)
    assert len(fast) == len(slow) == len(corpus())
    differing = [(f, s) for f, s in zip(fast, slow, strict=True) if f != s]
    assert differing == []


# a JSON value of every kind, with the numbers at and beyond each integer type's ends
EVERY_KIND_OF_VALUE = (
    "null", "true", "false", '"s"', '""', '"\\u0000"', "[]", "[1]", "{}", '{"a": {}}',
    "0", "-0", "1", "-1", "1.5", "1e2", "1E-400", "1e400", "-1e400", "Infinity", "NaN",
    "18446744073709551615", "18446744073709551616", "-9223372036854775808",
    "-9223372036854775809", "123456789012345678901234567890", "0.1e1", "-0.0",
)  # fmt: skip


def test_json_type_names_only_the_types_the_routing_holds():
    """The routing casts each field's `json_type` to an ENUM of JSON_TYPES: a name outside it
    would stop every ingestion with a conversion error (a DuckDB upgrade is where one would
    come from). Every kind of JSON value, as a field and as a line, has a type of the ENUM."""
    with duckdb.connect() as con:
        names = con.execute(
            "select list(distinct t) from (select json_type(v) as t from unnest($v) as u(v) "
            "union all select unnest(json_type('{\"x\": ' || v || '}', ['$.x'])) "
            "from unnest($v) as u(v))",
            {"v": list(EVERY_KIND_OF_VALUE)},
        ).fetchone()[0]
        assert sorted(names) == sorted(JSON_TYPES)
        cast = con.execute(
            f"select list(t::{JSON_TYPE_ENUM}::VARCHAR) from unnest($t) as u(t)",  # noqa: S608
            {"t": list(JSON_TYPES)},
        ).fetchone()[0]
        assert cast == list(JSON_TYPES)


def test_every_row_keeps_its_lines_day(con: duckdb.DuckDBPyConnection):
    """The day a line was given before the parse (reading.py's `line_days`) is its row's: the
    writes read it from the parsed rows, not from a join with the days."""
    days = con.execute(
        f"""
        select count(*), count(*) filter (where p.event_day = l.event_day),
               count(distinct p.event_day)
        from lines l join ({parse_sql(ts_bounds(ReadLimits(), NOW))}) p using (line_no)
        """  # noqa: S608 (generated)
    ).fetchone()
    assert days == (len(corpus()), len(corpus()), 3)


def test_the_corpus_sends_lines_down_both_paths_and_both_verdicts(
    con: duckdb.DuckDBPyConnection,
):
    """So that the comparison above cannot pass by sending everything one way."""
    routed = con.execute(
        f"""
        select coalesce({is_fast_sql()}, false) as is_fast, p.reason is null as is_valid,
               count(*)
        from (select line_no, json_type(line, [{PATHS_SQL}]) as types from lines
              where json_valid(line) and json_type(line) = 'OBJECT') r
        join ({parse_sql(ts_bounds(ReadLimits(), NOW))}) p using (line_no)
        group by all
        """  # noqa: S608 (generated)
    ).fetchall()
    counts = {(f, v): n for f, v, n in routed}
    assert counts.get((True, True), 0) >= len(TYPE_FIELDS)  # the base events at least
    assert counts.get((True, False), 0) > 100  # range, enum, inequality, ts rules on typed values
    assert counts.get((False, False), 0) > 100  # type rules
    assert counts.get((False, True), 0) > 0  # counts written as 12.0


def test_a_row_keeps_its_lines_text_only_where_a_later_step_reads_it(
    con: duckdb.DuckDBPyConnection,
):
    """A quarantined line keeps its text (quarantine stores it), an accepted line with a key no
    column holds keeps it (the key goes into its metadata); any other line's text is dropped
    (`parsed` holds every line of a run until its write)."""
    rows = con.execute(
        f"""
        select l.line, p.line, p.reason, p.unknown_key_count
        from lines l join ({parse_sql(ts_bounds(ReadLimits(), NOW))}) p using (line_no)
        """  # noqa: S608 (generated)
    ).fetchall()
    kinds = {"quarantined": 0, "unknown keys": 0, "dropped": 0}
    for text, kept, reason, unknown in rows:
        if reason is not None:
            assert kept == text
            kinds["quarantined"] += 1
        elif unknown:
            assert kept == text
            kinds["unknown keys"] += 1
        else:
            assert kept is None
            kinds["dropped"] += 1
    assert min(kinds.values()) > 0, kinds
