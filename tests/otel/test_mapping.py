"""Spans to events, one rule at a time: every convention's token names with the contract's
meaning, session and user from ancestors in later batches, what is ignored and what is
quarantined; then OTLP files through the real ingestion (accounting, dedup, event_source)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import duckdb
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

from sources.events.files import discover_files
from sources.events.log import ingest_range
from sources.otel.mapping import Ignored, Quarantined, map_span
from sources.otel.spans import spans_of
from sources.otel.translate import Translation, ancestry_files
from tests.otel.conftest import otlp_json, request, span

CLIENT = PbSpan.SPAN_KIND_CLIENT
DAY = dt.date(2026, 11, 30)
TS = "2026-11-30T00:53:20.000000Z"  # conftest.T0


def mapped(*requests) -> dict[int, object]:
    """What every span of the requests becomes (as the ingestion maps them: every batch seen
    first), by span id."""
    spans = [s for i, r in enumerate(requests, 1) for s in spans_of(r, i)]
    translation = Translation([], None)  # type: ignore[arg-type]
    for r in requests:
        translation.add(r)
    return {int(s.span_id, 16): map_span(s, translation.ancestry) for s in spans}


def event(span_id: int, trace: int = 1, **fields) -> dict:
    """The expected event of a span of conftest.span() with default times."""
    return {
        "event_id": f"otel-{trace:032x}-{span_id:016x}",
        "type": "llm_call",
        "ts": TS,
        "app": "test-app",
        "duration_ms": 100.0,
        "status": "ok",
        **fields,
    }


def without_metadata(e) -> dict:
    assert isinstance(e, dict), e
    return {k: v for k, v in e.items() if k != "metadata"}


GENAI = dict(
    gen_ai__operation__name="chat",
    gen_ai__provider__name="openai",
    gen_ai__request__model="gpt-4o",
    gen_ai__response__model="gpt-4o-2024-08-06",
)


def test_genai_conventions_counts_are_copied_with_their_inclusive_meaning():
    s = span(
        2,
        **GENAI,
        gen_ai__usage__input_tokens=1200,
        gen_ai__usage__cache_read__input_tokens=1000,
        gen_ai__usage__cache_creation__input_tokens=150,
        gen_ai__usage__output_tokens=300,
        gen_ai__usage__reasoning__output_tokens=120,
        openai__response__service_tier="flex",
    )
    assert without_metadata(mapped(request(s))[2]) == event(
        2,
        provider="openai",
        model="gpt-4o-2024-08-06",
        input_tokens=1200,
        cached_input_tokens=1000,
        cache_write_tokens=150,
        output_tokens=300,
        reasoning_tokens=120,
        service_tier="flex",
    )


def test_openinference_and_deprecated_genai_names():
    oi = span(
        2,
        openinference__span__kind="LLM",
        llm__provider="anthropic",
        llm__model_name="claude-sonnet-4-5",
        llm__token_count__prompt=900,
        llm__token_count__prompt_details__cache_read=500,
        llm__token_count__prompt_details__cache_write=100,
        llm__token_count__completion=40,
        llm__token_count__completion_details__reasoning=10,
    )
    old = span(3, gen_ai__system="openai", gen_ai__request__model="gpt-4o-mini",
               gen_ai__usage__prompt_tokens=70, gen_ai__usage__completion_tokens=7)  # fmt: skip
    got = mapped(request(oi, old))
    assert without_metadata(got[2]) == event(
        2,
        provider="anthropic",
        model="claude-sonnet-4-5",
        input_tokens=900,
        cached_input_tokens=500,
        cache_write_tokens=100,
        output_tokens=40,
        reasoning_tokens=10,
    )
    assert without_metadata(got[3]) == event(
        3, provider="openai", model="gpt-4o-mini", input_tokens=70, output_tokens=7
    )


def test_session_and_user_come_from_the_nearest_ancestor_in_a_later_batch_then_the_resource():
    llm = span(3, parent=2, **GENAI, gen_ai__usage__input_tokens=5, gen_ai__usage__output_tokens=1)
    middle = span(2, parent=1, user__id="u-middle")  # a user, no session
    root = span(1, session__id="s-root", user__id="u-root")
    other = span(
        4, trace=2, **GENAI, gen_ai__usage__input_tokens=5, gen_ai__usage__output_tokens=1,
        gen_ai__conversation__id="conv-9",
    )  # fmt: skip
    got = mapped(
        request(llm),
        request(middle),
        request(root),
        request(other, resource={"service.name": "svc", "enduser.id": "u-res"}),
    )
    assert (got[3]["session_id"], got[3]["user_id"]) == ("s-root", "u-middle")
    assert (got[4]["session_id"], got[4]["user_id"], got[4]["app"]) == ("conv-9", "u-res", "svc")
    assert got[1] == got[2] == Ignored("other")


def test_one_call_seen_twice_counts_once():
    usage = dict(gen_ai__usage__input_tokens=10, gen_ai__usage__output_tokens=2)
    got = mapped(
        request(
            # nested, both with usage: the outer is the call
            span(1, **GENAI, **usage),
            span(2, parent=1, **GENAI, **usage),
            # nested, the outer without usage: the inner is the call
            span(3, **GENAI),
            span(4, parent=3, **GENAI, **usage),
            # siblings with the provider's response id: one event id
            span(5, parent=9, **GENAI, **usage, gen_ai__response__id="chatcmpl-1"),
            span(6, parent=9, **GENAI, **usage, gen_ai__response__id="chatcmpl-1"),
        )
    )
    assert isinstance(got[1], dict) and isinstance(got[4], dict)
    assert got[2] == got[3] == Ignored("llm_nested")
    assert got[5]["event_id"] == got[6]["event_id"] == "otel-openai-chatcmpl-1"


def test_agent_tool_chain_and_transport_spans_are_ignored_db_and_http_clients_mapped():
    usage = dict(gen_ai__usage__input_tokens=10, gen_ai__usage__output_tokens=2)
    got = mapped(
        request(
            span(1, gen_ai__operation__name="invoke_agent", **usage),
            span(2, openinference__span__kind="CHAIN", llm__token_count__prompt=10),
            span(3, **GENAI, **usage),
            span(4, parent=3, kind=CLIENT, http__request__method="POST"),
            span(
                5,
                kind=CLIENT,
                http__request__method="GET",
                server__address="maps.example",
                url__full="https://maps.example/v1/geocode?key=SECRET",
            ),
            span(
                6,
                kind=CLIENT,
                db__system__name="postgresql",
                db__operation__name="SELECT",
                db__response__returned_rows=42,
            ),
            span(7, kind=CLIENT, db__system="redis", db__operation="SET"),
            span(8, name="plain work"),
        )
    )
    assert got[1] == got[2] == Ignored("agent_or_tool")
    assert got[4] == Ignored("llm_transport")
    assert got[8] == Ignored("other")
    assert without_metadata(got[5]) == {
        **event(5),
        "type": "api_call",
        "service": "maps.example",
        "endpoint": "/v1/geocode",
    }
    assert "SECRET" not in json.dumps(got[5])
    assert without_metadata(got[6]) == {
        **event(6),
        "type": "db_op",
        "operation": "read",
        "rows_read": 42,
    }
    assert got[7]["operation"] == "write"


def test_errors_embeddings_providers_and_missing_usage():
    got = mapped(
        request(
            span(
                1,
                **GENAI,
                error=True,
                error__type="RateLimitError",
                gen_ai__usage__input_tokens=10,
                gen_ai__usage__output_tokens=0,
            ),
            span(
                2,
                gen_ai__operation__name="embeddings",
                gen_ai__provider__name="gcp.gemini",
                gen_ai__request__model="text-embedding-004",
                gen_ai__usage__input_tokens=8,
            ),
            span(3, **GENAI),  # a stream without include_usage
        )
    )
    assert (got[1]["status"], got[1]["error_code"]) == ("error", "RateLimitError")
    assert (got[2]["provider"], got[2]["output_tokens"]) == ("google", 0)
    assert isinstance(got[3], Quarantined) and got[3].reason == "otel_no_usage"


def _write(path: Path, lines: list[str], gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(x + "\n" for x in lines).encode()
    path.write_bytes(gzip.compress(body) if gz else body)


COLLECTOR_FILE = "col/traces.otlp-2026-11-30T01-00-00.000.jsonl.gz"


def test_otlp_files_through_the_ingestion(tmp_path: Path):
    usage = dict(gen_ai__usage__input_tokens=10, gen_ai__usage__output_tokens=2)
    child = request(span(2, parent=1, **GENAI, **usage), span(3, parent=1, **GENAI))
    parent = request(span(1, session__id="s1", user__id="u1"))
    # the receiver's file, and the same batches re-sent in a Collector file (rotated, gzip),
    # whose copy wins (same ts: the first path)
    _write(tmp_path / "otlp/a.otlp.jsonl", [otlp_json(child), "", "not json", otlp_json(parent)])
    _write(
        tmp_path / COLLECTOR_FILE,
        [otlp_json(child), otlp_json(parent)],
        gz=True,
    )
    compute = {"event_id": "e1", "type": "compute", "ts": "2026-11-30T01:00:00Z", "duration_ms": 5}
    _write(tmp_path / "app.jsonl", [json.dumps(compute)])
    con = duckdb.connect()
    result = ingest_range(con, tmp_path, DAY, DAY)
    rows = con.execute(
        "select event_id, session_id, user_id, input_tokens, event_source, source_file "
        "from raw.app_events order by event_id"
    ).fetchall()
    assert rows == [
        ("e1", None, "anonymous", None, "event_log", "app.jsonl"),
        (f"otel-{1:032x}-{2:016x}", "s1", "u1", 10, "opentelemetry", COLLECTOR_FILE),
    ]
    stats = con.execute(
        "select source_file, lines_read, accepted, duplicates, quarantined, blank "
        "from raw.event_file_stats order by 1"
    ).fetchall()
    assert stats == [
        ("app.jsonl", 1, 1, 0, 0, 0),
        # a line per event, per quarantined span and per bad or blank batch line
        (COLLECTOR_FILE, 2, 1, 0, 1, 0),
        ("otlp/a.otlp.jsonl", 4, 0, 1, 2, 1),
    ]
    reasons = con.execute(
        "select source_file, reason from raw.event_quarantine order by 1, line_no"
    ).fetchall()
    assert reasons == [
        (COLLECTOR_FILE, "otel_no_usage"),
        ("otlp/a.otlp.jsonl", "otel_no_usage"),
        ("otlp/a.otlp.jsonl", "otel_undecodable"),
    ]
    assert result.otel_spans["otlp/a.otlp.jsonl"] == {
        "batches": 2,
        "spans": 3,
        "events": 1,
        "quarantined": 2,
        "ignored": {"other": 1},
    }


def test_ancestry_reads_the_files_read_and_the_otlp_files_changed_since_the_day_before(tmp_path):
    for name, day in [("old.otlp.jsonl", 20), ("recent.otlp.jsonl", 29), ("new.otlp.jsonl", 30),
                      ("app.jsonl", 30), ("read.otlp.jsonl", 1)]:  # fmt: skip
        _write(tmp_path / name, [])
        moment = dt.datetime(2026, 11, day, 12, tzinfo=dt.UTC).timestamp()
        os.utime(tmp_path / name, (moment, moment))
    files = discover_files(tmp_path)
    read = [f for f in files if f.source_file in ("read.otlp.jsonl", "app.jsonl")]
    chosen = ancestry_files(files, read, DAY)
    assert [f.source_file for f in chosen] == [
        "new.otlp.jsonl", "read.otlp.jsonl", "recent.otlp.jsonl"
    ]  # fmt: skip
    # the earliest first day there is (a backfill of all history): every OTLP file
    assert len(ancestry_files(files, [], dt.date.min)) == 4
