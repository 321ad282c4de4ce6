"""The event-log reader against app-events.md, one rule at a time, on a real DuckDB."""

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from sources.events.files import discover_files
from sources.events.log import ingest_range
from sources.events.tables import EVENT_ID_HASH, ensure_tables
from sources.warehouse import table_columns
from tests.conftest import hash40

DAY = dt.date(2026, 11, 21)
BASE = {"event_id": "e1", "type": "llm_call", "ts": "2026-11-21T09:00:00Z"}
LLM = {**BASE, "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 5}


def _write(root: Path, name: str, lines: list[str | bytes], gz: bool = False) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    path.write_bytes(gzip.compress(body) if gz else body)
    return path


def _ingest(root: Path, start: dt.date = DAY, end: dt.date = DAY, con=None):
    con = con or duckdb.connect()
    result = ingest_range(con, root, start, end)
    return con, result


def _events(con) -> list[dict]:
    cur = con.execute("select * from raw.app_events order by event_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _quarantine(con) -> list[tuple]:
    return con.execute(
        "select source_file, line_no, reason from raw.event_quarantine order by 1, 2"
    ).fetchall()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "invalid_json"),
        ('{"event_id": "e1", "type":', "invalid_json"),
        ("[1, 2]", "not_an_object"),
        ('"just a string"', "not_an_object"),
        (json.dumps({k: v for k, v in LLM.items() if k != "event_id"}), "missing_field:event_id"),
        (json.dumps({**LLM, "event_id": ""}), "missing_field:event_id"),
        (json.dumps({k: v for k, v in LLM.items() if k != "type"}), "missing_field:type"),
        (json.dumps({k: v for k, v in LLM.items() if k != "ts"}), "missing_field:ts"),
        (json.dumps({**LLM, "ts": None}), "missing_field:ts"),
        (json.dumps({**LLM, "event_id": 17}), "wrong_type:event_id"),
        (json.dumps({**LLM, "type": "telemetry"}), "unknown_type"),
        (json.dumps({**LLM, "ts": "2026-11-21T09:00:00"}), "invalid_ts"),  # no offset
        (json.dumps({**LLM, "ts": "2026-13-45T25:00:00Z"}), "invalid_ts"),
        (json.dumps({**LLM, "ts": "yesterday"}), "invalid_ts"),
        (json.dumps({**LLM, "ts": 1763715600}), "wrong_type:ts"),
        (json.dumps({k: v for k, v in LLM.items() if k != "model"}), "missing_field:model"),
        (json.dumps({k: v for k, v in LLM.items() if k != "provider"}), "missing_field:provider"),
        (json.dumps({**LLM, "input_tokens": None}), "missing_field:input_tokens"),
        (json.dumps({**LLM, "input_tokens": "10"}), "wrong_type:input_tokens"),
        (json.dumps({**LLM, "output_tokens": 2.5}), "wrong_type:output_tokens"),
        (json.dumps({**LLM, "input_tokens": -1}), "negative_count:input_tokens"),
        (json.dumps({**LLM, "input_tokens": 2**64 - 1}), "out_of_range:input_tokens"),
        (json.dumps({**LLM, "user_id": 42}), "wrong_type:user_id"),
        (json.dumps({**LLM, "metadata": [1]}), "wrong_type:metadata"),
        (json.dumps({**LLM, "stream": "yes"}), "wrong_type:stream"),
        (json.dumps({**LLM, "status": "exploded"}), "invalid_value:status"),
        (json.dumps({**LLM, "duration_ms": -4}), "out_of_range:duration_ms"),
        (
            json.dumps({**LLM, "cached_input_tokens": 6, "cache_write_tokens": 5}),
            "token_inequality:cached_plus_cache_write_exceeds_input",
        ),
        (
            json.dumps({**LLM, "cache_write_tokens": 2, "cache_write_1h_tokens": 3}),
            "token_inequality:cache_write_1h_exceeds_cache_write",
        ),
        (
            json.dumps({**LLM, "reasoning_tokens": 6}),
            "token_inequality:reasoning_exceeds_output",
        ),
        (json.dumps({**BASE, "type": "db_op", "operation": "delete"}), "invalid_value:operation"),
        (json.dumps({**BASE, "type": "api_call"}), "missing_field:service"),
        (json.dumps({**BASE, "type": "compute"}), "missing_field:duration_ms"),
        (json.dumps({**BASE, "type": "cost_event"}), "missing_field:amount_usd"),
        (
            json.dumps({**BASE, "type": "cost_event", "amount_usd": -1}),
            "out_of_range:amount_usd",
        ),
        (json.dumps({**BASE, "type": "feedback", "rating": 9}), "out_of_range:rating"),
        # beyond the column's INTEGER: quarantined, not a failed run
        (json.dumps({**BASE, "type": "feedback", "rating": 10**10}), "out_of_range:rating"),
        (json.dumps({**BASE, "type": "feedback", "rating": 2**63 - 1}), "out_of_range:rating"),
        (
            json.dumps({**BASE, "type": "feedback", "quality_score": 101}),
            "out_of_range:quality_score",
        ),
        (json.dumps({**BASE, "type": "feedback", "action": "liked"}), "invalid_value:action"),
    ],
)
def test_invalid_line_is_quarantined_with_its_reason(tmp_path: Path, line: str, reason: str):
    valid = json.dumps({**LLM, "event_id": "ok-1"})
    _write(tmp_path, "a.jsonl", [valid, line])
    con, result = _ingest(tmp_path)
    assert _quarantine(con) == [("a.jsonl", 2, reason)]
    assert [e["event_id"] for e in _events(con)] == ["ok-1"]
    assert result.per_day[DAY] == {
        "lines_read": 2,
        "accepted": 1,
        "duplicates": 0,
        "quarantined": 1,
        "blank": 0,
    }


@pytest.mark.parametrize(
    "event",
    [
        LLM,
        {**LLM, "input_tokens": 10.0},  # integral float renders of counts are counts
        {**LLM, "cached_input_tokens": 4, "cache_write_tokens": 6, "cache_write_1h_tokens": 6},
        {**LLM, "reasoning_tokens": 5, "status": "canceled", "stream": False, "user_id": None},
        {**LLM, "output_tokens": 0, "model": "text-embedding-3-small"},
        {**LLM, "provider": "mistral", "model": "anything"},  # open set of providers
        {**BASE, "type": "session_start"},
        {**BASE, "type": "session_end"},
        {**BASE, "type": "db_op"},
        {**BASE, "type": "api_call", "service": "maps", "units": 2.5},
        {**BASE, "type": "compute", "duration_ms": 0},
        {**BASE, "type": "cost_event", "amount_usd": 0},
        {**BASE, "type": "feedback", "rating": 5, "quality_score": 0},
        {**BASE, "type": "db_op", "status": "anything-goes"},
    ],
)
def test_valid_line_is_accepted(tmp_path: Path, event: dict):
    _write(tmp_path, "a.jsonl", [json.dumps(event)])
    con, result = _ingest(tmp_path)
    assert _quarantine(con) == []
    assert result.per_day[DAY]["accepted"] == 1


def test_fields_are_typed_and_defaults_applied(tmp_path: Path):
    lines = [
        json.dumps(
            {**LLM, "ts": "2026-11-21T11:00:02.5+02:00", "client": "ios", "session_id": "s"}
        ),
        json.dumps({**BASE, "event_id": "e2", "type": "api_call", "service": "maps"}),
        json.dumps(
            {
                **BASE,
                "event_id": "e3",
                "type": "cost_event",
                "amount_usd": 0.1,
                "metadata": {"a": 1},
            }
        ),
        json.dumps(
            {**BASE, "event_id": "e4", "type": "db_op", "input_tokens": "x", "rows_read": 3}
        ),
    ]
    _write(tmp_path, "deep/er/a.jsonl", lines)
    con, _ = _ingest(tmp_path)
    e1, e2, e3, e4 = _events(con)
    assert e1["occurred_at"] == dt.datetime(2026, 11, 21, 9, 0, 2, 500000)
    assert (e1["user_id"], e1["session_id"], e1["status"]) == ("anonymous", "s", "ok")
    assert json.loads(e1["metadata"]) == {"client": "ios"}
    assert e1["source_file"] == "deep/er/a.jsonl"
    assert (e2["units"], e2["status"]) == (Decimal("1"), None)
    assert e3["amount_usd"] == Decimal("0.1")
    assert json.loads(e3["metadata"]) == {"a": 1}
    # A field of another type is not a column of this one: it is kept in metadata, unvalidated.
    assert e4["rows_read"] == 3 and e4["input_tokens"] is None
    assert json.loads(e4["metadata"]) == {"input_tokens": "x"}


def test_day_comes_from_utc_ts_not_folder(tmp_path: Path):
    late = {**LLM, "event_id": "late", "ts": "2026-11-22T00:30:00+02:00"}  # 21st in UTC
    early = {**LLM, "event_id": "next", "ts": "2026-11-21T23:30:00-01:00"}  # 22nd in UTC
    _write(tmp_path, "2026-11-22/a.jsonl", [json.dumps(late), json.dumps(early)])
    con, result = _ingest(tmp_path, DAY, DAY + dt.timedelta(days=1))
    assert {e["event_id"]: e["event_day"] for e in _events(con)} == {
        "late": DAY,
        "next": DAY + dt.timedelta(days=1),
    }
    assert result.per_day[DAY]["accepted"] == 1


def test_blank_lines_crlf_and_missing_final_newline(tmp_path: Path):
    body = (json.dumps(LLM) + "\r\n\r\n   \n" + json.dumps({**LLM, "event_id": "e2"})).encode()
    (tmp_path / "a.jsonl").write_bytes(body)
    con, result = _ingest(tmp_path)
    assert [e["event_id"] for e in _events(con)] == ["e1", "e2"]
    assert result.per_day[DAY] == {
        "lines_read": 4,
        "accepted": 2,
        "duplicates": 0,
        "quarantined": 0,
        "blank": 2,
    }


def test_gzip_invalid_utf8_and_truncated_gzip(tmp_path: Path):
    _write(tmp_path, "a.jsonl.gz", [json.dumps(LLM)], gz=True)
    _write(tmp_path, "b.jsonl", [json.dumps({**LLM, "event_id": "e2"}), b'{"x":"\xff"}'])
    body = (json.dumps({**LLM, "event_id": "e3"}) + "\n").encode()
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(body)[:-8])
    (tmp_path / "d.jsonl.gz").write_bytes(b"this is not gzip")
    noon = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC).timestamp()
    os.utime(tmp_path / "d.jsonl.gz", (noon, noon))  # no ts to date it: its mtime day counts
    con, _ = _ingest(tmp_path)
    assert [e["event_id"] for e in _events(con)] == ["e1", "e2", "e3"]
    assert _quarantine(con) == [
        ("b.jsonl", 2, "invalid_utf8"),
        ("c.jsonl.gz", 2, "truncated_gzip"),
        ("d.jsonl.gz", 1, "unreadable_file"),
    ]
    raw = con.execute("select raw_line from raw.event_quarantine order by source_file").fetchall()
    assert raw[0] == ('{"x":"\\xff"}',)


def test_duplicates_first_by_ts_then_path_across_files_and_reruns(tmp_path: Path):
    a = {**LLM, "event_id": "dup", "ts": "2026-11-21T10:00:00Z", "model": "from-b"}
    b = {**LLM, "event_id": "dup", "ts": "2026-11-21T09:00:00Z", "model": "from-a-earlier"}
    _write(tmp_path, "b.jsonl", [json.dumps(a)])
    _write(tmp_path, "z.jsonl", [json.dumps(b)])
    _write(tmp_path, "redelivered/a.jsonl", [json.dumps(b)])  # same ts, path sorts first
    con, result = _ingest(tmp_path)
    events = _events(con)
    assert [(e["model"], e["source_file"]) for e in events] == [
        ("from-a-earlier", "redelivered/a.jsonl")
    ]
    assert result.per_day[DAY]["duplicates"] == 2
    _ingest(tmp_path, con=con)
    assert len(_events(con)) == 1


def test_rerun_replaces_only_its_partition_and_sees_late_files(tmp_path: Path):
    day2 = DAY + dt.timedelta(days=1)
    _write(tmp_path, "a.jsonl", [json.dumps(LLM)])
    _write(
        tmp_path, "b.jsonl", [json.dumps({**LLM, "event_id": "d2", "ts": "2026-11-22T01:00:00Z"})]
    )
    con, _ = _ingest(tmp_path, DAY, day2)
    # A late file for day 1 also holding an event of day 2.
    late = [
        json.dumps({**LLM, "event_id": "late1"}),
        json.dumps({**LLM, "event_id": "late2", "ts": "2026-11-22T02:00:00Z"}),
    ]
    _write(tmp_path, "late/c.jsonl", late)
    _, result = _ingest(tmp_path, DAY, DAY, con=con)
    assert [e["event_id"] for e in _events(con)] == ["d2", "e1", "late1"]
    assert result.late_days == [day2]
    assert result.files_read == 2  # a.jsonl (holds day 1) and the new file; not b.jsonl
    _ingest(tmp_path, day2, day2, con=con)
    assert [e["event_id"] for e in _events(con)] == ["d2", "e1", "late1", "late2"]


def test_unparseable_lines_take_the_files_first_day(tmp_path: Path):
    day2 = DAY + dt.timedelta(days=1)
    lines = [
        json.dumps({**LLM, "ts": "2026-11-22T05:00:00Z"}),
        "garbage",
        json.dumps({**LLM, "event_id": "e0", "ts": "2026-11-21T05:00:00Z"}),
    ]
    _write(tmp_path, "a.jsonl", lines)
    con, result = _ingest(tmp_path, DAY, day2)
    assert con.execute("select event_day from raw.event_quarantine").fetchall() == [(DAY,)]
    assert result.per_day[DAY]["lines_read"] == 2 and result.per_day[day2]["lines_read"] == 1
    # A file without any valid ts takes its modification day.
    (tmp_path / "only_bad.jsonl").write_text("nope\n")
    os.utime(tmp_path / "only_bad.jsonl", (1763900000, 1763900000))  # 2025-11-23 UTC
    con, _ = _ingest(tmp_path, dt.date(2025, 11, 23), dt.date(2025, 11, 23))
    assert _quarantine(con) == [("only_bad.jsonl", 1, "invalid_json")]


@pytest.mark.parametrize("batch_bytes", [None, 1], ids=["one batch", "a batch per file"])
def test_window_parses_only_its_lines_and_first_occurrence_still_wins_across_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_bytes: int | None
):
    """A backfill chunk reads every new file but parses only the lines its days need: its own and
    lines of other days repeating one of its event ids (so the earliest occurrence still wins).
    The same when the files are read in several batches (each file whole in one; a real
    backfill's year is read 256 MB at a time)."""
    if batch_bytes is not None:
        monkeypatch.setattr("sources.events.reading.LINES_BATCH_BYTES", batch_bytes)
    day2 = DAY + dt.timedelta(days=1)
    year = [
        json.dumps({**LLM, "event_id": f"y{i}", "ts": f"2026-10-{i:02d}T12:00:00Z"})
        for i in range(1, 31)
    ]
    early = {**LLM, "event_id": "dup", "ts": "2026-11-21T23:00:00Z", "model": "earliest"}
    late = {**LLM, "event_id": "dup", "ts": "2026-11-22T01:00:00Z", "model": "re-delivered"}
    _write(tmp_path, "a.jsonl", [*year, json.dumps(early), "garbage"])
    _write(
        tmp_path,
        "b.jsonl",
        [json.dumps(late), json.dumps({**LLM, "event_id": "d2", "ts": "2026-11-22T02:00:00Z"})],
    )
    con = duckdb.connect()
    _, result = _ingest(tmp_path, day2, day2, con=con)
    # The re-delivered copy of day 2 loses to the earlier one of day 1, read though out of window.
    assert [(e["event_id"], e["event_day"]) for e in _events(con)] == [("d2", day2)]
    assert result.per_day[day2] == {
        "lines_read": 2,
        "accepted": 1,
        "duplicates": 1,
        "quarantined": 0,
        "blank": 0,
    }
    # Parsed: day 2's lines and day 1's copy of "dup"; not October's lines (garbage included).
    assert con.execute("select count(*) from parsed").fetchall() == [(3,)]
    # The manifest knows every day of every file, so later chunks read only what they need.
    days = con.execute("select count(distinct event_day) from raw.event_files").fetchall()
    assert days == [(32,)]
    assert result.late_days == [dt.date(2026, 10, i) for i in range(1, 31)] + [DAY]
    _, result = _ingest(tmp_path, DAY, DAY, con=con)
    assert result.files_read == 1  # b.jsonl holds only day 2
    assert [(e["event_id"], e["model"]) for e in _events(con)] == [
        ("d2", "gpt-4o-mini"),
        ("dup", "earliest"),
    ]
    assert _quarantine(con) == []  # the garbage line belongs to the file's first day
    _ingest(tmp_path, dt.date(2026, 10, 1), dt.date(2026, 10, 1), con=con)
    assert _quarantine(con) == [("a.jsonl", 32, "invalid_json")]


def test_earlier_copy_arriving_later_reports_the_stored_copys_day_as_late(tmp_path: Path):
    """An event stored for day 2, then an earlier copy of it arrives in a file of day 1: the run of
    day 1 takes it and reports day 2 late; the run of day 2 then drops its copy (counted once)."""
    day2 = DAY + dt.timedelta(days=1)
    later = {**LLM, "event_id": "x", "ts": "2026-11-22T08:00:00Z", "model": "later"}
    earlier = {**LLM, "event_id": "x", "ts": "2026-11-21T08:00:00Z", "model": "earlier"}
    _write(tmp_path, "b.jsonl", [json.dumps(later)])
    con, _ = _ingest(tmp_path, day2, day2)
    _write(tmp_path, "a.jsonl", [json.dumps(earlier)])
    _, result = _ingest(tmp_path, DAY, DAY, con=con)
    assert result.late_days == [day2]
    _, result = _ingest(tmp_path, day2, day2, con=con)
    assert result.late_days == []
    assert [(e["event_id"], e["model"], e["event_day"]) for e in _events(con)] == [
        ("x", "earlier", DAY)
    ]
    assert result.per_day[day2]["duplicates"] == 1


def test_a_line_edited_to_another_day_is_counted_once_and_its_old_day_is_late(tmp_path: Path):
    """A line stored for day 1, then edited in place to a time of day 2 (same event id, same file
    and line): the run of day 2 reads one line and keeps it, and reports day 1 late, whose run
    then drops its old row. The stored row and the line read share their file and line number:
    each is ranked, and the line counted once, not once per copy it is compared with."""
    day2 = DAY + dt.timedelta(days=1)
    _write(tmp_path, "a.jsonl", [json.dumps({**LLM, "event_id": "x"})])
    con, _ = _ingest(tmp_path)
    _write(tmp_path, "a.jsonl", [json.dumps({**LLM, "event_id": "x", "ts": f"{day2}T08:00:00Z"})])
    _, result = _ingest(tmp_path, day2, day2, con=con)
    assert result.late_days == [DAY]
    stats = con.execute(
        "select event_day, lines_read, accepted, duplicates from raw.event_file_stats"
    ).fetchall()
    assert sorted(stats) == [(DAY, 1, 1, 0), (day2, 1, 1, 0)]
    _ingest(tmp_path, con=con)
    assert [(e["event_id"], e["event_day"]) for e in _events(con)] == [("x", day2)]
    assert con.execute("select event_day, lines_read from raw.event_file_stats").fetchall() == [
        (day2, 1)
    ]


def test_discover_files_any_depth_and_suffixes(tmp_path: Path):
    for name in ("a.jsonl", "x/y/b.jsonl.gz", "c.json", "d.jsonl.bak", "e.txt"):
        _write(tmp_path, name, ["{}"])
    assert [f.source_file for f in discover_files(tmp_path)] == ["a.jsonl", "x/y/b.jsonl.gz"]
    assert discover_files(tmp_path / "missing") == []


def test_duplicates_with_the_same_ts_and_file_keep_the_first_line(tmp_path: Path):
    """The last tie-break is the line number (planted bug: reversed)."""
    first = {**LLM, "event_id": "dup", "model": "line-1"}
    second = {**LLM, "event_id": "dup", "model": "line-2"}
    _write(tmp_path, "a.jsonl", [json.dumps(first), json.dumps(second)])
    con, result = _ingest(tmp_path)
    assert [(e["model"], e["line_no"]) for e in _events(con)] == [("line-1", 1)]
    assert result.per_day[DAY]["duplicates"] == 1


def _as_before_the_40_bit_hash(con: duckdb.DuckDBPyConnection, before: str) -> None:
    """raw.app_events as a warehouse from before holds it: no hash column (v1), or the 64-bit
    `event_id_hash` of v2 until 2026-12."""
    con.execute(f"alter table raw.app_events drop column if exists {EVENT_ID_HASH}")
    if before == "the 64-bit hash":
        con.execute("alter table raw.app_events add column event_id_hash UBIGINT")
        con.execute("update raw.app_events set event_id_hash = md5_number_lower(event_id)")


@pytest.mark.parametrize("before", ["no hash", "the 64-bit hash"])
def test_stored_copies_of_other_days_are_found_on_a_warehouse_from_before_the_id_hash(
    tmp_path: Path, before: str
):
    """Earlier copies arriving late for two stored days: the run finds both stored days (by the
    ids' hashes, then the ids), also on a warehouse whose rows predate the hash column, or have
    the 64-bit hash of before (it gets the column and every row's value in one go)."""
    day2, day4 = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=3)
    _write(
        tmp_path, "b.jsonl", [json.dumps({**LLM, "event_id": "x", "ts": "2026-11-22T08:00:00Z"})]
    )
    _write(
        tmp_path, "d.jsonl", [json.dumps({**LLM, "event_id": "y", "ts": "2026-11-24T08:00:00Z"})]
    )
    con, _ = _ingest(tmp_path, day2, day4)
    _as_before_the_40_bit_hash(con, before)
    _write(
        tmp_path,
        "a.jsonl",
        [
            json.dumps({**LLM, "event_id": "x", "ts": "2026-11-21T08:00:00Z"}),
            json.dumps({**LLM, "event_id": "y", "ts": "2026-11-21T09:00:00Z"}),
            json.dumps({**LLM, "event_id": "z", "ts": "2026-11-21T10:00:00Z"}),
        ],
    )
    _, result = _ingest(tmp_path, DAY, DAY, con=con)
    assert result.late_days == [day2, day4]
    hashes = con.execute(f"select event_id, {EVENT_ID_HASH} from raw.app_events").fetchall()  # noqa: S608
    assert sorted(hashes) == sorted((e, hash40(e)) for e in ("x", "y", "x", "y", "z"))
    assert "event_id_hash" not in table_columns(con, "raw", "app_events")
    _, result = _ingest(tmp_path, day2, day4, con=con)
    assert [(e["event_id"], e["event_day"]) for e in _events(con)] == [
        ("x", DAY),
        ("y", DAY),
        ("z", DAY),
    ]
    assert result.per_day[day2]["duplicates"] == result.per_day[day4]["duplicates"] == 1


def _warehouse_from_before(path: Path, before: str, rows: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute(
            "create table raw.app_events as select 'e' || range as event_id, "
            "'event_log' as event_source from range(?)",
            [rows],
        )
        _as_before_the_40_bit_hash(con, before)


def _killed_in_a_child(tmp_path: Path, before: str, script: str) -> Path:
    """A warehouse from before with 1,000 stored rows, then `script` run on it in a process
    that dies (exit 9) where the script says; the warehouse's path."""
    warehouse = tmp_path / "w.duckdb"
    _warehouse_from_before(warehouse, before, 1000)
    repo = str(Path(__file__).resolve().parents[2])
    child = subprocess.run([sys.executable, "-c", script, str(warehouse), repo], check=False)
    assert child.returncode == 9
    return warehouse


KILLED_AFTER_MIGRATION = """
import os, sys, duckdb
sys.path.insert(0, sys.argv[2])
from sources.events.tables import ensure_tables
con = duckdb.connect(sys.argv[1])
ensure_tables(con)  # the migration, committed to the write-ahead log
os._exit(9)  # killed before any checkpoint: the next open replays the log
"""


@pytest.mark.parametrize("before", ["no hash", "the 64-bit hash"])
def test_a_process_killed_after_the_hash_migration_leaves_a_warehouse_that_opens(
    tmp_path: Path, before: str
):
    """The next open replays the migration from DuckDB's write-ahead log: it must not need what
    replay cannot load (an ALTER ... USING md5 asked to install an extension, offline)."""
    warehouse = _killed_in_a_child(tmp_path, before, KILLED_AFTER_MIGRATION)
    assert Path(f"{warehouse}.wal").exists()
    with duckdb.connect(str(warehouse)) as con:
        rows = con.execute(f"select event_id, {EVENT_ID_HASH} from raw.app_events").fetchall()  # noqa: S608
    assert sorted(rows) == sorted((e, hash40(e)) for e in (f"e{i}" for i in range(1000)))


KILLED_IN_THE_MIGRATION = """
import os, sys, duckdb
sys.path.insert(0, sys.argv[2])
from sources.events import tables


class KilledAfterTwoCommits:
    \"\"\"The connection, but the process dies right after its second commit: the column and
    marker added, the first batch filled.\"\"\"

    def __init__(self, con):
        self.con, self.commits = con, 0

    def execute(self, sql, *args):
        result = self.con.execute(sql, *args)
        if sql == "commit":
            self.commits += 1
            if self.commits == 2:
                os._exit(9)
        return result


tables._add_event_id_hash(KilledAfterTwoCommits(duckdb.connect(sys.argv[1])), batch_rows=300)
"""


@pytest.mark.parametrize("before", ["no hash", "the 64-bit hash"])
def test_the_hash_migration_runs_in_batches_and_a_killed_one_resumes(tmp_path: Path, before: str):
    """1,000 stored rows migrated 300 row ids a transaction: a process killed after the first
    batch leaves 700 rows without a hash and the marker; the next open of the tables finishes
    (every row's value, the marker and the old column gone) and the one after changes nothing."""
    warehouse = _killed_in_a_child(tmp_path, before, KILLED_IN_THE_MIGRATION)
    with duckdb.connect(str(warehouse)) as con:
        missing = con.execute(
            f"select count(*) from raw.app_events where {EVENT_ID_HASH} is null"  # noqa: S608
        ).fetchone()
        assert missing == (700,)
        assert table_columns(con, "raw", "_event_id_hash40_pending")
        ensure_tables(con)
        ensure_tables(con)
        rows = con.execute(f"select event_id, {EVENT_ID_HASH} from raw.app_events").fetchall()  # noqa: S608
        assert not table_columns(con, "raw", "_event_id_hash40_pending")
        assert list(table_columns(con, "raw", "app_events")) == [
            "event_id",
            "event_source",
            EVENT_ID_HASH,
        ]
    assert sorted(rows) == sorted((e, hash40(e)) for e in (f"e{i}" for i in range(1000)))


def test_a_stored_event_whose_ids_hash_equals_a_new_ids_is_not_its_copy(tmp_path: Path):
    """Two ids with the same 40-bit hash (found by trying evt-0, evt-1, ... with hashlib): the
    stored one is a candidate copy of the new one and is dropped on the id itself; a true copy
    stored on another day is still found."""
    a, b = "evt-892301", "evt-956787"
    assert hash40(a) == hash40(b)
    day2 = DAY + dt.timedelta(days=1)
    _write(tmp_path, "old.jsonl", [json.dumps({**LLM, "event_id": e}) for e in (a, "c")])
    con, _ = _ingest(tmp_path)
    late = {**LLM, "ts": "2026-11-22T08:00:00Z"}
    _write(tmp_path, "new.jsonl", [json.dumps({**late, "event_id": e}) for e in (b, "c")])
    _, result = _ingest(tmp_path, day2, day2, con=con)
    assert [(e["event_id"], e["event_day"]) for e in _events(con)] == [
        ("c", DAY),
        (a, DAY),
        (b, day2),
    ]
    assert result.per_day[day2] == {
        "lines_read": 2, "accepted": 1, "duplicates": 1, "quarantined": 0, "blank": 0
    }  # fmt: skip
    assert result.late_days == []


def test_stage_seconds_say_where_the_load_went(tmp_path: Path):
    """Every stage of a load is timed, in order, and the stages add up to no more than the call."""
    import time

    _write(tmp_path, "a.jsonl", [json.dumps(LLM), "garbage"])
    t0 = time.perf_counter()
    _, result = _ingest(tmp_path)
    wall = time.perf_counter() - t0
    assert list(result.stage_seconds) == [
        "files",
        "scan new files",
        "read lines",
        "line days",
        "keep lines",
        "parse",
        "other days' copies",
        "dedup",
        "metadata",
        "write",
        "result",
    ]
    assert all(s >= 0 for s in result.stage_seconds.values())
    assert sum(result.stage_seconds.values()) <= wall + 0.001 * len(result.stage_seconds)


def test_a_killed_ingestions_scratch_is_removed_by_the_next_one(tmp_path: Path):
    """A process killed inside its temporary folder leaves it (copies of event lines); the next
    ingestion of the home, which holds the warehouse for writing, removes it, and its own."""
    events, scratch = tmp_path / "events", tmp_path / "home" / "scratch"
    _write(events, "a.jsonl", [json.dumps(LLM)])
    left = scratch / "costwatch-ingest-x1"
    left.mkdir(parents=True)
    (left / "0000000.jsonl").write_text(json.dumps(LLM) + "\n")
    (scratch / "not-ours").mkdir()
    con = duckdb.connect()
    result = ingest_range(con, events, DAY, DAY, scratch_dir=scratch)
    assert result.totals()["accepted"] == 1
    assert sorted(p.name for p in scratch.iterdir()) == ["not-ours"]
