"""Provider usage and cost reports that agree with the sample event logs, except on purpose.

The fake provider server serves these in `costwatch demo` and in tests. What the providers report
is what the application logged (aggregated per UTC day, dated snapshot model name, project, key,
tier), billed at genai-prices' prices, plus these documented differences:

1. DELIBERATE DISCREPANCY: on the demo's third day OpenAI reports 3% more input tokens for
   gpt-4.1 on key_app_1 than the application logged. Token parity fails for exactly that day,
   model and key (the failing check the demo shows).
2. Out of scope, not failures: usage on another application's key (`key_other_app`, project
   `proj_other`) and Anthropic Workbench usage (`api_key_id: null`, default workspace).
3. Non-token line items the application cannot log: OpenAI "web search tool calls" and an
   Anthropic `web_search` cost.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sources.demo.fake_provider import FakeProviderData
from sources.demo.ledger import Ledger
from sources.demo.reference_prices import calc_price_per_call
from sources.providers.rows import CostRow, UsageRow

# What the provider reports for a canonical model: its dated snapshot name.
SNAPSHOT_NAMES = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "text-embedding-3-small": "text-embedding-3-small",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
}
REPORTING_PROVIDERS = ("openai", "anthropic")
DISCREPANCY = {
    "day_index": 2,
    "model": "gpt-4.1",
    "api_key_id": "key_app_1",
    "input_factor": "1.03",
}


def _key(ev: dict[str, Any]) -> tuple:
    canonical = ev["canonical_model"]
    return (
        ev["day"],
        ev["provider"],
        SNAPSHOT_NAMES.get(canonical, ev["model"]),
        ev.get("project_id"),
        ev.get("api_key_id"),
        ev.get("service_tier"),
    )


def provider_reports(ledger: Ledger) -> FakeProviderData:
    """Usage and cost rows for the days of `ledger`, as the providers would report them."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    costs: dict[tuple, Decimal] = defaultdict(Decimal)
    for ev in ledger.events.values():
        if ev["type"] != "llm_call" or ev["provider"] not in REPORTING_PROVIDERS:
            continue
        k = _key(ev)
        acc = sums[k]
        acc[0] += ev["input_tokens"]
        acc[1] += ev.get("cached_input_tokens", 0)
        acc[2] += ev.get("cache_write_tokens", 0)
        acc[3] += ev["output_tokens"]
        acc[4] += 1
        price = calc_price_per_call({**ev, "service_tier": ev.get("service_tier")})
        if price is not None:
            # the token kind OpenAI's cost report names ("<model>, input"); one line per model
            costs[(ev["day"], ev["provider"], k[3], f"{k[2]}, input")] += price
    bad_day = ledger.day_list[min(DISCREPANCY["day_index"], len(ledger.day_list) - 1)]
    usage: list[UsageRow] = []
    for (day, provider, model, project, key, tier), (inp, cached, writes, out, n) in sorted(
        sums.items(), key=lambda kv: tuple(str(x) for x in kv[0])
    ):
        if (day, model, key) == (
            bad_day,
            SNAPSHOT_NAMES[DISCREPANCY["model"]],
            DISCREPANCY["api_key_id"],
        ):
            inp = int(Decimal(inp) * Decimal(DISCREPANCY["input_factor"]))
        usage.append(_row(provider, day, model, project, key, tier, inp, cached, writes, out, n))
    cost_rows = [
        CostRow(
            provider,
            day,
            project,
            line_item,
            amount.quantize(Decimal("1e-9")),
            "usd",
            cost_type="tokens" if provider == "anthropic" else None,
        )
        for (day, provider, project, line_item), amount in sorted(costs.items(), key=str)
    ]
    for day in ledger.day_list:
        usage.append(
            _row(
                "openai",
                day,
                SNAPSHOT_NAMES["gpt-4o-mini"],
                "proj_other",
                "key_other_app",
                "default",
                52_000,
                0,
                0,
                9_000,
                40,
            )
        )
        usage.append(
            _row(
                "anthropic",
                day,
                SNAPSHOT_NAMES["claude-haiku-4-5"],
                None,
                None,
                "standard",
                8_000,
                0,
                0,
                1_500,
                None,
            )
        )
        cost_rows.append(
            CostRow("openai", day, "proj_main", "web search tool calls", Decimal("0.25"), "usd")
        )
        cost_rows.append(
            CostRow(
                "anthropic",
                day,
                "wrk_app",
                "Web search",
                Decimal("0.10"),
                "usd",
                cost_type="web_search",
            )
        )
    return FakeProviderData(usage=usage, costs=cost_rows)


def _row(provider, day, model, project, key, tier, inp, cached, writes, out, n) -> UsageRow:
    embedding = model.startswith("text-embedding")
    return UsageRow(
        provider=provider,
        day=day,
        endpoint="embeddings"
        if embedding
        else ("completions" if provider == "openai" else "messages"),
        model=model,
        project_id=project,
        api_key_id=key,
        service_tier=tier,
        is_batch=False,
        context_window=None if provider == "openai" else "0-200k",
        input_tokens=inp,
        cached_input_tokens=cached,
        cache_write_tokens=writes,
        output_tokens=out,
        requests=n if provider == "openai" else None,
    )
