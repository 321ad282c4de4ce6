"""OpenAI and Anthropic admin usage/cost APIs -> one row shape (contracts/providers.md).

Units are made uniform here, once:
- input_tokens is the TOTAL input (OpenAI reports it so; Anthropic's is uncached + cache read +
  5-minute and 1-hour cache creation), cached_input_tokens the cache reads, cache_write_tokens all
  cache writes; output_tokens all output.
- amount_usd is a Decimal in dollars (OpenAI sends dollars as a number, Anthropic cents as a
  string).
- project_id is the OpenAI project or the Anthropic workspace (None: default workspace).
- OpenAI audio: a completions result that has `input_uncached_tokens` is in the current shape
  (input_tokens and output_tokens are totals; input_audio_tokens is the uncached audio part of the
  input, output_audio_tokens part of the output). Any other result is in the shape of December
  2024 to mid 2026, where input_tokens and output_tokens count TEXT tokens and the audio tokens
  come on top: the totals add them. Audio counts are kept apart either way (priced differently).
- Counts must be whole, non-negative numbers (`1200.0` is 1200); anything else is an error naming
  the field. An amount of another currency is never summed as USD: its row keeps `amount` and
  `currency` with `amount_usd` null; a null amount stays null. Both are reported as gaps.
- Buckets are dated by the UTC date of their start, whatever offset they are written with; a
  bucket a provider repeats (on a second page) is counted once.
Unknown fields are ignored, missing ones are None/0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sources.http_client import ProviderAPIError

MAX_DAY_BUCKETS = 31  # 1d buckets per page, both providers


@dataclass(frozen=True)
class UsageRow:
    provider: str
    day: dt.date
    endpoint: str
    model: str | None
    project_id: str | None
    api_key_id: str | None
    service_tier: str | None
    is_batch: bool | None
    context_window: str | None
    input_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    output_tokens: int
    requests: int | None
    web_search_requests: int = 0
    input_audio_tokens: int = 0  # part of input_tokens
    output_audio_tokens: int = 0  # part of output_tokens

    def key(self) -> tuple:
        """What identifies one bucket and group (a repeat of it is the same row)."""
        return (
            self.provider, self.day, self.endpoint, self.model, self.project_id,
            self.api_key_id, self.service_tier, self.is_batch, self.context_window,
        )  # fmt: skip


@dataclass(frozen=True)
class CostRow:
    provider: str
    day: dt.date
    project_id: str | None
    line_item: str | None
    amount_usd: Decimal | None  # None: no amount, or an amount in another currency
    currency: str
    cost_type: str | None = None
    model: str | None = None
    service_tier: str | None = None
    amount: Decimal | None = None  # in `currency` (the USD amount when it is USD)

    def __post_init__(self) -> None:
        if self.amount is None and self.amount_usd is not None:
            object.__setattr__(self, "amount", self.amount_usd)

    def key(self) -> tuple:
        return (
            self.provider, self.day, self.project_id, self.line_item, self.cost_type,
            self.model, self.service_tier, self.currency,
        )  # fmt: skip


class ProviderDataError(ProviderAPIError):
    """A report holds a value that cannot be taken as it is; the message names the field."""


@dataclass
class ProviderPull:
    """Everything one pull of [start, end] returned."""

    provider: str
    start: dt.date
    end: dt.date
    usage: list[UsageRow] = field(default_factory=list)
    costs: list[CostRow] = field(default_factory=list)
    requests_made: int = 0


def count(value: Any, name: str, where: str = "") -> int:
    """A count from the wire: an int, or an integral float or string ("1200.0"); missing is 0.
    Fractions, negatives and anything else are an error naming the field."""
    if value is None or value == "":
        return 0
    try:
        if isinstance(value, bool):
            raise ValueError
        number = Decimal(str(value))
        if not number.is_finite() or number != number.to_integral_value() or number < 0:
            raise ValueError
    except (ValueError, ArithmeticError):
        raise ProviderDataError(
            f"{where or 'provider report'}: {name} must be a whole number >= 0, got {value!r}"
        ) from None
    return int(number)


def money(value: Any, name: str, where: str = "") -> Decimal | None:
    """An amount from the wire (Decimal from the JSON parser, or a string); None stays None."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise ValueError
    except (ValueError, ArithmeticError):
        raise ProviderDataError(
            f"{where or 'provider report'}: {name} must be a decimal amount, got {value!r}"
        ) from None
    return amount


def _bucket_day(bucket: dict[str, Any]) -> dt.date:
    """The UTC date of a bucket's start (Unix seconds, or RFC 3339 with any offset)."""
    if "start_time" in bucket:
        return dt.datetime.fromtimestamp(int(bucket["start_time"]), tz=dt.UTC).date()
    start = dt.datetime.fromisoformat(str(bucket["starting_at"]).replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    return start.astimezone(dt.UTC).date()


def openai_usage_row(r: dict[str, Any], day: dt.date, endpoint: str) -> UsageRow:
    """One OpenAI usage result (API or dashboard CSV), in either audio shape."""
    where = f"OpenAI usage/{endpoint} {day}"

    def n(name: str) -> int:
        return count(r.get(name), name, where)

    audio_in, audio_out = n("input_audio_tokens"), n("output_audio_tokens")
    current_shape = "input_uncached_tokens" in r
    return UsageRow(
        provider="openai",
        day=day,
        endpoint=endpoint,
        model=r.get("model") or None,
        project_id=r.get("project_id") or None,
        api_key_id=r.get("api_key_id") or None,
        service_tier=r.get("service_tier") or None,
        is_batch=r.get("batch"),
        context_window=None,
        input_tokens=n("input_tokens") + (0 if current_shape else audio_in),
        cached_input_tokens=n("input_cached_tokens"),
        cache_write_tokens=n("input_cache_write_tokens"),
        output_tokens=n("output_tokens") + (0 if current_shape else audio_out),
        requests=n("num_model_requests"),
        input_audio_tokens=audio_in,
        output_audio_tokens=audio_out,
    )


def _buckets(page: dict[str, Any]) -> Iterator[tuple[dt.date, list[dict[str, Any]]]]:
    for bucket in page.get("data") or []:
        yield _bucket_day(bucket), bucket.get("results") or []


def parse_openai_usage(page: dict[str, Any], endpoint: str) -> list[UsageRow]:
    return [openai_usage_row(r, day, endpoint) for day, results in _buckets(page) for r in results]


def cost_row(provider: str, day: dt.date, amount: Decimal | None, currency: str, **kw) -> CostRow:
    currency = currency.lower()
    return CostRow(
        provider=provider,
        day=day,
        amount_usd=amount if currency == "usd" else None,
        currency=currency,
        amount=amount,
        **kw,
    )


def parse_openai_costs(page: dict[str, Any]) -> list[CostRow]:
    rows = []
    for day, results in _buckets(page):
        for r in results:
            amount = r.get("amount") or {}
            rows.append(
                cost_row(
                    "openai",
                    day,
                    money(amount.get("value"), "amount.value", f"OpenAI costs {day}"),  # dollars
                    str(amount.get("currency") or "usd"),
                    project_id=r.get("project_id"),
                    line_item=r.get("line_item"),
                )
            )
    return rows


def parse_anthropic_usage(page: dict[str, Any]) -> list[UsageRow]:
    rows = []
    for day, results in _buckets(page):
        where = f"Anthropic usage_report/messages {day}"
        for r in results:
            creation = r.get("cache_creation") or {}
            writes = count(
                creation.get("ephemeral_5m_input_tokens"), "ephemeral_5m_input_tokens", where
            ) + count(creation.get("ephemeral_1h_input_tokens"), "ephemeral_1h_input_tokens", where)
            reads = count(r.get("cache_read_input_tokens"), "cache_read_input_tokens", where)
            tier = r.get("service_tier")
            rows.append(
                UsageRow(
                    provider="anthropic",
                    day=day,
                    endpoint="messages",
                    model=r.get("model"),
                    project_id=r.get("workspace_id"),
                    api_key_id=r.get("api_key_id"),
                    service_tier=tier,
                    is_batch=tier == "batch" if tier else None,
                    context_window=r.get("context_window"),
                    input_tokens=count(
                        r.get("uncached_input_tokens"), "uncached_input_tokens", where
                    )
                    + reads
                    + writes,
                    cached_input_tokens=reads,
                    cache_write_tokens=writes,
                    output_tokens=count(r.get("output_tokens"), "output_tokens", where),
                    requests=None,  # not reported by the usage report
                    web_search_requests=count(
                        (r.get("server_tool_use") or {}).get("web_search_requests"),
                        "server_tool_use.web_search_requests",
                        where,
                    ),
                )
            )
    return rows


def parse_anthropic_costs(page: dict[str, Any]) -> list[CostRow]:
    rows = []
    for day, results in _buckets(page):
        for r in results:
            cents = money(r.get("amount"), "amount", f"Anthropic cost_report {day}")
            rows.append(
                cost_row(
                    "anthropic",
                    day,
                    None if cents is None else cents / 100,  # cents in a string
                    str(r.get("currency") or "USD"),
                    project_id=r.get("workspace_id"),
                    line_item=r.get("description"),
                    cost_type=r.get("cost_type"),
                    model=r.get("model"),
                    service_tier=r.get("service_tier"),
                )
            )
    return rows


def cost_gaps(costs: Iterable[CostRow]) -> dict[str, Any]:
    """What the cost rows hold that is not summed as USD: null amounts, other currencies."""
    gaps: dict[str, Any] = {}
    nulls = [c for c in costs if c.amount is None]
    if nulls:
        gaps["null_amounts"] = len(nulls)
    other: dict[str, Decimal] = {}
    for c in costs:
        if c.currency != "usd" and c.amount is not None:
            other[c.currency] = other.get(c.currency, Decimal(0)) + c.amount
    if other:
        gaps["not_usd"] = {k: str(v) for k, v in sorted(other.items())}
    return gaps
