"""Spans of an OTLP request as plain values: ids in hex, attributes as Python values.

`Span` is what the mapping (sources/otel/mapping.py) reads; `Ancestry` is what a trace's other
spans contribute to it (their parent links and session/user attributes), possibly from other
batches and other files.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

SPAN_KIND_CLIENT = 3
STATUS_ERROR = 2
# Where a session and a user are read, in this order, on a span, its ancestors, then the resource
SESSION_KEYS = (
    "session.id",
    "gen_ai.conversation.id",
    "traceloop.association.properties.session_id",
)
USER_KEYS = ("user.id", "enduser.id", "traceloop.association.properties.user_id")
MAX_DEPTH = 256  # ancestors followed at most (a cycle of parent ids cannot loop forever)


def value(v: AnyValue) -> Any:
    """An attribute value as Python: scalars, lists, dicts; bytes as hex."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def attributes(kvs: Iterator[KeyValue] | Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in kvs}


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attrs: Mapping[str, Any]
    resource: Mapping[str, Any]
    scope: str
    batch_line: int  # the line of the file holding the request (1-based)
    position: int  # the span's place in that request (1-based)


def spans_of(request: ExportTraceServiceRequest, batch_line: int) -> Iterator[Span]:
    position = 0
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                position += 1
                yield Span(
                    trace_id=s.trace_id.hex(),
                    span_id=s.span_id.hex(),
                    parent_span_id=s.parent_span_id.hex(),
                    name=s.name,
                    kind=s.kind,
                    start_ns=s.start_time_unix_nano,
                    end_ns=s.end_time_unix_nano,
                    status_code=s.status.code,
                    status_message=s.status.message,
                    attrs=attributes(s.attributes),
                    resource=resource,
                    scope=ss.scope.name,
                    batch_line=batch_line,
                    position=position,
                )


def first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of `keys` present (and not empty) in `attrs`."""
    for key in keys:
        v = attrs.get(key)
        if v is not None and v != "":
            return v
    return None


@dataclass(frozen=True)
class Node:
    """What a span contributes to its descendants."""

    parent_span_id: str
    session_id: str | None
    user_id: str | None
    is_llm: bool = False
    has_usage: bool = False  # an LLM span with token counts


def node_of(span: Span, is_llm: bool = False, has_usage: bool = False) -> Node:
    session, user = first(span.attrs, SESSION_KEYS), first(span.attrs, USER_KEYS)
    return Node(
        span.parent_span_id,
        str(session) if session is not None else None,
        str(user) if user is not None else None,
        is_llm,
        has_usage,
    )


class Ancestry:
    """Every span seen, by (trace id, span id): the nearest ancestor's session and user, and
    whether a span runs inside an LLM call (its HTTP request is that call, not another; an LLM
    span inside it is the same call seen by a second instrumentation, such as the Anthropic SDK's
    own spans under OpenLLMetry's)."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[str, str], Node] = {}
        self._covered: set[tuple[str, str]] | None = None

    def add(self, span: Span, node: Node) -> None:
        self.nodes.setdefault((span.trace_id, span.span_id), node)
        self._covered = None

    def covered(self, span: Span) -> bool:
        """An LLM span below this one carries token counts."""
        if self._covered is None:
            self._covered = set()
            for (trace_id, _), node in self.nodes.items():
                if node.is_llm and node.has_usage:
                    parent, seen = node.parent_span_id, 0
                    while parent and seen < MAX_DEPTH and (trace_id, parent) in self.nodes:
                        self._covered.add((trace_id, parent))
                        parent, seen = self.nodes[(trace_id, parent)].parent_span_id, seen + 1
        return (span.trace_id, span.span_id) in self._covered

    def inside_llm_call_with_usage(self, span: Span) -> bool:
        return any(node.is_llm and node.has_usage for node in self._ancestors(span))

    def _ancestors(self, span: Span) -> Iterator[Node]:
        parent, seen = span.parent_span_id, 0
        while parent and seen < MAX_DEPTH:
            node = self.nodes.get((span.trace_id, parent))
            if node is None:
                return
            yield node
            parent, seen = node.parent_span_id, seen + 1

    def inherited(self, span: Span) -> tuple[str | None, str | None]:
        """(session id, user id): the span's own, else its nearest ancestor's that has one,
        else the resource's."""
        own = node_of(span, False)
        session, user = own.session_id, own.user_id
        for node in self._ancestors(span):
            if session is not None and user is not None:
                break
            session = session if session is not None else node.session_id
            user = user if user is not None else node.user_id
        if session is None and (v := first(span.resource, SESSION_KEYS)) is not None:
            session = str(v)
        if user is None and (v := first(span.resource, USER_KEYS)) is not None:
            user = str(v)
        return session, user

    def inside_llm_call(self, span: Span) -> bool:
        return any(node.is_llm for node in self._ancestors(span))
