"""OpenTelemetry intake fixtures: the receiver on a real HTTP server, and OTLP requests built with
the official proto classes (the tests' own builder, independent of sources/otel)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from sources.otel.receiver import serve
from tests.conftest import serving

PB = {"content-type": "application/x-protobuf"}
JS = {"content-type": "application/json"}
T0 = 1_796_000_000_000_000_000  # 2026-11-30T00:53:20Z in ns


def any_value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=str(v))


def kvs(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def span(
    span_id: int,
    parent: int | None = None,
    trace: int = 1,
    name: str = "span",
    kind: int = Span.SPAN_KIND_INTERNAL,
    start_ms: int = 0,
    duration_ms: int = 100,
    error: bool = False,
    **attrs: Any,
) -> Span:
    """A span of trace `trace`; attribute names use `__` for dots (gen_ai__system)."""
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        kind=kind,
        start_time_unix_nano=T0 + start_ms * 1_000_000,
        end_time_unix_nano=T0 + (start_ms + duration_ms) * 1_000_000,
        attributes=kvs({k.replace("__", "."): v for k, v in attrs.items()}),
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET),
    )


def request(*spans: Span, resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=kvs(resource or {"service.name": "test-app"})),
                scope_spans=[ScopeSpans(spans=list(spans))],
            )
        ]
    )


@contextmanager
def collector(events_dir: Path, token: str | None = None) -> Iterator[httpx.Client]:
    """`costwatch collect` on a real HTTP server on 127.0.0.1 (a thread), and a client."""
    with serving(serve(events_dir, "127.0.0.1", 0, token), timeout=10) as client:
        yield client


def otlp_json(req: ExportTraceServiceRequest) -> str:
    """A request as the Collector's file exporter writes it: OTLP JSON, ids in hex (protobuf's
    own JSON mapping would write base64), enums as integers."""
    data = json_format.MessageToDict(req, use_integers_for_enums=True)
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in s:
                        s[key] = base64.b64decode(s[key]).hex()
    return json.dumps(data)


def spool_lines(events_dir: Path) -> list[str]:
    """Every line of every file the receiver wrote."""
    return [
        line
        for f in sorted((events_dir / "otlp").rglob("*.otlp.jsonl"))
        for line in f.read_text().split("\n")[:-1]
    ]
