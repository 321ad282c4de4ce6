"""The guard's request bodies, validated: a bad field is a BadRequest naming it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sources.guard.prices import Usage

MAX_TOKENS = 10**9  # per call; beyond it the number is a mistake, not a request
MAX_ID_CHARS = 256
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
SCOPE_FIELDS = {"project": "project_id", "api_key": "api_key_id", "user": "user_id",
                "session": "session_id"}  # fmt: skip


class BadRequest(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Check:
    user_id: str
    provider: str
    model: str
    input_tokens: int
    max_output_tokens: int
    session_id: str | None = None
    api_key_id: str | None = None
    project_id: str | None = None
    service_tier: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Commit:
    request_id: str
    usage: Usage


def _text(body: dict[str, Any], name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(name, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(name, "must be a non-empty string")
    if len(value) > MAX_ID_CHARS or any(ord(c) < 32 for c in value):
        raise BadRequest(name, f"must be at most {MAX_ID_CHARS} printable characters")
    return value


def _count(body: dict[str, Any], name: str, required: bool) -> int:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(name, "is required")
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
        raise BadRequest(name, f"must be a whole number from 0 to {MAX_TOKENS:,}")
    return value


def _request_id(body: dict[str, Any], required: bool) -> str | None:
    value = _text(body, "request_id", required)
    if value is not None and not REQUEST_ID.fullmatch(value):
        raise BadRequest("request_id", "must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    return value


def _known(body: object, fields: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise BadRequest(unknown[0], f"is not a field of this request (fields: {sorted(fields)})")
    return body


def parse_check(body: object) -> Check:
    b = _known(body, set(Check.__dataclass_fields__))
    return Check(
        user_id=_text(b, "user_id", True),  # type: ignore[arg-type]
        provider=_text(b, "provider", True),  # type: ignore[arg-type]
        model=_text(b, "model", True),  # type: ignore[arg-type]
        input_tokens=_count(b, "input_tokens", True),
        max_output_tokens=_count(b, "max_output_tokens", True),
        session_id=_text(b, "session_id", False),
        api_key_id=_text(b, "api_key_id", False),
        project_id=_text(b, "project_id", False),
        service_tier=_text(b, "service_tier", False),
        request_id=_request_id(b, False),
    )


def parse_commit(body: object) -> Commit:
    """The actual usage of an allowed call. Input and output counts are required: a call with no
    usage is not a call that cost nothing."""
    counts = set(Usage.__dataclass_fields__)
    b = _known(body, {"request_id"} | counts)
    required = ("input_tokens", "output_tokens")
    c = Usage(**{name: _count(b, name, name in required) for name in sorted(counts)})
    if c.cache_read_tokens + c.cache_write_tokens > c.input_tokens:
        raise BadRequest("cache_read_tokens", "cache reads and writes are part of input_tokens")
    if c.cache_write_1h_tokens > c.cache_write_tokens:
        raise BadRequest("cache_write_1h_tokens", "1-hour writes are part of cache_write_tokens")
    if c.reasoning_tokens > c.output_tokens:
        raise BadRequest("reasoning_tokens", "reasoning tokens are part of output_tokens")
    return Commit(_request_id(b, True), c)  # type: ignore[arg-type]
