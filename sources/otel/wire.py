"""OTLP trace batches on the wire and on disk, with the official `opentelemetry-proto` messages.

On the wire (OTLP/HTTP): an ExportTraceServiceRequest as protobuf (`application/x-protobuf`) or
as OTLP JSON (`application/json`), optionally gzip-compressed. On disk: one OTLP JSON request per
line, as the OpenTelemetry Collector's file exporter writes them, so one reader serves the
receiver's files and the Collector's.

OTLP JSON is protobuf's JSON mapping with two differences (OTLP specification, "JSON Protobuf
Encoding"): trace and span ids are hex strings, not base64, and enums are integers.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ID_FIELDS = ("traceId", "spanId", "parentSpanId")
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class Undecodable(ValueError):
    """A body or line that is not an ExportTraceServiceRequest; the message says why."""


class TooLarge(ValueError):
    """A body that decompresses beyond the cap."""


def gunzip(body: bytes, cap: int) -> bytes:
    """The decompressed body; TooLarge past `cap` bytes (checked while inflating)."""
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(body, cap + 1)
    except zlib.error as exc:
        raise Undecodable(f"the gzip body is corrupt ({exc})") from None
    if len(out) > cap:
        raise TooLarge
    if not d.eof:
        raise Undecodable("the gzip body is truncated")
    return out


def decode(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """A request from an OTLP/HTTP body of the given Content-Type (parameters ignored)."""
    media = content_type.split(";")[0].strip().lower()
    if media == PROTOBUF:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except (DecodeError, RecursionError) as exc:
            raise Undecodable(f"not an ExportTraceServiceRequest in protobuf ({exc})") from None
        return request
    if media == JSON:
        return from_json(body)
    raise Undecodable(f"unsupported Content-Type {media[:60]!r}: use {PROTOBUF} or {JSON}")


def _spans(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every span object of an OTLP JSON request, and every link of those spans."""
    for rs in _list(data, "resourceSpans"):
        for ss in _list(rs, "scopeSpans"):
            for span in _list(ss, "spans"):
                if isinstance(span, dict):
                    yield span
                    yield from (x for x in _list(span, "links") if isinstance(x, dict))


def _list(obj: Any, key: str) -> list:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _convert_ids(data: dict[str, Any], convert: Callable[[str], str]) -> None:
    for obj in _spans(data):
        for key in ID_FIELDS:
            if isinstance(obj.get(key), str) and obj[key]:
                obj[key] = convert(obj[key])


def _hex_to_base64(value: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        raise Undecodable(f"an id is not hex: {value[:40]!r}") from None


def _base64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def from_json(text: bytes | str) -> ExportTraceServiceRequest:
    """A request from OTLP JSON text (unknown fields ignored, as the specification asks)."""
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Undecodable(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Undecodable("not a JSON object")
    _convert_ids(data, _hex_to_base64)
    try:
        return json_format.ParseDict(data, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, RecursionError, TypeError) as exc:
        raise Undecodable(f"not an ExportTraceServiceRequest ({str(exc)[:200]})") from None


def to_json_line(request: ExportTraceServiceRequest) -> str:
    """The request as one line of OTLP JSON (the Collector file exporter's format)."""
    data = json_format.MessageToDict(request, use_integers_for_enums=True)
    _convert_ids(data, _base64_to_hex)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def span_count(request: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
