"""Every kind of invalid line the contract quarantines, as the sample generator writes them."""

from __future__ import annotations

import json
import random
from typing import Any

# One invalid line per quarantine reason the contract names (reason -> line builder).
INVALID_KINDS = (
    "invalid_json",
    "not_an_object",
    "missing_field:event_id",
    "missing_field:type",
    "missing_field:ts",
    "missing_field:input_tokens",
    "missing_field:model",
    "wrong_type:output_tokens",
    "wrong_type:user_id",
    "negative_count:input_tokens",
    "unknown_type",
    "invalid_ts",
    "token_inequality:cached_plus_cache_write_exceeds_input",
    "token_inequality:cache_write_1h_exceeds_cache_write",
    "token_inequality:reasoning_exceeds_output",
    "invalid_value:status",
    "out_of_range:rating",
    "invalid_utf8",
)


def invalid_line(kind: str, ts: str, rng: random.Random) -> str | bytes:
    base = {"event_id": f"bad-{rng.randint(0, 10**9)}", "type": "llm_call", "ts": ts}
    llm = {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 5}
    obj: dict[str, Any] = {**base, **llm}
    match kind:
        case "invalid_json":
            return '{"event_id": "bad", "type": "llm_call", "ts": '
        case "not_an_object":
            return '["llm_call", 10, 5]'
        case "missing_field:event_id":
            del obj["event_id"]
        case "missing_field:type":
            del obj["type"]
        case "missing_field:ts":
            del obj["ts"]
        case "missing_field:input_tokens":
            del obj["input_tokens"]
        case "missing_field:model":
            del obj["model"]
        case "wrong_type:output_tokens":
            obj["output_tokens"] = "five"
        case "wrong_type:user_id":
            obj["user_id"] = 42
        case "negative_count:input_tokens":
            obj["input_tokens"] = -3
        case "unknown_type":
            obj = {**base, "type": "telemetry"}
        case "invalid_ts":
            obj["ts"] = "2026-13-45T25:00:00"
        case "token_inequality:cached_plus_cache_write_exceeds_input":
            obj["cached_input_tokens"] = 11
        case "token_inequality:cache_write_1h_exceeds_cache_write":
            obj.update(cache_write_tokens=2, cache_write_1h_tokens=3)
        case "token_inequality:reasoning_exceeds_output":
            obj["reasoning_tokens"] = 6
        case "invalid_value:status":
            obj["status"] = "exploded"
        case "out_of_range:rating":
            obj = {**base, "type": "feedback", "rating": 9}
        case "invalid_utf8":
            return (
                b'{"event_id":"bad-utf8","type":"compute","ts":"' + ts.encode() + b'","x":"\xff"}'
            )
        case _:
            raise ValueError(kind)
    return json.dumps(obj)
