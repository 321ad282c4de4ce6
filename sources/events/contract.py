"""The application event-log contract (shared/contracts/app-events.md, v1) as data.

Everything that validates or loads events reads these tables, so the contract lives in one place:
the SQL validator (`contract_sql.py`, `parsing.py`) is generated from them, and the sample-data
generator and the tests use them to know which fields exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "count", "number", "integer", "bool", "object"]


@dataclass(frozen=True)
class Field:
    """One JSON field of an event and how it maps to a warehouse column."""

    name: str
    kind: Kind
    column: str
    sql_type: str
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


ENVELOPE_REQUIRED = ("event_id", "type", "ts")

# The largest value each numeric field may carry; beyond it a line is quarantined
# (`out_of_range:<field>`). Chosen so that one line at every maximum, priced with the most
# expensive price or rate shipped, stays far inside the money type (DECIMAL(18,9): < 1e9 USD per
# interaction) and a day of such lines still sums: 1e10 tokens is a thousand times the largest
# context window offered today. README "How the numbers are made" lists them.
MAX_TOKENS = 10**10
MAXIMA: dict[str, float] = {
    **dict.fromkeys(
        (
            "input_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "cache_write_1h_tokens",
            "output_tokens",
            "reasoning_tokens",
        ),
        MAX_TOKENS,
    ),
    "rows_read": 10**12,
    "rows_written": 10**12,
    "duration_ms": 10**10,  # about 116 days
    "memory_mb": 10**7,  # 10 TB
    "units": 10**9,
    # JSON numbers are read as doubles, exact to 15 significant digits: below a million an
    # amount keeps all 9 decimals (README "amount_usd keeps 9 decimals")
    "amount_usd": 10**6,
    "quality_score": 100,
    "rating": 5,
}

ENVELOPE_OPTIONAL: tuple[Field, ...] = (
    Field("user_id", "string", "user_id", "VARCHAR"),
    Field("session_id", "string", "session_id", "VARCHAR"),
    Field("app", "string", "app", "VARCHAR"),
    Field("metadata", "object", "metadata", "JSON"),
)

FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        # llm_call
        Field("provider", "string", "provider", "VARCHAR"),
        Field("model", "string", "model", "VARCHAR"),
        Field("project_id", "string", "project_id", "VARCHAR"),
        Field("api_key_id", "string", "api_key_id", "VARCHAR"),
        Field("service_tier", "string", "service_tier", "VARCHAR"),
        Field("input_tokens", "count", "input_tokens", "BIGINT", maximum=MAXIMA["input_tokens"]),
        Field(
            "cached_input_tokens",
            "count",
            "cached_input_tokens",
            "BIGINT",
            maximum=MAXIMA["cached_input_tokens"],
        ),
        Field(
            "cache_write_tokens",
            "count",
            "cache_write_tokens",
            "BIGINT",
            maximum=MAXIMA["cache_write_tokens"],
        ),
        Field(
            "cache_write_1h_tokens",
            "count",
            "cache_write_1h_tokens",
            "BIGINT",
            maximum=MAXIMA["cache_write_1h_tokens"],
        ),
        Field("output_tokens", "count", "output_tokens", "BIGINT", maximum=MAXIMA["output_tokens"]),
        Field(
            "reasoning_tokens",
            "count",
            "reasoning_tokens",
            "BIGINT",
            maximum=MAXIMA["reasoning_tokens"],
        ),
        Field(
            "duration_ms",
            "number",
            "duration_ms",
            "DOUBLE",
            minimum=0,
            maximum=MAXIMA["duration_ms"],
        ),
        Field("status", "string", "status", "VARCHAR"),
        Field("error_code", "string", "error_code", "VARCHAR"),
        Field("retry_of", "string", "retry_of", "VARCHAR"),
        Field("stream", "bool", "is_stream", "BOOLEAN"),
        # db_op
        Field("operation", "string", "operation", "VARCHAR", enum=("read", "write")),
        Field("rows_read", "count", "rows_read", "BIGINT", maximum=MAXIMA["rows_read"]),
        Field("rows_written", "count", "rows_written", "BIGINT", maximum=MAXIMA["rows_written"]),
        # api_call
        Field("service", "string", "service", "VARCHAR"),
        Field("endpoint", "string", "endpoint", "VARCHAR"),
        Field("units", "number", "units", "DECIMAL(38,9)", minimum=0, maximum=MAXIMA["units"]),
        # compute
        Field("memory_mb", "number", "memory_mb", "DOUBLE", minimum=0, maximum=MAXIMA["memory_mb"]),
        # cost_event
        Field(
            "amount_usd",
            "number",
            "amount_usd",
            "DECIMAL(18,9)",
            minimum=0,
            maximum=MAXIMA["amount_usd"],
        ),
        Field("category", "string", "category", "VARCHAR"),
        Field("description", "string", "description", "VARCHAR"),
        # feedback
        Field(
            "action",
            "string",
            "action",
            "VARCHAR",
            enum=("approved", "edited", "regenerated", "abandoned"),
        ),
        Field(
            "quality_score",
            "number",
            "quality_score",
            "DOUBLE",
            minimum=0,
            maximum=MAXIMA["quality_score"],
        ),
        Field("rating", "integer", "rating", "INTEGER", minimum=1, maximum=MAXIMA["rating"]),
        Field("ref_event_id", "string", "ref_event_id", "VARCHAR"),
    )
}

# The llm_call status has a closed set of values; db_op and api_call statuses are free text.
LLM_STATUS = ("ok", "error", "canceled")

# type -> {field name: required?}
TYPE_FIELDS: dict[str, dict[str, bool]] = {
    "session_start": {},
    "session_end": {},
    "llm_call": {
        "provider": True,
        "model": True,
        "project_id": False,
        "api_key_id": False,
        "service_tier": False,
        "input_tokens": True,
        "cached_input_tokens": False,
        "cache_write_tokens": False,
        "cache_write_1h_tokens": False,
        "output_tokens": True,
        "reasoning_tokens": False,
        "duration_ms": False,
        "status": False,
        "error_code": False,
        "retry_of": False,
        "stream": False,
    },
    "db_op": {
        "operation": False,
        "rows_read": False,
        "rows_written": False,
        "duration_ms": False,
        "status": False,
    },
    "api_call": {
        "service": True,
        "endpoint": False,
        "units": False,
        "duration_ms": False,
        "status": False,
    },
    "compute": {"duration_ms": True, "memory_mb": False},
    "cost_event": {"amount_usd": True, "category": False, "description": False},
    "feedback": {
        "action": False,
        "quality_score": False,
        "rating": False,
        "ref_event_id": False,
    },
}

EVENT_TYPES = tuple(TYPE_FIELDS)
INTERACTION_TYPES = ("llm_call", "db_op", "api_call", "compute", "cost_event")
ANONYMOUS_USER = "anonymous"

# The token inequalities of the contract: (reason suffix, smaller side, larger side).
TOKEN_INEQUALITIES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "cached_plus_cache_write_exceeds_input",
        ("cached_input_tokens", "cache_write_tokens"),
        "input_tokens",
    ),
    ("cache_write_1h_exceeds_cache_write", ("cache_write_1h_tokens",), "cache_write_tokens"),
    ("reasoning_exceeds_output", ("reasoning_tokens",), "output_tokens"),
)


def known_keys(event_type: str) -> frozenset[str]:
    """Top-level keys with a column for this type; any other key is kept in `metadata`."""
    envelope = set(ENVELOPE_REQUIRED) | {f.name for f in ENVELOPE_OPTIONAL}
    return frozenset(envelope | set(TYPE_FIELDS.get(event_type, {})))
