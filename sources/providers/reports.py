"""Pulling the OpenAI and Anthropic admin usage and cost reports, day window by day window,
into the row shape of sources/providers/rows.py (contracts/providers.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from sources.http_client import RetryPolicy, iter_pages
from sources.providers.rows import (
    MAX_DAY_BUCKETS,
    ProviderPull,
    parse_anthropic_costs,
    parse_anthropic_usage,
    parse_openai_costs,
    parse_openai_usage,
)

OPENAI_USAGE_ENDPOINTS = ("completions", "embeddings")

# group_by[] each endpoint offers in OpenAI's spec (openai-openapi), minus user_id (usage per end
# user of the organisation is not what parity compares): asking for another is answered 400.
OPENAI_USAGE_GROUPS = {
    "completions": ("model", "project_id", "api_key_id", "service_tier", "batch"),
    "embeddings": ("model", "project_id", "api_key_id"),
}

OPENAI_COST_GROUPS = ("project_id", "line_item")

ANTHROPIC_USAGE_GROUPS = ("model", "workspace_id", "api_key_id", "service_tier", "context_window")

ANTHROPIC_COST_GROUPS = ("workspace_id", "description")


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
            OPENAI_USAGE_GROUPS[e],
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
    """Keep only buckets inside the requested days (a provider may send a neighbour), each bucket
    and group once (a provider may repeat a bucket on the next page)."""
    pull.usage = _once(u for u in pull.usage if pull.start <= u.day <= pull.end)
    pull.costs = _once(c for c in pull.costs if pull.start <= c.day <= pull.end)
    return pull


def _once(rows: Iterable) -> list:
    seen: dict[tuple, Any] = {}
    for row in rows:
        seen.setdefault(row.key(), row)
    return list(seen.values())
