"""Provider clients against the project's fake provider server, over real HTTP on 127.0.0.1."""

import datetime as dt
from decimal import Decimal

import httpx
import pytest

from sources.demo.fake_provider import FakeProviderData, FakeProviderServer
from sources.http_client import ProviderAPIError, RetryPolicy
from sources.providers.reports import anthropic_client, openai_client, pull_anthropic, pull_openai
from sources.providers.rows import CostRow, UsageRow

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
KEY = "sk-admin-TESTKEY-do-not-log-12345"
FAST = RetryPolicy(max_attempts=4, max_total_seconds=10, base_delay=0.0, timeout_seconds=0.5)


def _usage(provider, day, model, key, inp, cached=0, writes=0, out=0, requests=3, endpoint=None):
    return UsageRow(
        provider=provider,
        day=day,
        endpoint=endpoint or ("completions" if provider == "openai" else "messages"),
        model=model,
        project_id="proj_main" if provider == "openai" else "wrk_app",
        api_key_id=key,
        service_tier="default" if provider == "openai" else "standard",
        is_batch=False,
        context_window=None if provider == "openai" else "0-200k",
        input_tokens=inp,
        cached_input_tokens=cached,
        cache_write_tokens=writes,
        output_tokens=out,
        requests=requests if provider == "openai" else None,
    )


DATA = FakeProviderData(
    usage=[
        _usage("openai", D1, "gpt-4o-mini-2024-07-18", "key_1", 1000, 200, 0, 50),
        _usage("openai", D1, "gpt-4o-mini-2024-07-18", "key_2", 500, 0, 0, 10),
        _usage("openai", D3, "text-embedding-3-small", "key_1", 900, endpoint="embeddings"),
        _usage("anthropic", D1, "claude-sonnet-4-5-20250929", "apikey_1", 3000, 1000, 500, 70),
    ],
    costs=[
        CostRow(
            "openai",
            D1,
            "proj_main",
            "gpt-4o-mini-2024-07-18, input",
            Decimal("0.000123456789"),
            "usd",
        ),
        CostRow("openai", D1, "proj_main", "web search tool calls", Decimal("0.025"), "usd"),
        CostRow(
            "anthropic",
            D1,
            "wrk_app",
            "Claude Sonnet 4.5 Usage",
            Decimal("0.0123456"),
            "usd",
            cost_type="tokens",
            model="claude-sonnet-4-5-20250929",
        ),
    ],
)


@pytest.fixture
def server():
    with FakeProviderServer(FakeProviderData(DATA.usage, DATA.costs)) as srv:
        yield srv


def test_openai_usage_and_costs_in_dollars(server):
    server.max_buckets_per_page = 1  # three days -> three pages per endpoint
    with openai_client(server.openai_url, KEY) as client:
        pull = pull_openai(client, D1, D3, FAST)
    assert pull.requests_made == 9
    assert sorted(
        (
            u.day,
            u.endpoint,
            u.api_key_id,
            u.input_tokens,
            u.cached_input_tokens,
            u.output_tokens,
            u.requests,
        )
        for u in pull.usage
    ) == [
        (D1, "completions", "key_1", 1000, 200, 50, 3),
        (D1, "completions", "key_2", 500, 0, 10, 3),
        (D3, "embeddings", "key_1", 900, 0, 0, 3),
    ]
    assert {(c.line_item, c.amount_usd) for c in pull.costs} == {
        ("gpt-4o-mini-2024-07-18, input", Decimal("0.000123456789")),
        ("web search tool calls", Decimal("0.025")),
    }


def test_anthropic_total_input_and_cents(server):
    with anthropic_client(server.anthropic_url, KEY) as client:
        pull = pull_anthropic(client, D1, D2, FAST)
    (u,) = pull.usage
    assert (u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.requests) == (
        3000,
        1000,
        500,
        None,
    )
    (c,) = pull.costs
    assert c.amount_usd == Decimal("0.0123456") and c.cost_type == "tokens"


def test_legacy_openai_shape(server):
    server.data.openai_legacy_shape = True
    with openai_client(server.openai_url, KEY) as client:
        pull = pull_openai(client, D1, D1, FAST)
    assert {u.service_tier for u in pull.usage} == {None}
    assert sum(u.input_tokens for u in pull.usage) == 1500


def test_rejected_key_is_an_error_that_says_what_to_do(server):
    with (
        httpx.Client(base_url=server.openai_url) as client,  # no auth header: HTTP 401
        pytest.raises(ProviderAPIError, match=r"HTTP 401.*check the admin key"),
    ):
        pull_openai(client, D1, D1, FAST)


def test_the_clients_carry_the_key_the_version_and_a_timeout():
    with openai_client("http://127.0.0.1:9/openai/", "sk-admin", timeout=7.5) as client:
        assert str(client.base_url) == "http://127.0.0.1:9/openai/"  # httpx adds one slash
        assert client.headers["Authorization"] == "Bearer sk-admin"
        assert client.timeout == httpx.Timeout(7.5)
    with anthropic_client("http://127.0.0.1:9/a//", "sk-ant-admin") as client:
        assert str(client.base_url) == "http://127.0.0.1:9/a/"
        assert client.headers["x-api-key"] == "sk-ant-admin"
        assert client.headers["anthropic-version"] == "2023-06-01"
        assert client.timeout == httpx.Timeout(30.0)


def test_rows_of_the_first_and_last_day_are_kept_and_neighbours_dropped():
    """A provider may send a bucket beside the days asked for; the days asked for are inclusive."""
    rows = [
        CostRow("openai", day, "proj_main", f"item {day}", Decimal("1"), "usd")
        for day in (D1 - dt.timedelta(days=1), D1, D2, D3, D3 + dt.timedelta(days=1))
    ]
    usage = [_usage("openai", day, "gpt-4o", "key_1", 10) for day in (D1, D3)]
    with (
        FakeProviderServer(FakeProviderData(usage, rows)) as srv,
        openai_client(srv.openai_url, KEY) as client,
    ):
        pull = pull_openai(client, D1, D3, FAST)
    assert sorted(c.day for c in pull.costs) == [D1, D2, D3]
    assert sorted(u.day for u in pull.usage) == [D1, D3]


def test_amounts_keep_every_digit_through_the_json_body():
    """A JSON number with more digits than a float holds is read as a Decimal, not via float."""
    amount = Decimal("0.123456789012345678901")  # 21 significant digits; a float keeps 17
    costs = [CostRow("openai", D1, "proj_main", "item", amount, "usd")]
    with (
        FakeProviderServer(FakeProviderData([], costs)) as srv,
        openai_client(srv.openai_url, KEY) as client,
    ):
        pull = pull_openai(client, D1, D1, FAST)
    assert [c.amount_usd for c in pull.costs] == [amount]
