"""`costwatch collect` over real HTTP: encodings, limits, durability, and what it writes."""

from __future__ import annotations

import concurrent.futures
import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from sources.otel.receiver import MAX_BODY_BYTES, Spool, serve
from tests.otel.conftest import JS, PB, collector, request, span, spool_lines


def _only_span(line: str) -> dict:
    """The single span of a written line, as the OTLP JSON the Collector writes."""
    data = json.loads(line)
    (rs,) = data["resourceSpans"]
    ((sp,),) = [ss["spans"] for ss in rs["scopeSpans"]]
    return sp


def test_a_protobuf_batch_is_written_as_one_otlp_json_line_before_the_answer(tmp_path):
    batch = request(span(0xABC, parent=0x1, trace=0xFEED, name="chat", gen_ai__system="openai"))
    with collector(tmp_path) as c:
        r = c.post("/v1/traces", content=batch.SerializeToString(), headers=PB)
        (line,) = spool_lines(tmp_path)  # on disk when the answer arrives
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-protobuf"
    ExportTraceServiceResponse().ParseFromString(r.content)
    sp = _only_span(line)
    # OTLP JSON: ids in hex (not protobuf JSON's base64), enums as integers
    assert sp["traceId"] == f"{0xFEED:032x}"
    assert sp["spanId"] == "0000000000000abc"
    assert sp["parentSpanId"] == "0000000000000001"
    assert sp["kind"] == 1
    assert sp["attributes"] == [{"key": "gen_ai.system", "value": {"stringValue": "openai"}}]


def test_json_and_gzip_bodies_are_accepted(tmp_path):
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "x",
                                "kind": 3,
                                "startTimeUnixNano": "1796000000000000000",
                                "unknownFieldOfANewerVersion": 1,
                            }
                        ]
                    }
                ]
            }
        ]
    }
    with collector(tmp_path) as c:
        r1 = c.post("/v1/traces", content=json.dumps(body), headers=JS)
        zipped = gzip.compress(request(span(7)).SerializeToString())
        r2 = c.post("/v1/traces", content=zipped, headers={**PB, "content-encoding": "gzip"})
    assert (r1.status_code, r1.json()) == (200, {})
    assert r2.status_code == 200
    first, second = (_only_span(x) for x in spool_lines(tmp_path))
    assert first["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert first["spanId"] == "eee19b7ec3c1b174"
    assert first["startTimeUnixNano"] == "1796000000000000000"
    assert second["spanId"] == "0000000000000007"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"\xff\xff\xff\xff", PB, 400),
        (b"{not json", JS, 400),
        (b"[1, 2]", JS, 400),
        (
            json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}),
            JS,
            400,
        ),
        (b"\x1f\x8b\x08\x00garbage", {**PB, "content-encoding": "gzip"}, 400),
        (b"{}", {"content-type": "text/plain"}, 400),
        (b"x" * (MAX_BODY_BYTES + 1), PB, 413),
        # a small body that inflates past the cap
        (gzip.compress(b"\x00" * (MAX_BODY_BYTES + 10)), {**PB, "content-encoding": "gzip"}, 413),
    ],
    ids=[
        "bad-protobuf",
        "bad-json",
        "json-not-object",
        "id-not-hex",
        "bad-gzip",
        "content-type",
        "too-large",
        "gzip-bomb",
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_written(tmp_path, body, headers, status):
    with collector(tmp_path) as c:
        r = c.post("/v1/traces", content=body, headers=headers)
    assert r.status_code == status
    assert r.json()["message"]
    assert not (tmp_path / "otlp").exists()


def test_an_empty_batch_is_answered_and_writes_nothing(tmp_path):
    with collector(tmp_path) as c:
        assert c.post("/v1/traces", content=b"", headers=PB).status_code == 200
        assert c.get("/v1/traces").status_code == 404
    assert not (tmp_path / "otlp").exists()


def test_when_the_batch_cannot_be_written_the_answer_is_503_with_retry_after(tmp_path):
    (tmp_path / "otlp").write_text("a file where the spool folder should be")
    with collector(tmp_path) as c:
        r = c.post("/v1/traces", content=request(span(1)).SerializeToString(), headers=PB)
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) > 0
        (tmp_path / "otlp").unlink()  # the operator fixes it: the retry succeeds
        r = c.post("/v1/traces", content=request(span(1)).SerializeToString(), headers=PB)
    assert r.status_code == 200
    assert len(spool_lines(tmp_path)) == 1


def test_a_token_is_required_when_set_and_an_open_bind_needs_one(tmp_path):
    batch = request(span(1)).SerializeToString()
    with collector(tmp_path, token="s3cret") as c:
        assert c.post("/v1/traces", content=batch, headers=PB).status_code == 401
        auth = {**PB, "authorization": "Bearer s3cret"}
        assert c.post("/v1/traces", content=batch, headers=auth).status_code == 200
    with pytest.raises(PermissionError, match="COSTWATCH_COLLECT_TOKEN"):
        serve(tmp_path, "0.0.0.0", 0, None)


def test_concurrent_batches_each_land_whole_once(tmp_path):
    def post(i: int) -> int:
        with httpx.Client(base_url=base, timeout=10) as c:
            return c.post("/v1/traces", content=bodies[i], headers=PB).status_code

    bodies = [request(span(i + 1, name="n" * 5000)).SerializeToString() for i in range(40)]
    with collector(tmp_path) as c:
        base = str(c.base_url)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert list(pool.map(post, range(40))) == [200] * 40
    ids = sorted(_only_span(x)["spanId"] for x in spool_lines(tmp_path))
    assert ids == [f"{i + 1:016x}" for i in range(40)]


def test_a_line_cut_by_a_crash_is_ended_before_the_next_batch(tmp_path):
    spool = Spool(tmp_path)
    spool.append(request(span(1)))
    (path,) = (tmp_path / "otlp").rglob("*.otlp.jsonl")
    with path.open("ab") as fh:
        fh.write(b'{"resourceSpans":[{"scopeSp')  # a write the kill interrupted
    spool.close()
    Spool(tmp_path).append(request(span(2)))
    lines = path.read_text().split("\n")
    assert lines[1] == '{"resourceSpans":[{"scopeSp'
    assert _only_span(lines[2])["spanId"] == "0000000000000002"
    assert lines[3] == ""


def test_a_batch_answered_200_survives_kill_9(tmp_path):
    env = {**os.environ, "COSTWATCH_HOME": str(tmp_path), "COSTWATCH_EVENTS_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "costwatch"), "collect", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner = proc.stdout.readline()
        url = banner.split("at ")[1].split("/v1/traces")[0]
        spans = [span(i, name="s") for i in range(1, 201)]
        with httpx.Client(base_url=url, timeout=10) as c:
            r = c.post("/v1/traces", content=request(*spans).SerializeToString(), headers=PB)
        os.kill(proc.pid, signal.SIGKILL)  # right after the answer: nothing may be in flight
        assert r.status_code == 200
    finally:
        proc.kill()
        proc.wait(timeout=10)
    (line,) = spool_lines(tmp_path)
    data = json.loads(line)
    written = data["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert [s["spanId"] for s in written] == [f"{i:016x}" for i in range(1, 201)]
