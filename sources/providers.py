"""OpenAI and Anthropic admin usage/cost APIs -> one row shape (contracts/providers.md).

Units are made uniform here, once:
- input_tokens is the TOTAL input (OpenAI reports it so; Anthropic's is uncached + cache read +
  5-minute and 1-hour cache creation), cached_input_tokens the cache reads, cache_write_tokens all
  cache writes; output_tokens all output.
- amount_usd is a Decimal in dollars (OpenAI sends dollars as a number, Anthropic cents as a
  string).
- project_id is the OpenAI project or the Anthropic workspace (None: default workspace).
Unknown fields are ignored, missing ones are None/0, the older OpenAI usage shape is accepted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from sources.http_client import RetryPolicy, iter_pages

OPENAI_USAGE_ENDPOINTS = ("completions", "embeddings")
OPENAI_USAGE_GROUPS = ("model", "project_id", "api_key_id", "service_tier", "batch")
OPENAI_COST_GROUPS = ("project_id", "line_item")
ANTHROPIC_USAGE_GROUPS = ("model", "workspace_id", "api_key_id", "service_tier", "context_window")
ANTHROPIC_COST_GROUPS = ("workspace_id", "description")
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


@dataclass(frozen=True)
class CostRow:
    provider: str
    day: dt.date
    project_id: str | None
    line_item: str | None
    amount_usd: Decimal
    currency: str
    cost_type: str | None = None
    model: str | None = None
    service_tier: str | None = None


@dataclass
class ProviderPull:
    """Everything one pull of [start, end] returned."""

    provider: str
    start: dt.date
    end: dt.date
    usage: list[UsageRow] = field(default_factory=list)
    costs: list[CostRow] = field(default_factory=list)
    requests_made: int = 0


def _int(value: Any) -> int:
    """Counts arrive as ints, sometimes as floats ("1200.0") or missing."""
    if value is None or value == "":
        return 0
    return int(Decimal(str(value)))


def _day_windows(start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    """[start, end] inclusive cut into windows of at most MAX_DAY_BUCKETS days (end exclusive)."""
    cur = start
    while cur <= end:
        stop = min(end + dt.timedelta(days=1), cur + dt.timedelta(days=MAX_DAY_BUCKETS))
        yield cur, stop
        cur = stop


def _unix(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())


def _rfc3339(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _bucket_day(bucket: dict[str, Any]) -> dt.date:
    if "start_time" in bucket:
        return dt.datetime.fromtimestamp(int(bucket["start_time"]), tz=dt.UTC).date()
    return dt.datetime.fromisoformat(str(bucket["starting_at"]).replace("Z", "+00:00")).date()


# --------------------------------------------------------------------------------------------
# Parsing (pure)
# --------------------------------------------------------------------------------------------


def parse_openai_usage(page: dict[str, Any], endpoint: str) -> list[UsageRow]:
    rows = []
    for bucket in page.get("data") or []:
        day = _bucket_day(bucket)
        for r in bucket.get("results") or []:
            rows.append(
                UsageRow(
                    provider="openai",
                    day=day,
                    endpoint=endpoint,
                    model=r.get("model"),
                    project_id=r.get("project_id"),
                    api_key_id=r.get("api_key_id"),
                    service_tier=r.get("service_tier"),
                    is_batch=r.get("batch"),
                    context_window=None,
                    input_tokens=_int(r.get("input_tokens")),
                    cached_input_tokens=_int(r.get("input_cached_tokens")),
                    cache_write_tokens=_int(r.get("input_cache_write_tokens")),
                    output_tokens=_int(r.get("output_tokens")),
                    requests=_int(r.get("num_model_requests")),
                )
            )
    return rows


def parse_openai_costs(page: dict[str, Any]) -> list[CostRow]:
    rows = []
    for bucket in page.get("data") or []:
        day = _bucket_day(bucket)
        for r in bucket.get("results") or []:
            amount = r.get("amount") or {}
            rows.append(
                CostRow(
                    provider="openai",
                    day=day,
                    project_id=r.get("project_id"),
                    line_item=r.get("line_item"),
                    amount_usd=Decimal(str(amount.get("value", 0))),  # dollars
                    currency=str(amount.get("currency", "usd")).lower(),
                )
            )
    return rows


def parse_anthropic_usage(page: dict[str, Any]) -> list[UsageRow]:
    rows = []
    for bucket in page.get("data") or []:
        day = _bucket_day(bucket)
        for r in bucket.get("results") or []:
            creation = r.get("cache_creation") or {}
            writes = _int(creation.get("ephemeral_5m_input_tokens")) + _int(
                creation.get("ephemeral_1h_input_tokens")
            )
            reads = _int(r.get("cache_read_input_tokens"))
            rows.append(
                UsageRow(
                    provider="anthropic",
                    day=day,
                    endpoint="messages",
                    model=r.get("model"),
                    project_id=r.get("workspace_id"),
                    api_key_id=r.get("api_key_id"),
                    service_tier=r.get("service_tier"),
                    is_batch=r.get("service_tier") == "batch" if r.get("service_tier") else None,
                    context_window=r.get("context_window"),
                    input_tokens=_int(r.get("uncached_input_tokens")) + reads + writes,
                    cached_input_tokens=reads,
                    cache_write_tokens=writes,
                    output_tokens=_int(r.get("output_tokens")),
                    requests=None,  # not reported by the usage report
                    web_search_requests=_int(
                        (r.get("server_tool_use") or {}).get("web_search_requests")
                    ),
                )
            )
    return rows


def parse_anthropic_costs(page: dict[str, Any]) -> list[CostRow]:
    rows = []
    for bucket in page.get("data") or []:
        day = _bucket_day(bucket)
        for r in bucket.get("results") or []:
            rows.append(
                CostRow(
                    provider="anthropic",
                    day=day,
                    project_id=r.get("workspace_id"),
                    line_item=r.get("description"),
                    amount_usd=Decimal(str(r.get("amount", "0"))) / 100,  # cents in a string
                    currency=str(r.get("currency", "USD")).lower(),
                    cost_type=r.get("cost_type"),
                    model=r.get("model"),
                    service_tier=r.get("service_tier"),
                )
            )
    return rows


# --------------------------------------------------------------------------------------------
# Pulling
# --------------------------------------------------------------------------------------------


def openai_client(base_url: str, admin_key: str, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=timeout,
    )


def anthropic_client(base_url: str, admin_key: str, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        headers={"x-api-key": admin_key, "anthropic-version": "2023-06-01"},
        timeout=timeout,
    )


Progress = Callable[[str], None]


@dataclass(frozen=True)
class Endpoint:
    """One report endpoint: its path, group-by fields, parser and whether it holds costs."""

    path: str
    groups: tuple[str, ...]
    parse: Callable[[dict[str, Any]], list]
    is_cost: bool = False


OPENAI_ENDPOINTS = (
    *(
        Endpoint(
            f"/organization/usage/{e}",
            OPENAI_USAGE_GROUPS,
            lambda page, e=e: parse_openai_usage(page, e),
        )
        for e in OPENAI_USAGE_ENDPOINTS
    ),
    Endpoint("/organization/costs", OPENAI_COST_GROUPS, parse_openai_costs, is_cost=True),
)
ANTHROPIC_ENDPOINTS = (
    Endpoint("/organizations/usage_report/messages", ANTHROPIC_USAGE_GROUPS, parse_anthropic_usage),
    Endpoint("/organizations/cost_report", ANTHROPIC_COST_GROUPS, parse_anthropic_costs, True),
)


def _pull(
    provider: str,
    label: str,
    endpoints: tuple[Endpoint, ...],
    window_params: Callable[[dt.date, dt.date], dict[str, Any]],
    client: httpx.Client,
    start: dt.date,
    end: dt.date,
    policy: RetryPolicy,
    sleep: Callable[[float], None] | None,
    progress: Progress,
) -> ProviderPull:
    """Every endpoint for the UTC days [start, end], in windows of at most 31 daily buckets."""
    pull = ProviderPull(provider, start, end)
    kw = {"sleep": sleep} if sleep else {}
    windows = list(_day_windows(start, end))
    for i, (lo, hi) in enumerate(windows, start=1):
        context = f"days {lo}..{hi - dt.timedelta(days=1)}"
        progress(f"{provider}: window {i}/{len(windows)}, {context}")
        for ep in endpoints:
            params = {
                **window_params(lo, hi),
                "limit": MAX_DAY_BUCKETS,
                "group_by[]": list(ep.groups),
            }
            for page in iter_pages(client, label, ep.path, params, policy, context, **kw):
                pull.requests_made += 1
                (pull.costs if ep.is_cost else pull.usage).extend(ep.parse(page))
    return _clip(pull)


def pull_openai(
    client: httpx.Client,
    start: dt.date,
    end: dt.date,
    policy: RetryPolicy,
    sleep: Callable[[float], None] | None = None,
    progress: Progress = lambda line: None,
) -> ProviderPull:
    """Usage (completions, embeddings) and costs for the UTC days [start, end]."""

    def window(lo: dt.date, hi: dt.date) -> dict[str, Any]:
        return {"start_time": _unix(lo), "end_time": _unix(hi), "bucket_width": "1d"}

    return _pull(
        "openai", "OpenAI", OPENAI_ENDPOINTS, window, client, start, end, policy, sleep, progress
    )


def pull_anthropic(
    client: httpx.Client,
    start: dt.date,
    end: dt.date,
    policy: RetryPolicy,
    sleep: Callable[[float], None] | None = None,
    progress: Progress = lambda line: None,
) -> ProviderPull:
    """Messages usage and cost report for the UTC days [start, end]."""

    def window(lo: dt.date, hi: dt.date) -> dict[str, Any]:
        return {"starting_at": _rfc3339(lo), "ending_at": _rfc3339(hi), "bucket_width": "1d"}

    return _pull(
        "anthropic",
        "Anthropic",
        ANTHROPIC_ENDPOINTS,
        window,
        client,
        start,
        end,
        policy,
        sleep,
        progress,
    )


def _clip(pull: ProviderPull) -> ProviderPull:
    """Keep only buckets inside the requested days (a provider may send a neighbour)."""
    pull.usage = [u for u in pull.usage if pull.start <= u.day <= pull.end]
    pull.costs = [c for c in pull.costs if pull.start <= c.day <= pull.end]
    return pull
