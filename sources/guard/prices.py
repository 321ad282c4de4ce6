"""The guard's prices: the published price table, matched and applied per request in Python.

The rule is cost_breakdown's (dbt_project/models/marts/cost_breakdown.sql), stated for one request
at a time so the guard answers without a query: the price row is found by provider and canonical
model (raw.model_aliases, else genai-prices' own lookup, as the pipeline maps new models), the UTC
date and second of day, and the context (service_tier, or processing=batch); custom prices win,
then a context row. Tiers are chosen by the request's input tokens (a tier with a start but no
price is no price, as in SQL). tests/integration/test_guard_pricing.py keeps the two equal on every
call of the sample days.

`worst_case` is the most a request can cost before it is made: every input token at the dearest
input-side price of its tier (a cache write can cost more than plain input), every possible output
token at the dearest output price, plus the per-request price.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sources.pricing.genai import DAY_SECONDS, MAX_TIERS, PRICE_KEYS

STEMS = tuple(stem for stem, _ in PRICE_KEYS.values())
# exact products and sums of DECIMAL(38,18) prices and BIGINT counts
EXACT = decimal.Context(prec=80)


@dataclass(frozen=True)
class Usage:
    """Token counts of one call, with the contract's meanings (input includes cache reads and
    writes; output includes reasoning)."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class PriceRow:
    price_row_id: str
    is_custom: bool
    context_key: str | None
    context_value: str | None
    valid_from: dt.date
    valid_to: dt.date
    seconds_from: int
    seconds_to: int
    # stem -> (base, ((start, price), ...)); every value as SQL holds it (None for NULL)
    prices: dict[str, tuple[Decimal | None, tuple[tuple[int | None, Decimal | None], ...]]]

    def unit_price(self, stem: str, input_tokens: int) -> Decimal | None:
        """tier_price(): the highest tier whose start the input exceeds, else the base."""
        base, tiers = self.prices[stem]
        for start, price in reversed(tiers):
            if start is not None and input_tokens > start:
                return price
        return base


def context_of(service_tier: str | None) -> tuple[str | None, str | None]:
    if service_tier is None:
        return None, None
    if service_tier == "batch":
        return "processing", "batch"
    return "service_tier", service_tier


class PriceBook:
    """Price rows by (provider, model) and the model aliases of one published copy."""

    def __init__(
        self, rows: Iterable[dict[str, Any]], aliases: dict[tuple[str, str], tuple[str, str]]
    ) -> None:
        self.rows: dict[tuple[str, str], list[PriceRow]] = {}
        for r in rows:
            self.rows.setdefault((r["provider_id"], r["model_id"]), []).append(_price_row(r))
        self.aliases = dict(aliases)

    def canonical(self, provider: str, model: str) -> tuple[str, str]:
        """(price provider, canonical model): the published alias, else genai-prices' lookup."""
        if (provider, model) not in self.aliases:
            from sources.pricing.model_catalog import resolve_model

            price_provider, canonical, _ = resolve_model(provider, model)
            self.aliases[(provider, model)] = (price_provider, canonical)
        return self.aliases[(provider, model)]

    def row_for(
        self, provider: str, model: str, at: dt.datetime, service_tier: str | None
    ) -> PriceRow | None:
        key = self.canonical(provider, model)
        day = at.date()
        second = at.hour * 3600 + at.minute * 60 + at.second
        context = context_of(service_tier)
        candidates = [
            r
            for r in self.rows.get(key, ())
            if r.valid_from <= day < r.valid_to
            and r.seconds_from <= second < r.seconds_to
            and (r.context_key is None or (r.context_key, r.context_value) == context)
        ]
        if not candidates:
            return None
        return min(candidates, key=lambda r: (not r.is_custom, r.context_key is None))


def cost(row: PriceRow, usage: Usage) -> Decimal:
    """The exact cost of a call (cost_breakdown's exact_ai_tokens_cost_usd)."""
    p = {stem: row.unit_price(stem, usage.input_tokens) for stem in STEMS}
    n_cache_read = usage.cache_read_tokens if p["cache_read"] is not None else 0
    n_write_1h = usage.cache_write_1h_tokens if p["cache_write_1h"] is not None else 0
    n_write = (
        usage.cache_write_tokens
        - (usage.cache_write_1h_tokens if p["cache_write_1h"] is not None else 0)
        if p["cache_write"] is not None
        else 0
    )
    n_reasoning = usage.reasoning_tokens if p["output_reasoning"] is not None else 0
    counts = {
        "input": usage.input_tokens - n_cache_read - n_write - n_write_1h,
        "cache_read": n_cache_read,
        "cache_write": n_write,
        "cache_write_1h": n_write_1h,
        "output": usage.output_tokens - n_reasoning,
        "output_reasoning": n_reasoning,
        "request": 1,
    }
    total = Decimal(0)
    for stem, count in counts.items():
        if p[stem] is not None:
            total = EXACT.add(total, EXACT.multiply(p[stem], count))
    return total


def worst_case(row: PriceRow, input_tokens: int, max_output_tokens: int) -> Decimal:
    """The most a request with this input and output cap can cost under `row`."""

    def dearest(*stems: str) -> Decimal:
        known = [q for q in (row.unit_price(s, input_tokens) for s in stems) if q is not None]
        return max(known, default=Decimal(0))

    total = EXACT.multiply(dearest("input", "cache_write", "cache_write_1h"), input_tokens)
    total = EXACT.add(
        total, EXACT.multiply(dearest("output", "output_reasoning"), max_output_tokens)
    )
    request = row.unit_price("request", input_tokens)
    return EXACT.add(total, request or 0)


def _price_row(r: dict[str, Any]) -> PriceRow:
    return PriceRow(
        price_row_id=r["price_row_id"],
        is_custom=r["source"] == "custom",
        context_key=r["context_key"],
        context_value=r["context_value"],
        valid_from=r["valid_from"] or dt.date.min,
        valid_to=r["valid_to"] or dt.date.max,
        seconds_from=r["seconds_from"],
        seconds_to=r["seconds_to"] if r["seconds_to"] is not None else DAY_SECONDS,
        prices={
            stem: (
                r[f"{stem}_base"],
                tuple(
                    (r[f"{stem}_t{i}_start"], r[f"{stem}_t{i}"]) for i in range(1, MAX_TIERS + 1)
                ),
            )
            for stem in STEMS
        },
    )
