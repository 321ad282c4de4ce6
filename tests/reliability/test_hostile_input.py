"""Input as it really comes (issue 14): bogus timestamps, rotated and deleted logs, huge and
non-finite numbers, odd file names, files that change under the reader, bombs and endless lines,
out-of-range offsets and byte-order marks. Each class of input is read or quarantined with a
reason; nothing is lost, doubled or allowed to abort a run."""

import datetime as dt
import gzip
import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import duckdb
import pytest

from sources.events.contract import FIELDS, MAXIMA, TYPE_FIELDS
from sources.events.files import ReadLimits, discover_files
from sources.events.log import FilesRemoved, ingest_range

DAY = dt.date(2026, 11, 21)
LIMITS = ReadLimits(first_day=dt.date(2025, 1, 1))
NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
LLM = {
    "event_id": "e1",
    "type": "llm_call",
    "ts": "2026-11-21T09:00:00Z",
    "provider": "openai",
    "model": "gpt-4o-mini",
    "input_tokens": 10,
    "output_tokens": 5,
}


def _write(path: Path, events: list[dict | str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b""
    for e in events:
        raw = e if isinstance(e, bytes) else (e if isinstance(e, str) else json.dumps(e)).encode()
        body += raw + b"\n"
    path.write_bytes(gzip.compress(body) if path.name.endswith(".gz") else body)
    return path


def _ingest(root: Path, con=None, start=DAY, end=DAY, limits=LIMITS, **kw):
    con = con or duckdb.connect()
    result = ingest_range(con, root, start, end, ingested_at=NOW, limits=limits, **kw)
    return con, result


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _balanced(con) -> bool:
    return (
        _rows(
            con,
            "select count(*) from raw.event_file_stats "
            "where lines_read <> accepted + duplicates + quarantined + blank",
        )[0][0]
        == 0
    )


# --- 2. timestamps outside the partitions -------------------------------------------------


@pytest.mark.parametrize(
    "bogus_ts",
    [
        "0001-01-01T00:00:00Z",  # Go's zero time
        "1970-01-01T00:00:00Z",  # Unix epoch: before COSTWATCH_START_DATE
        "2024-12-31T23:59:59Z",  # the second before the first partition
        "2026-11-22T13:00:01Z",  # more than the clock-skew allowance (1 h) after now
        "9999-12-31T23:59:59Z",
    ],
)
def test_a_copy_with_a_bogus_ts_is_quarantined_and_never_wins_dedup(tmp_path, bogus_ts):
    real = {**LLM, "event_id": "same"}
    resent = {**LLM, "event_id": "same", "ts": bogus_ts, "model": "bogus-copy"}
    _write(tmp_path / "a.jsonl", [real])
    _write(tmp_path / "b.jsonl", [resent])
    noon = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC).timestamp()
    os.utime(tmp_path / "b.jsonl", (noon, noon))  # nothing else dates b.jsonl's only line
    con, result = _ingest(tmp_path)
    assert _rows(con, "select event_id, model, source_file from raw.app_events") == [
        ("same", "gpt-4o-mini", "a.jsonl")
    ]
    assert _rows(
        con, "select source_file, line_no, reason, event_day from raw.event_quarantine"
    ) == [("b.jsonl", 1, "out_of_range:ts", DAY)]
    # the bogus line counts in its file's day (its modification day here), never in year 1
    assert sorted(result.per_day) == [DAY]
    assert _balanced(con)


def test_ts_inside_the_skew_allowance_and_at_the_first_day_are_accepted(tmp_path):
    _write(
        tmp_path / "a.jsonl",
        [
            {**LLM, "event_id": "first", "ts": "2025-01-01T00:00:00Z"},
            {**LLM, "event_id": "soon", "ts": "2026-11-22T12:59:59Z"},
        ],
    )
    con, _ = _ingest(tmp_path, start=dt.date(2025, 1, 1), end=dt.date(2026, 11, 22))
    assert _rows(con, "select event_id from raw.app_events order by 1") == [("first",), ("soon",)]


def test_a_bogus_ts_line_is_dated_by_its_file_not_by_year_1(tmp_path):
    _write(tmp_path / "a.jsonl", [LLM, {**LLM, "event_id": "zero", "ts": "0001-01-01T00:00:00Z"}])
    _con, result = _ingest(tmp_path)
    assert result.per_day[DAY] == {
        "lines_read": 2,
        "accepted": 1,
        "duplicates": 0,
        "quarantined": 1,
        "blank": 0,
    }


# --- 3. rotated and deleted logs ----------------------------------------------------------


@pytest.mark.parametrize(
    "rotated",
    ["app.jsonl.1", "app.jsonl.2.gz", "app.jsonl-20261122", "app.jsonl-20261122.gz"],
)
def test_logrotate_names_are_event_files_and_a_rotated_day_keeps_its_rows(tmp_path, rotated):
    events = [{**LLM, "event_id": f"e{i}"} for i in range(5)]
    _write(tmp_path / "app.jsonl", events)
    con, _ = _ingest(tmp_path)
    before = _rows(con, "select event_id from raw.app_events order by 1")
    (tmp_path / "app.jsonl").unlink()
    _write(tmp_path / rotated, events)  # what logrotate leaves (compressed or not)
    _, result = _ingest(tmp_path, con=con)
    assert _rows(con, "select event_id from raw.app_events order by 1") == before
    assert _rows(con, "select distinct source_file from raw.app_events") == [(rotated,)]
    assert result.removed == {}


def test_discover_files_knows_logrotate_suffixes_and_nothing_else(tmp_path):
    for name in [
        "a.jsonl",
        "a.jsonl.gz",
        "a.jsonl.1",
        "a.jsonl.12.gz",
        "a.jsonl-20261121",
        "a.jsonl-2026112113.gz",
        "a.jsonl.tmp",
        "a.json",
        "a.jsonl.gz.1",
        "a.jsonl.swp",
    ]:
        (tmp_path / name).write_text("")
    assert [f.source_file for f in discover_files(tmp_path)] == [
        "a.jsonl",
        "a.jsonl-20261121",
        "a.jsonl-2026112113.gz",
        "a.jsonl.1",
        "a.jsonl.12.gz",
        "a.jsonl.gz",
    ]


@pytest.mark.parametrize("how", ["deleted", "truncated", "moved out of the folder"])
def test_a_rerun_never_shrinks_a_day_because_files_are_gone(tmp_path, how):
    events_dir = tmp_path / "events"
    _write(events_dir / "keep.jsonl", [{**LLM, "event_id": "k"}])
    gone = _write(
        events_dir / "2026-11-21/app.jsonl", [{**LLM, "event_id": f"g{i}"} for i in range(3)]
    )
    con, _ = _ingest(events_dir)
    if how == "deleted":
        gone.unlink()
    elif how == "truncated":
        gone.write_text("")
    else:
        shutil.move(gone, tmp_path / "elsewhere.jsonl")
    with pytest.raises(FilesRemoved) as err:
        _ingest(events_dir, con=con)
    message = str(err.value)
    assert "2026-11-21" in message and "2026-11-21/app.jsonl" in message
    assert "3 events" in message and "--accept-removed-files" in message
    # nothing was replaced
    assert _rows(con, "select count(*) from raw.app_events")[0][0] == 4
    # the operator says so: the day shrinks, and the result records what was removed
    _, result = _ingest(events_dir, con=con, accept_removed=True)
    assert _rows(con, "select event_id from raw.app_events") == [("k",)]
    assert result.removed == {DAY: {"files": ["2026-11-21/app.jsonl"], "events": 3}}


def test_an_event_that_moved_to_an_earlier_copy_on_another_day_is_not_removed(tmp_path):
    _write(tmp_path / "a.jsonl", [{**LLM, "event_id": "x", "ts": "2026-11-21T09:00:00Z"}])
    con, _ = _ingest(tmp_path)
    (tmp_path / "a.jsonl").unlink()
    _write(tmp_path / "b.jsonl", [{**LLM, "event_id": "x", "ts": "2026-11-21T09:00:00Z"}])
    _, result = _ingest(tmp_path, con=con)
    assert result.removed == {}
    assert _rows(con, "select event_id, source_file from raw.app_events") == [("x", "b.jsonl")]


# --- 4. huge and non-finite numbers -------------------------------------------------------


@pytest.mark.parametrize("field", sorted(MAXIMA))
def test_every_numeric_field_has_a_documented_maximum(field):
    assert FIELDS[field].maximum is not None
    assert FIELDS[field].maximum == MAXIMA[field]


TS = LLM["ts"]
BY_TYPE = {
    "llm_call": LLM,
    "db_op": {"event_id": "e1", "type": "db_op", "ts": TS},
    "api_call": {"event_id": "e1", "type": "api_call", "ts": TS, "service": "maps"},
    "compute": {"event_id": "e1", "type": "compute", "ts": TS, "duration_ms": 1},
    "cost_event": {"event_id": "e1", "type": "cost_event", "ts": TS, "amount_usd": 1},
    "feedback": {"event_id": "e1", "type": "feedback", "ts": TS},
}
# the whole a part of the tokens belongs to (contract: part <= whole), set to its maximum
WHOLES = {
    "cached_input_tokens": ("input_tokens",),
    "cache_write_tokens": ("input_tokens",),
    "cache_write_1h_tokens": ("cache_write_tokens", "input_tokens"),
    "reasoning_tokens": ("output_tokens",),
}


def _numeric_event(field: str, value) -> dict:
    """A valid event of the first type that has `field`, with `field` set to `value`."""
    event_type = next(t for t, fs in TYPE_FIELDS.items() if field in fs)
    event = {**BY_TYPE[event_type], field: value}
    for whole in WHOLES.get(field, ()):
        event[whole] = MAXIMA[whole]
    return event


@pytest.mark.parametrize("field", sorted(MAXIMA))
def test_values_beyond_the_maximum_are_out_of_range_and_at_it_accepted(tmp_path, field):
    limit = MAXIMA[field]
    at = int(limit) if float(limit).is_integer() else limit
    over = limit + 1
    _write(tmp_path / "at.jsonl", [_numeric_event(field, at)])
    _write(tmp_path / "over.jsonl", [{**_numeric_event(field, over), "event_id": "e2"}])
    con, _ = _ingest(tmp_path)
    assert _rows(con, "select event_id from raw.app_events") == [("e1",)]
    assert _rows(con, "select source_file, reason from raw.event_quarantine") == [
        ("over.jsonl", f"out_of_range:{field}")
    ]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["input_tokens", "duration_ms", "amount_usd", "quality_score"])
def test_non_finite_numbers_are_a_wrong_type(tmp_path, field, literal):
    event = _numeric_event(field, 1)
    line = json.dumps(event).replace(f'"{field}": 1', f'"{field}": {literal}')
    assert literal in line
    _write(tmp_path / "a.jsonl", [line])
    con, _ = _ingest(tmp_path)
    assert _rows(con, "select reason from raw.event_quarantine") == [(f"wrong_type:{field}",)]


# --- 5. file names and files that change under the reader ---------------------------------


def test_a_file_name_that_is_not_utf8_is_read(tmp_path):
    raw_root = os.fsencode(tmp_path)
    with open(os.path.join(raw_root, b"bad\xff.jsonl"), "wb") as fh:
        fh.write((json.dumps(LLM) + "\n").encode())
    _write(tmp_path / "good.jsonl", [{**LLM, "event_id": "e2"}])
    con, result = _ingest(tmp_path)
    assert _rows(con, "select event_id, source_file from raw.app_events order by 1") == [
        ("e1", "bad\\xff.jsonl"),
        ("e2", "good.jsonl"),
    ]
    assert result.totals()["lines_read"] == 2
    _ingest(tmp_path, con=con)  # and every later run too
    assert _rows(con, "select count(*) from raw.app_events")[0][0] == 2


def test_a_file_that_becomes_invalid_utf8_between_check_and_read_is_read(tmp_path, monkeypatch):
    """The reader checks a file is UTF-8, then DuckDB reads it: a writer can append half a
    character in between. The file is read again by Python, its bad line quarantined."""
    import sources.events.files as event_files

    path = _write(tmp_path / "a.jsonl", [LLM])
    real = event_files.is_utf8

    def check_then_append(p: Path) -> bool:
        ok = real(p)
        with p.open("ab") as fh:
            fh.write(b'{"half": "\xe2\x82"}\n')
        return ok

    monkeypatch.setattr(event_files, "is_utf8", check_then_append)
    con, _result = _ingest(tmp_path)
    assert _rows(con, "select event_id from raw.app_events") == [("e1",)]
    assert _rows(con, "select line_no, reason from raw.event_quarantine") == [(2, "invalid_utf8")]
    assert path.exists() and _balanced(con)


def test_a_file_that_vanishes_before_it_is_read_is_quarantined_not_fatal(tmp_path, monkeypatch):
    import sources.events.files as event_files

    _write(tmp_path / "a.jsonl", [LLM])
    _write(tmp_path / "b.jsonl", [{**LLM, "event_id": "e2"}])
    real = event_files.is_utf8

    def check_then_delete(p: Path) -> bool:
        ok = real(p)
        if p.name == "b.jsonl":
            p.unlink()
        return ok

    monkeypatch.setattr(event_files, "is_utf8", check_then_delete)
    noon = NOW.timestamp()
    os.utime(tmp_path / "b.jsonl", (noon, noon))
    con, _ = _ingest(tmp_path, end=DAY + dt.timedelta(days=1))
    assert _rows(con, "select event_id from raw.app_events") == [("e1",)]
    assert _rows(con, "select source_file, reason from raw.event_quarantine") == [
        ("b.jsonl", "unreadable_file")
    ]


# --- 6. bombs and endless lines: memory stays bounded -------------------------------------


def test_line_and_file_caps_quarantine_with_a_reason(tmp_path):
    limits = ReadLimits(first_day=dt.date(2025, 1, 1), max_line_bytes=1000, max_file_bytes=10_000)
    long_line = json.dumps({**LLM, "event_id": "long", "metadata": {"x": "y" * 5000}})
    _write(tmp_path / "a.jsonl", [LLM, long_line, {**LLM, "event_id": "e3"}])
    _write(tmp_path / "b.jsonl.gz", [{**LLM, "event_id": f"b{i}"} for i in range(200)])
    con, result = _ingest(tmp_path, limits=limits)
    quarantine = _rows(
        con,
        "select source_file, line_no, reason, length(raw_line) from raw.event_quarantine "
        "order by 1",
    )
    assert quarantine[0][:3] == ("a.jsonl", 2, "line_too_long")
    assert quarantine[0][3] <= 1100  # the start of the line, not all of it
    assert (quarantine[1][0], quarantine[1][2]) == ("b.jsonl.gz", "file_too_large")
    accepted_b = _rows(con, "select count(*) from raw.app_events where source_file like 'b%'")[0][0]
    # every line within the cap is read, the rest is one quarantined line
    assert 0 < accepted_b < 200 and quarantine[1][1] == accepted_b + 1
    assert _balanced(con)
    assert result.totals()["quarantined"] == 2


def test_same_caps_for_plain_files_and_long_lines_in_gzip(tmp_path):
    limits = ReadLimits(first_day=dt.date(2025, 1, 1), max_line_bytes=1000, max_file_bytes=10_000)
    long_line = json.dumps({**LLM, "event_id": "long", "metadata": {"x": "y" * 5000}})
    _write(tmp_path / "a.jsonl.gz", [LLM, long_line, {**LLM, "event_id": "e3"}])
    _write(tmp_path / "b.jsonl", [{**LLM, "event_id": f"b{i}"} for i in range(200)])
    con, _ = _ingest(tmp_path, limits=limits)
    reasons = _rows(con, "select source_file, reason from raw.event_quarantine order by 1")
    assert reasons == [("a.jsonl.gz", "line_too_long"), ("b.jsonl", "file_too_large")]
    assert _rows(con, "select count(*) from raw.app_events where source_file = 'a.jsonl.gz'") == [
        (2,)
    ]
    assert _balanced(con)


BOMB_SCRIPT = r"""
import datetime as dt, resource, sys
from pathlib import Path
import duckdb
from sources.events.files import ReadLimits
from sources.events.log import ingest_range
root = Path(sys.argv[1])
con = duckdb.connect()
con.execute("set memory_limit = '1GB'")
con.execute("set enable_progress_bar = false")
ingest_range(con, root, dt.date(2026, 11, 21), dt.date(2026, 11, 21),
             limits=ReadLimits(first_day=dt.date(2025, 1, 1)))
print(con.execute("select reason, count(*) from raw.event_quarantine group by 1 order by 1")
      .fetchall())
print("peak_mib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


@pytest.mark.slow
def test_a_gzip_bomb_and_a_100mb_line_keep_memory_bounded(tmp_path):
    events = tmp_path / "events"
    events.mkdir()
    # 1.2 MB of gzip that expands to 300 MB of short lines (the default cap is 256 MiB)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    line = (json.dumps(LLM) + "\n").encode()
    chunk = line * (4 * 2**20 // len(line))
    with (events / "bomb.jsonl.gz").open("wb") as fh:
        for _ in range(75):
            fh.write(comp.compress(chunk))
        fh.write(comp.flush())
    # one 100 MB line in a plain file
    with (events / "long.jsonl").open("wb") as fh:
        fh.write(
            b'{"event_id":"long","type":"compute","ts":"2026-11-21T09:00:00Z",'
            b'"duration_ms":1,"metadata":{"x":"'
        )
        for _ in range(100):
            fh.write(b"y" * 2**20)
        fh.write(b'"}}\n')
    noon = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC).timestamp()
    os.utime(events / "long.jsonl", (noon, noon))  # its only line is undatable: the mtime day
    proc = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, str(events)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.strip().splitlines()
    assert len(out) == 2, proc.stdout + proc.stderr[-2000:]
    assert out[0] == "[('file_too_large', 1), ('line_too_long', 1)]"
    peak = int(out[1].split()[1])
    # before the caps: 1.9 GB for a 200 MB bomb, 2.2 GB for the line; now bounded by the caps
    assert peak < 1536, f"peak {peak} MiB"


# --- 9. offsets and byte-order marks -------------------------------------------------------


@pytest.mark.parametrize("offset", ["+99:99", "+25:00", "-16:00", "+14:01", "-12:30", "+05:60"])
def test_offsets_outside_utc_minus_12_to_plus_14_are_invalid(tmp_path, offset):
    _write(
        tmp_path / "a.jsonl", [LLM, {**LLM, "event_id": "e2", "ts": f"2026-11-21T12:00:00{offset}"}]
    )
    con, _ = _ingest(tmp_path)
    assert _rows(con, "select reason from raw.event_quarantine") == [("invalid_ts",)]


@pytest.mark.parametrize("offset", ["+14:00", "-12:00", "+05:45", "-09:30", "+0530", "+01", "Z"])
def test_real_offsets_are_accepted(tmp_path, offset):
    _write(tmp_path / "a.jsonl", [{**LLM, "ts": f"2026-11-21T12:00:00{offset}"}])
    con, _ = _ingest(tmp_path, start=DAY - dt.timedelta(days=1), end=DAY + dt.timedelta(days=1))
    assert _rows(con, "select count(*) from raw.app_events") == [(1,)]


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz", "a.jsonl.1"])
def test_a_byte_order_mark_is_stripped(tmp_path, name):
    _write(tmp_path / name, [b"\xef\xbb\xbf" + json.dumps(LLM).encode(), {**LLM, "event_id": "e2"}])
    con, _ = _ingest(tmp_path)
    assert _rows(con, "select event_id, line_no from raw.app_events order by 1") == [
        ("e1", 1),
        ("e2", 2),
    ]
    assert _rows(con, "select count(*) from raw.event_quarantine") == [(0,)]
