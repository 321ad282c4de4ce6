"""Spans to contract events (docs/opentelemetry.md has this as a table).

An LLM span (OpenTelemetry GenAI semantic conventions, OpenInference, OpenLLMetry) becomes an
`llm_call`, a database client span a `db_op`, an HTTP client span an `api_call` (unless it runs
inside an LLM call: then it is that call's transport). Every other span is ignored and counted.
An LLM span without any token count is not priced at $0: it is quarantined (`otel_no_usage`).

Token counts keep the contract's one meaning: every convention's input count already includes
cache reads and writes (GenAI conventions: `gen_ai.usage.input_tokens` SHOULD include them;
OpenInference: `llm.token_count.prompt` is the whole prompt; OpenLLMetry adds Anthropic's cache
counts to its input count), and every output count includes reasoning. So they are copied, never
summed or subtracted; a sender breaking that is caught by the contract's inequalities.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sources.otel.spans import SPAN_KIND_CLIENT, STATUS_ERROR, Ancestry, Span, first

PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
MODEL_KEYS = (
    "gen_ai.response.model",
    "gen_ai.request.model",
    "llm.response.model",
    "llm.model_name",
    "llm.request.model",
)
# contract field -> attribute names, first present wins (GenAI conventions, their deprecated
# names, OpenLLMetry's older names, OpenInference)
TOKEN_KEYS: dict[str, tuple[str, ...]] = {
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    ),
    "cached_input_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_write.input_tokens",  # the Anthropic SDK's own spans
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
}
OPERATION_KEYS = ("gen_ai.operation.name", "llm.request.type")  # OpenLLMetry's older name
SERVICE_TIER_KEYS = ("openai.response.service_tier", "gen_ai.openai.response.service_tier")
# GenAI operations that are one call to a model; agent and tool spans (invoke_agent,
# execute_tool, ...) may carry their children's usage and are not calls themselves
MODEL_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "completion", "embedding"}
)
OPENINFERENCE_CALLS = frozenset({"LLM", "EMBEDDING"})
PROVIDER_NAMES = {
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "vertex_ai": "google",
    "gemini": "google",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "aws.bedrock": "aws",
}
DB_SYSTEM_KEYS = ("db.system.name", "db.system")
DB_OPERATION_KEYS = ("db.operation.name", "db.operation")
READ_OPERATIONS = frozenset({"SELECT", "GET", "FIND", "READ", "SCAN", "QUERY", "MGET", "HGET"})
HTTP_METHOD_KEYS = ("http.request.method", "http.method")


@dataclass(frozen=True)
class Quarantined:
    reason: str
    detail: str


@dataclass(frozen=True)
class Ignored:
    kind: str  # why: "other", "llm_transport", "llm_nested", "agent_or_tool"


Mapped = dict[str, Any] | Quarantined | Ignored


def is_llm_call(attrs: Mapping[str, Any]) -> bool | None:
    """True for a model call, None for a GenAI span that is not one (agent, tool), False for a
    span of no LLM convention."""
    oi_kind = attrs.get("openinference.span.kind")
    if oi_kind is not None:
        return True if str(oi_kind).upper() in OPENINFERENCE_CALLS else None
    operation = first(attrs, OPERATION_KEYS)
    if operation is not None:
        return True if str(operation).lower() in MODEL_OPERATIONS else None
    genai = any(k.startswith(("gen_ai.", "llm.token_count.")) for k in attrs)
    return genai and first(attrs, PROVIDER_KEYS + MODEL_KEYS) is not None


def _ts(ns: int) -> str:
    moment = dt.datetime.fromtimestamp(ns // 1000 / 1e6, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _duration_ms(span: Span) -> float | None:
    if span.end_ns < span.start_ns or not span.start_ns:
        return None
    return (span.end_ns - span.start_ns) / 1e6


def _status(span: Span) -> tuple[str, str | None]:
    error_type = span.attrs.get("error.type")
    if span.status_code == STATUS_ERROR or error_type is not None:
        code = error_type if error_type is not None else (span.status_message or None)
        return "error", str(code)[:200] if code is not None else None
    return "ok", None


def provider_name(raw: Any) -> str:
    name = str(raw).strip().lower()
    return PROVIDER_NAMES.get(name, name)


def _envelope(span: Span, event_type: str, ancestry: Ancestry) -> dict[str, Any]:
    session, user = ancestry.inherited(span)
    event: dict[str, Any] = {
        "event_id": f"otel-{span.trace_id}-{span.span_id}",
        "type": event_type,
        "ts": _ts(span.start_ns),
    }
    if session is not None:
        event["session_id"] = session
    if user is not None:
        event["user_id"] = user
    if (app := span.resource.get("service.name")) is not None:
        event["app"] = str(app)
    if (duration := _duration_ms(span)) is not None:
        event["duration_ms"] = duration
    event["status"], error_code = _status(span)
    if error_code is not None:
        event["error_code"] = error_code
    event["metadata"] = {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "span_name": span.name[:200],
        "scope": span.scope[:200],
        "batch_line": span.batch_line,
    }
    return event


def has_usage(attrs: Mapping[str, Any]) -> bool:
    return any(first(attrs, TOKEN_KEYS[k]) is not None for k in ("input_tokens", "output_tokens"))


def llm_call(span: Span, ancestry: Ancestry) -> dict[str, Any] | Quarantined | Ignored:
    """One call seen by two instrumentations counts once: nested LLM spans, the outermost span
    with token counts is the call and the others are ignored (`llm_nested`); sibling spans with
    the same provider response id share one event id, so the later are duplicates."""
    tokens = {field: first(span.attrs, keys) for field, keys in TOKEN_KEYS.items()}
    usage = tokens["input_tokens"] is not None or tokens["output_tokens"] is not None
    if ancestry.inside_llm_call_with_usage(span) or (not usage and ancestry.covered(span)):
        return Ignored("llm_nested")
    if not usage:
        return Quarantined(
            "otel_no_usage",
            "an LLM span without token counts (a stream without usage: OpenAI needs "
            "stream_options={'include_usage': True}); it is not priced at $0",
        )
    operation = str(first(span.attrs, OPERATION_KEYS) or "")
    if tokens["output_tokens"] is None and operation.lower().startswith("embedding"):
        tokens["output_tokens"] = 0
    event = _envelope(span, "llm_call", ancestry)
    if (provider := first(span.attrs, PROVIDER_KEYS)) is not None:
        event["provider"] = provider_name(provider)
        if (response_id := span.attrs.get("gen_ai.response.id")) is not None:
            # the provider's id of the call: two instrumentations recording the same call as
            # sibling spans (the Anthropic SDK's own span next to OpenLLMetry's) give one event
            event["event_id"] = f"otel-{event['provider']}-{response_id}"
    if (model := first(span.attrs, MODEL_KEYS)) is not None:
        event["model"] = model
    event.update({k: v for k, v in tokens.items() if v is not None})
    if (tier := first(span.attrs, SERVICE_TIER_KEYS)) is not None:
        event["service_tier"] = tier
    if isinstance(stream := span.attrs.get("llm.is_streaming"), bool):
        event["stream"] = stream
    return event


def db_op(span: Span, ancestry: Ancestry) -> dict[str, Any]:
    event = _envelope(span, "db_op", ancestry)
    operation = first(span.attrs, DB_OPERATION_KEYS)
    if operation is not None and str(operation).split():
        verb = str(operation).split()[0].upper()
        event["operation"] = "read" if verb in READ_OPERATIONS else "write"
    if (rows := span.attrs.get("db.response.returned_rows")) is not None:
        event["rows_read"] = rows
    return event


def api_call(span: Span, ancestry: Ancestry) -> dict[str, Any]:
    """The service is the server's host name; the endpoint the URL's path, never its query
    string (it can hold keys)."""
    event = _envelope(span, "api_call", ancestry)
    url = urlsplit(str(first(span.attrs, ("url.full", "http.url")) or ""))
    service = first(span.attrs, ("server.address", "net.peer.name", "http.host")) or url.hostname
    if service is not None:
        event["service"] = str(service)
    path = first(span.attrs, ("url.path",)) or url.path or None
    if path is None and (target := span.attrs.get("http.target")) is not None:
        path = str(target).split("?")[0]
    if path:
        event["endpoint"] = str(path)[:500]
    return event


def map_span(span: Span, ancestry: Ancestry) -> Mapped:
    """The event a span becomes, its quarantine reason, or why it is ignored."""
    llm = is_llm_call(span.attrs)
    if llm:
        return llm_call(span, ancestry)
    if llm is None:
        return Ignored("agent_or_tool")
    if span.kind != SPAN_KIND_CLIENT:
        return Ignored("other")
    if first(span.attrs, DB_SYSTEM_KEYS) is not None:
        return db_op(span, ancestry)
    if first(span.attrs, HTTP_METHOD_KEYS) is not None:
        if ancestry.inside_llm_call(span):  # the LLM call's own HTTP request
            return Ignored("llm_transport")
        return api_call(span, ancestry)
    return Ignored("other")
