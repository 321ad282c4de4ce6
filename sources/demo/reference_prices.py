"""The per-call price of an llm_call event by genai-prices' own Python path.

Not used by the pipeline (which prices in SQL, set-based): it is the independent reference the
tests and benchmarks check the SQL against, and how the demo's fake providers bill their sample
calls.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import genai_prices


def price_context(service_tier: str | None) -> dict[str, str] | None:
    """genai-prices request context of a logged service tier (`batch` is priced as batch)."""
    if service_tier == "batch":
        return {"processing": "batch"}
    return {"service_tier": service_tier} if service_tier else None


def calc_price_per_call(event: dict[str, Any]) -> Decimal | None:
    """The per-call Python path: genai_prices.calc_price for one llm_call event (None if unknown).

    Too slow for millions of rows (see BENCHMARKS.md); used as the oracle that the SQL pricing is
    tested and benchmarked against. `event` has the contract's field names and `occurred_at` (UTC).
    """
    usage = genai_prices.Usage(
        input_tokens=event["input_tokens"],
        cache_read_tokens=event.get("cached_input_tokens") or 0,
        cache_write_tokens=event.get("cache_write_tokens") or 0,
        cache_write_1h_tokens=event.get("cache_write_1h_tokens") or 0,
        output_tokens=event["output_tokens"],
        output_reasoning_tokens=event.get("reasoning_tokens") or 0,
    )
    try:
        result = genai_prices.calc_price(
            usage,
            event["model"],
            provider_id=event["provider"],
            genai_request_timestamp=event["occurred_at"].replace(tzinfo=dt.UTC),
            price_context=price_context(event.get("service_tier")),
        )
    except LookupError:
        return None
    return result.total_price
