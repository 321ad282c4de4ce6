"""Calls that exercise every price feature, for the pricing exactness tests and benchmarks:
cache reads and writes, cliff tiers, batch/flex/priority variants with start dates, time-of-day
prices, per-request fees, separately priced reasoning, a custom-priced and an unpriced model.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from sources.demo.sample_data import PRIVATE_MODEL, UNKNOWN_MODEL, day_start, fmt_ts

# (provider, model, service tiers to draw from; None = not logged). Together they cover cache
# reads, 5-minute and 1-hour cache writes, cliff tiers (one and two), batch, flex and priority
# variants with start dates, time-of-day prices, per-request fees, separately priced reasoning,
# a custom-priced private model and an unpriced one.
PRICING_MODELS: tuple[tuple[str, str, tuple[str | None, ...]], ...] = (
    ("openai", "gpt-4o-mini", (None, "default", "flex", "priority", "batch")),
    ("openai", "gpt-4o-mini-2024-07-18", (None, "default", "priority", "batch")),
    ("openai", "gpt-4.1", (None, "default", "batch", "priority")),
    ("openai", "o3", (None, "flex", "priority", "batch")),
    ("openai", "text-embedding-3-small", (None,)),
    ("anthropic", "claude-sonnet-4-5", (None, "standard", "batch")),
    ("anthropic", "claude-sonnet-4-5-20250929", ("standard", "batch")),
    ("anthropic", "claude-haiku-4-5", (None, "standard", "batch")),
    ("google", "gemini-2.5-pro", (None,)),
    ("google", "gemini-2.5-flash", (None, "batch")),
    ("deepseek", "deepseek-chat", (None,)),
    ("perplexity", "sonar", (None,)),
    ("perplexity", "sonar-deep-research", (None,)),
    ("openrouter", "qwen/qwen3-coder-flash", (None,)),
    (*PRIVATE_MODEL[:2], (None,)),
    (*UNKNOWN_MODEL[:2], (None,)),
)

# Days on both sides of price changes in the bundled data (flex/priority variants start
# 2026-10-12, batch variants 2026-10-14), kept to a short range: one run, few partitions.
PRICING_DAYS = (
    dt.date(2026, 10, 11),
    dt.date(2026, 10, 12),
    dt.date(2026, 10, 13),
    dt.date(2026, 10, 14),
    dt.date(2026, 10, 15),
)


def write_pricing_calls(root: Path, n: int = 11_000, seed: int = 11) -> list[dict[str, Any]]:
    """Write `n` llm_call events over PRICING_DAYS under `root`; return them (ts as UTC datetime).

    Input sizes straddle the long-context thresholds (128k, 200k, 256k); times of day cover
    off-peak windows.
    """
    rng = random.Random(seed)
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    events: list[dict[str, Any]] = []
    by_day: dict[dt.date, list[str]] = defaultdict(list)
    for i in range(n):
        provider, model, tiers = PRICING_MODELS[i % len(PRICING_MODELS)]
        day = PRICING_DAYS[rng.randrange(len(PRICING_DAYS))]
        at = day_start(day) + dt.timedelta(seconds=rng.randrange(86_400))
        inp = rng.choice(
            [
                rng.randint(1, 5_000),
                rng.randint(100_000, 199_999),
                rng.randint(200_001, 300_000),
                200_000,
                128_000,
                128_001,
                256_001,
            ]
        )
        cached = rng.choice([0, 0, rng.randint(0, inp // 2)])
        cache_write = rng.choice([0, rng.randint(0, (inp - cached) // 2)])
        cache_1h = rng.choice([0, cache_write, rng.randint(0, cache_write)]) if cache_write else 0
        out = 0 if "embedding" in model or "rerank" in model else rng.randint(1, 8_000)
        reasoning = rng.choice([0, rng.randint(0, out)]) if out else 0
        ev: dict[str, Any] = {
            "event_id": f"price-{i:06d}",
            "type": "llm_call",
            "ts": fmt_ts(at, "Z"),
            "user_id": f"user_{i % 97:03d}",
            "session_id": f"price-session-{i // 10:05d}",
            "provider": provider,
            "model": model,
            "input_tokens": inp,
            "cached_input_tokens": cached,
            "cache_write_tokens": cache_write,
            "cache_write_1h_tokens": cache_1h,
            "output_tokens": out,
            "reasoning_tokens": reasoning,
            "duration_ms": rng.randint(100, 5_000),
        }
        tier = rng.choice(tiers)
        if tier is not None:
            ev["service_tier"] = tier
        by_day[day].append(json.dumps(ev, separators=(",", ":")))
        events.append({**ev, "occurred_at": at})
    for day, lines in by_day.items():
        target = root / day.isoformat() / "pricing.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return events
