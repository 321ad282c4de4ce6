"""A new file whose days all come after a run's waits for the runs of its days, its days found by
a scan of its text (sources/events/prescan.py): only when the scan cannot miss one of them."""

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import duckdb
import pytest

from sources.events.contract_sql import ts_bounds
from sources.events.files import ReadLimits, discover_files
from sources.events.log import ingest_range
from sources.events.prescan import later_files

D1 = dt.date(2025, 3, 1)
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
MTIME = dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)  # every file's modification time
LLM = {
    "type": "llm_call",
    "provider": "openai",
    "model": "gpt-4o-mini",
    "input_tokens": 10,
    "output_tokens": 5,
}


def _day(n: int) -> dt.date:
    return D1 + dt.timedelta(days=n - 1)


def _line(event_id: str, ts: str, **more) -> str:
    return json.dumps({"event_id": event_id, "ts": ts, **LLM, **more})


def _raw(key: str, ts: str) -> str:
    """A line of event e2 written by hand: `key` and `ts` as they stand in the file."""
    return '{"event_id":"e2","' + key + '":"' + ts + '"}'


def _write(root: Path, name: str, lines: list[str | bytes], gz: bool = False) -> Path:
    path = root / name
    body = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    path.write_bytes(gzip.compress(body) if gz else body)
    os.utime(path, (MTIME.timestamp(), MTIME.timestamp()))
    return path


def _later(root: Path, end: dt.date) -> dict[str, frozenset[dt.date]]:
    limits = ReadLimits()
    return later_files(duckdb.connect(), discover_files(root), end, limits, ts_bounds(limits, NOW))


def _ingest(con, root: Path, start: dt.date, end: dt.date):
    return ingest_range(con, root, start, end, ingested_at=NOW)


def _tables(con) -> dict[str, list[tuple]]:
    return {
        "events": con.execute(
            "select event_id, event_day, source_file, line_no, model from raw.app_events "
            "order by all"
        ).fetchall(),
        "quarantine": con.execute(
            "select source_file, line_no, reason, event_day from raw.event_quarantine order by all"
        ).fetchall(),
        "file_stats": con.execute(
            "select source_file, event_day, lines_read, accepted, duplicates, quarantined, blank "
            "from raw.event_file_stats order by all"
        ).fetchall(),
    }


def _five_days(root: Path) -> None:
    """A file per day, each with two events of its day and a garbage line (the file's first
    day's); day 4's file repeats an event of day 2 with a later ts (a re-delivery)."""
    for n in range(1, 6):
        lines = [
            _line(f"e{n}a", f"{_day(n)}T09:00:00Z"),
            "garbage",
            _line(f"e{n}b", f"{_day(n)}T23:59:59.5Z"),
        ]
        if n == 4:
            lines.append(_line("e2a", f"{_day(4)}T01:00:00Z", model="re-delivered"))
        _write(root, f"{_day(n)}.jsonl", lines)


def test_a_backfills_first_chunk_reads_only_its_days_files_and_the_rest_read_later_alike(
    tmp_path: Path,
):
    _five_days(tmp_path)
    con = duckdb.connect()
    first = _ingest(con, tmp_path, _day(1), _day(2))
    assert first.files_scanned == 5
    assert first.files_read == 2
    # the other files wait for their days: in the manifest with their days, and late days
    assert con.execute(
        "select source_file, event_day from raw.event_files order by all"
    ).fetchall() == [(f"{_day(n)}.jsonl", _day(n)) for n in range(1, 6)]
    assert first.late_days == [_day(3), _day(4), _day(5)]
    second = _ingest(con, tmp_path, _day(3), _day(5))
    assert second.files_read == 3
    assert second.late_days == []
    # each line counted once, on its day; the re-delivered copy lost to day 2's stored one
    assert second.per_day[_day(4)] == {
        "lines_read": 4,
        "accepted": 2,
        "duplicates": 1,
        "quarantined": 1,
        "blank": 0,
    }
    chunked = _tables(con)
    assert [e[:2] for e in chunked["events"]] == sorted(
        (f"e{n}{x}", _day(n)) for n in range(1, 6) for x in "ab"
    )
    assert chunked["quarantine"] == [
        (f"{_day(n)}.jsonl", 2, "invalid_json", _day(n)) for n in range(1, 6)
    ]
    # the same rows as one run over the five days, which reads every file
    whole = duckdb.connect()
    assert _ingest(whole, tmp_path, _day(1), _day(5)).files_read == 5
    assert _tables(whole) == chunked


def test_a_rerun_of_days_already_stored_reads_every_new_file(tmp_path: Path):
    """Stored rows of the run's days could seem removed when their events moved to a file of
    later days: a rerun reads new files as before."""
    _write(tmp_path, "a.jsonl", [_line("e1", f"{_day(1)}T09:00:00Z")])
    con = duckdb.connect()
    _ingest(con, tmp_path, _day(1), _day(1))
    _write(tmp_path, "b.jsonl", [_line("e2", f"{_day(5)}T09:00:00Z")])
    again = _ingest(con, tmp_path, _day(1), _day(1))
    assert again.files_read == 2
    assert again.late_days == [_day(5)]


@pytest.mark.parametrize(
    "lines",
    [
        # a non-zero offset: 20:00 at -05:00 is 01:00 UTC the next day
        [_line("e1", f"{_day(5)}T08:00:00Z"), _line("e2", f"{_day(5)}T20:00:00-05:00")],
        [_line("e1", f"{_day(5)}T08:00:00Z"), _line("e2", f"{_day(5)}T23:50:00-00:30")],
        [_line("e1", f"{_day(5)}T08:00:00Z"), _line("e2", f"{_day(5)} 23:50-0030")],
        [_line("e1", f"{_day(6)}T08:00:00Z"), _line("e2", f"{_day(6)}T01:00:00+01:00")],
        # DuckDB reads hour 24 as the next day's midnight
        [_line("e1", f"{_day(5)}T08:00:00Z"), _line("e2", f"{_day(5)}T24:00:00Z")],
        # a key or a date written with escapes
        [
            _line("e1", f"{_day(5)}T08:00:00Z"),
            _raw("\\u0074s", f"{_day(9)}T08:00:00Z"),
        ],
        [
            _line("e1", f"{_day(5)}T08:00:00Z"),
            _raw("t\\u0073", f"{_day(9)}T08:00:00Z"),
        ],
        [
            _line("e1", f"{_day(5)}T08:00:00Z"),
            _raw("ts", "\\u0032" + f"{_day(9)}T08:00:00Z"[1:]),
        ],
        [
            _line("e1", f"{_day(5)}T08:00:00Z"),
            _raw("ts", f"{_day(9)}T08:00:00Z".replace("-", "\\u002d", 1)),
        ],
        [
            _line("e1", f"{_day(5)}T08:00:00Z"),
            _raw("ts", f"{_day(9)}\\u005408:00:00Z"),
        ],
        # bytes DuckDB reads only as a normalized copy
        [_line("e1", f"{_day(5)}T08:00:00Z"), b'{"event_id":"e2","note":"\xe2\x82"}'],
    ],
    ids=[
        "offset",
        "half-hour-offset",
        "offset-without-colon",
        "positive-offset",
        "hour-24",
        "escaped-t",
        "escaped-s",
        "escaped-digit",
        "escaped-dash",
        "escaped-T",
        "not-utf8",
    ],
)
def test_a_file_the_scan_cannot_date_is_read_at_once(tmp_path: Path, lines):
    _write(tmp_path, "a.jsonl", lines)
    assert _later(tmp_path, _day(2)) == {}


def test_a_gzip_or_empty_file_is_read_at_once(tmp_path: Path):
    _write(tmp_path, "a.jsonl.1.gz", [_line("e1", f"{_day(5)}T08:00:00Z")], gz=True)
    _write(tmp_path, "b.jsonl", [])
    assert _later(tmp_path, _day(2)) == {}


@pytest.mark.parametrize(
    ("lines", "days"),
    [
        # every way of writing UTC
        (
            [
                _line("e1", f"{_day(5)}T08:00:00Z"),
                _line("e2", f"{_day(6)}t08:00z"),
                _line("e3", f"{_day(7)} 08:00:00.123456+00:00"),
                _line("e4", f"{_day(8)}T23:59:59-0000"),
                _line("e5", f"{_day(9)}T00:00+00"),
            ],
            [5, 6, 7, 8, 9],
        ),
        # a `ts` inside metadata, or an invalid one, adds a day the file may not hold
        (
            [
                _line("e1", f"{_day(5)}T08:00:00Z", metadata={"ts": f"{_day(7)}T08:00:00Z"}),
                _line("e2", f"{_day(8)}T08:00:00"),
                _line("e3", "2025-02-30T08:00:00Z"),
            ],
            [5, 7, 8],
        ),
        # escapes of characters that cannot spell a key `ts` or a date change nothing
        ([_line("e1", f"{_day(5)}T08:00:00Z", note="caf\u00e9 <b> \u001b")], [5]),
        # a first line without a valid `ts`: the file may hold none, so its modification day
        (["garbage", _line("e1", f"{_day(5)}T08:00:00Z")], [5, "mtime"]),
        ([_raw("ts", f"{_day(5)}T08:00:00Z")[:-1]], [5, "mtime"]),
        # before the first partition (COSTWATCH_START_DATE): no day of its own
        ([_line("e1", f"{_day(5)}T08:00:00Z"), _line("e2", "1969-12-31T08:00:00Z")], [5]),
        # a byte-order mark and CRLF do not hide the first line's `ts`
        ([b"\xef\xbb\xbf" + _line("e1", f"{_day(5)}T08:00:00Z").encode() + b"\r"], [5]),
    ],
    ids=[
        "utc-forms",
        "supersets",
        "harmless-escapes",
        "no-first-ts",
        "cut-line",
        "too-early",
        "bom-crlf",
    ],
)
def test_a_file_of_later_days_waits_with_a_superset_of_its_days(tmp_path: Path, lines, days):
    _write(tmp_path, "a.jsonl", lines)
    expected = {MTIME.date() if d == "mtime" else _day(d) for d in days}
    assert _later(tmp_path, _day(2)) == {"a.jsonl": frozenset(expected)}
    assert _later(tmp_path, _day(min(d for d in days if d != "mtime"))) == {}


def test_a_long_first_line_counts_as_invalid(tmp_path: Path):
    """The reader quarantines a line over the cap: the first line's `ts` then is not valid."""
    _write(tmp_path, "a.jsonl", [_line("e1", f"{_day(5)}T08:00:00Z", blob="x" * 300)])
    limits = ReadLimits(max_line_bytes=200)
    found = later_files(
        duckdb.connect(), discover_files(tmp_path), _day(2), limits, ts_bounds(limits, NOW)
    )
    assert found == {"a.jsonl": frozenset({_day(5), MTIME.date()})}


def test_files_that_are_not_utf8_do_not_stop_the_others_of_their_batch(tmp_path: Path):
    _write(tmp_path, "a.jsonl", [_line("e1", f"{_day(5)}T08:00:00Z")])
    _write(tmp_path, "b.jsonl", [b'{"note":"\xff"}'])
    _write(tmp_path, "c.jsonl", [_line("e1", f"{_day(6)}T08:00:00Z")])
    assert _later(tmp_path, _day(2)) == {
        "a.jsonl": frozenset({_day(5)}),
        "c.jsonl": frozenset({_day(6)}),
    }


def test_a_file_whose_first_line_is_of_the_runs_days_or_earlier_is_not_scanned(
    tmp_path: Path, monkeypatch
):
    """A day's own file on its daily run is read anyway: scanning it would only add its time."""
    import sources.events.prescan as prescan

    scanned: list[str] = []
    real = prescan._scan

    def recording(con, sql, files):
        scanned.extend(f.source_file for f in files)
        return real(con, sql, files)

    monkeypatch.setattr(prescan, "_scan", recording)
    _write(
        tmp_path,
        "a.jsonl",
        [_line("e1", f"{_day(2)}T08:00:00Z"), _line("e2", f"{_day(9)}T08:00:00Z")],
    )
    _write(tmp_path, "b.jsonl", [_line("e3", f"{_day(1)}T08:00:00Z")])
    _write(tmp_path, "c.jsonl", ["garbage", _line("e4", f"{_day(1)}T08:00:00Z")])
    _write(tmp_path, "d.jsonl", [_line("e5", f"{_day(3)}T08:00:00Z")])
    assert _later(tmp_path, _day(2)) == {"d.jsonl": frozenset({_day(3)})}
    assert scanned == ["c.jsonl", "d.jsonl"]
