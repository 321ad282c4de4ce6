"""Inference answers of the fake provider server: OpenAI chat completions and Anthropic messages
with usage scripted by the caller, so a test knows every token an instrumented client reports.

`Reply` holds the usage in the event contract's meaning (input includes cache reads and writes);
each provider's answer carries it in that provider's own shape: OpenAI's `prompt_tokens` includes
`cached_tokens`, Anthropic's `input_tokens` excludes both cache counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

OPENAI_CHAT = "/chat/completions"
ANTHROPIC_MESSAGES = "/messages"


@dataclass(frozen=True)
class Reply:
    model: str  # the model the provider answers with (often a dated snapshot)
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    text: str = "ok"


def openai_chat(reply: Reply, n: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
            "prompt_tokens_details": {"cached_tokens": reply.cached_input_tokens},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        },
        "service_tier": "default",
    }


def anthropic_message(reply: Reply, n: int) -> dict[str, Any]:
    uncached = reply.input_tokens - reply.cached_input_tokens - reply.cache_write_tokens
    return {
        "id": f"msg_fake_{n}",
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": uncached,
            "cache_read_input_tokens": reply.cached_input_tokens,
            "cache_creation_input_tokens": reply.cache_write_tokens,
            "output_tokens": reply.output_tokens,
        },
    }


def answer(path: str, reply: Reply, n: int) -> dict[str, Any] | None:
    """The answer to an inference request on `path` (under a provider's prefix), None when the
    path is not one of them."""
    if path.endswith(OPENAI_CHAT):
        return openai_chat(reply, n)
    if path.endswith(ANTHROPIC_MESSAGES):
        return anthropic_message(reply, n)
    return None
