"""The Spark engine's ingestion (sources/spark/ingest.py): event files read and parsed by Spark
tasks (`local[2]`, three parts) give exactly the raw tables, line accounting, quarantine, late
days and OpenTelemetry counts of the ingestion in one process, on files where every hard case
crosses the parts: the demo's logs (every invalid kind, re-delivered files, blank lines, invalid
UTF-8), a corpus where every contract field takes every awkward JSON value, a gzip file, CRLF
and a byte-order mark, a line over the cap, OpenTelemetry files, copies of one event in several
files and parts, and a copy of an event of the window written on another day; then loads of
those other days, whose stored copies Spark finds in the lake."""

import datetime as dt
import gzip
import json
from pathlib import Path

import duckdb
import pytest

from sources.demo.sample_data import generate
from sources.events.files import EventFile, ReadLimits
from sources.events.log import ingest_range
from sources.events.parts import balanced_parts
from sources.spark.cluster import QUICK_RUN_CONF, SMALL_DATA_CONF
from sources.spark.ingest import BELOW_SPARK_SIZE, SparkIngestion
from tests.otel.conftest import otlp_json, request, span
from tests.unit.test_parse_paths import corpus

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.slow]

START = dt.date(2026, 11, 20)
DAYS = 3
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
LIMITS = ReadLimits(first_day=dt.date(2025, 1, 1), max_line_bytes=4096)
GENAI = {
    "gen_ai__operation__name": "chat",
    "gen_ai__provider__name": "openai",
    "gen_ai__request__model": "gpt-4o",
    "gen_ai__usage__input_tokens": 10,
    "gen_ai__usage__output_tokens": 2,
}
TABLES = {
    "raw.app_events": "select * exclude (ingested_at) from raw.app_events",
    "raw.event_quarantine": "select * exclude (ingested_at) from raw.event_quarantine",
    "raw.event_file_stats": "select * exclude (ingested_at) from raw.event_file_stats",
    "raw.event_files": "select * from raw.event_files",
}


def _events(root: Path) -> None:
    """The demo's days, and the hard cases around them."""
    generate(root, START, DAYS, 8)
    first = json.loads(sorted(root.rglob("*.jsonl"))[0].read_text().splitlines()[0])
    day1 = START.isoformat()
    awkward = [line.replace("2026-11-21", day1) for line in corpus()]
    (root / "awkward").mkdir()
    (root / "awkward" / "fields.jsonl").write_text("\n".join(awkward) + "\n")
    compute = {"type": "compute", "duration_ms": 5, "user_id": "u-x"}
    lines = [
        json.dumps({**compute, "event_id": f"x-{i}", "ts": f"{day1}T10:00:0{i}Z"}) for i in range(3)
    ]
    (root / "awkward" / "crlf-bom.jsonl").write_bytes(
        b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n" + b"x" * 5000 + b"\r\n"
    )
    (root / "awkward" / "again.jsonl.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    bad = json.dumps(
        {**compute, "event_id": "latin-1", "ts": f"{day1}T11:00:00Z", "app": "\xe9"},
        ensure_ascii=False,
    )
    (root / "awkward" / "latin-1.jsonl").write_bytes(
        bad.encode("latin-1") + b"\n" + lines[0].encode()
    )
    # events of the window written again on other days: later (the copy loses) and earlier (it
    # wins: the window's own line becomes a duplicate), each in a file of its own
    (root / "late").mkdir()
    for name, days in (("later", 5), ("earlier", -2)):
        copy = {**first, "ts": f"{START + dt.timedelta(days=days)}T00:00:00Z"}
        (root / "late" / f"{name}-copy.jsonl").write_text(json.dumps(copy) + "\n")
    otlp = root / "otlp"
    otlp.mkdir()
    nine_days = -9 * 86_400_000  # before the spans' own time (2026-11-30): in the window
    child = request(span(2, parent=1, start_ms=nine_days, **GENAI))
    parent = request(span(1, start_ms=nine_days, session__id="s1", user__id="u1"))
    (otlp / "a.otlp.jsonl").write_text(f"{otlp_json(child)}\n\nnot json\n{otlp_json(parent)}\n")


def _ingest(
    db: Path,
    events: Path,
    start: dt.date,
    end: dt.date,
    spark: bool,
    master: str = "local[2]",
    min_bytes: int = 0,
) -> tuple[dict, dict]:
    db.parent.mkdir(exist_ok=True)
    engine = SparkIngestion(master, db.parent / "lake", parts=3, min_bytes=min_bytes)
    with duckdb.connect(str(db)) as con, engine:
        result = ingest_range(
            con,
            events,
            start,
            end,
            ingested_at=NOW,
            limits=LIMITS,
            read_and_parse=engine.read_and_parse if spark else None,
            find_copies=engine.find_stored_copies if spark else None,
        )
        tables = {name: sorted(con.execute(sql).fetchall()) for name, sql in TABLES.items()}
    found = {
        "tables": tables,
        "per_day": result.per_day,
        "reasons": result.quarantine_reasons,
        "late": result.late_days,
        "otel": result.otel_spans,
        "removed": result.removed,
    }
    return found, result.stage_seconds


def test_spark_tasks_ingest_exactly_what_one_process_ingests(tmp_path: Path, monkeypatch):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(SMALL_DATA_CONF + QUICK_RUN_CONF)
    monkeypatch.setenv("SPARK_CONF_DIR", str(conf))
    events = tmp_path / "events"
    _events(events)
    last = START + dt.timedelta(days=DAYS - 1)
    here, _ = _ingest(tmp_path / "here" / "w.duckdb", events, START, last, spark=False)
    killed = tmp_path / "spark" / "lake" / "_ingest" / "0123abcd"  # a load killed before its end
    (killed / "parsed").mkdir(parents=True)
    (killed / "parsed" / "part-0.parquet").write_bytes(b"PAR1")
    there, stages = _ingest(tmp_path / "spark" / "w.duckdb", events, START, last, spark=True)
    assert "spark tasks" in stages and "spark history search" in stages
    assert there == here
    # the copies' days, loaded after the window (where the earlier copy beat the window's line,
    # so that no copy was stored): the later copy is stored, none to find; then the earlier one
    # finds it and wins (its day is late); then the later day's load finds the earlier copy
    later, earlier = START + dt.timedelta(days=5), START - dt.timedelta(days=2)
    for day, late, accepted in ((later, [], 1), (earlier, [later], 1), (later, [], 0)):
        here_day, _ = _ingest(tmp_path / "here" / "w.duckdb", events, day, day, spark=False)
        there_day, stages = _ingest(tmp_path / "spark" / "w.duckdb", events, day, day, spark=True)
        assert "spark history search" in stages
        assert there_day == here_day
        assert here_day["late"] == late
        stats = here_day["tables"]["raw.event_file_stats"]
        copies = [(s[0], s[3], s[4]) for s in stats if s[1] == day]  # accepted, duplicates
        name = f"late/{'later' if day == later else 'earlier'}-copy.jsonl"
        assert copies == [(name, accepted, 1 - accepted)]
    # what the comparison covered (a rerun on Spark: tests/spark/test_engine.py)
    tables, reasons = here["tables"], here["reasons"]
    assert len(tables["raw.app_events"]) > 100
    assert {"invalid_json", "invalid_utf8", "line_too_long", "wrong_type:input_tokens"} <= set(
        reasons
    ), reasons
    assert any(stats[4] > 0 for stats in tables["raw.event_file_stats"])  # duplicates
    assert here["otel"]["otlp/a.otlp.jsonl"]["events"] == 1
    # the killed load's staging and this load's are removed
    assert not list((tmp_path / "spark" / "lake" / "_ingest").iterdir())


def test_files_under_the_spark_size_are_read_in_this_process_without_spark(tmp_path: Path):
    """COSTWATCH_SPARK_INGEST_MIN_MB: under it, no Spark application is started (the master here
    answers nobody: a Spark session on it would fail) and the result is the one-process one."""
    events = tmp_path / "events"
    _events(events)
    plain = sum(p.stat().st_size for p in events.rglob("*") if p.is_file() and "otlp" not in p.name)
    here, _ = _ingest(tmp_path / "here" / "w.duckdb", events, START, START, spark=False)
    under, stages = _ingest(
        tmp_path / "under" / "w.duckdb", events, START, START, spark=True,
        master="spark://127.0.0.1:1", min_bytes=plain + 1,
    )  # fmt: skip
    assert BELOW_SPARK_SIZE in stages and "spark tasks" not in stages
    assert under == here


def test_parts_balance_bytes_and_keep_each_files_order():
    files = [EventFile(Path(f"/e/{n}"), n, size, 0) for n, size in
             (("a", 5), ("b", 1), ("c", 4), ("d", 2), ("e", 3))]  # fmt: skip
    parts = balanced_parts(files, 2)
    assert [[f.source_file for f in p] for p in parts] == [["a", "b", "d"], ["c", "e"]]
    assert balanced_parts(files[:1], 4) == [files[:1]]
    assert balanced_parts([], 3) == []
