"""Provider report pages -> rows (sources/providers/rows.py), every field of every row checked
against values worked out by hand from the wire (contracts/providers.md): which field lands in
which column, the unit conversions, the defaults of missing fields, and error messages that name
the report, the day and the field."""

import datetime as dt
import time
from decimal import Decimal

import pytest

from sources.providers.rows import (
    CostRow,
    ProviderDataError,
    UsageRow,
    count,
    money,
    parse_anthropic_costs,
    parse_anthropic_usage,
    parse_openai_costs,
    parse_openai_usage,
)

D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
NOV1 = 1793491200  # 2026-11-01T00:00:00Z in Unix seconds


def test_unix_seconds_for_nov_1():
    assert dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp() == NOV1


def _anthropic(results: list[dict], starting_at: str = "2026-11-01T00:00:00Z") -> dict:
    return {"data": [{"starting_at": starting_at, "results": results}], "has_more": False}


ANTHROPIC_FULL = {
    "model": "claude-sonnet-4-5-20250929",
    "workspace_id": "wrkspc_1",
    "api_key_id": "apikey_1",
    "service_tier": "batch",
    "context_window": "0-200k",
    "uncached_input_tokens": 1000,
    "cache_read_input_tokens": 300,
    "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 2},
    "output_tokens": 77,
    "server_tool_use": {"web_search_requests": 4},
}


def test_anthropic_usage_every_field():
    rows = parse_anthropic_usage(
        _anthropic([ANTHROPIC_FULL, {"service_tier": "standard"}, {"model": "claude-x"}])
    )
    assert rows == [
        UsageRow(
            provider="anthropic", day=D1, endpoint="messages",
            model="claude-sonnet-4-5-20250929", project_id="wrkspc_1", api_key_id="apikey_1",
            service_tier="batch", is_batch=True, context_window="0-200k",
            input_tokens=1000 + 300 + 40 + 2,  # uncached + cache reads + both cache writes
            cached_input_tokens=300, cache_write_tokens=42, output_tokens=77, requests=None,
            web_search_requests=4,
        ),
        UsageRow(
            provider="anthropic", day=D1, endpoint="messages", model=None, project_id=None,
            api_key_id=None, service_tier="standard", is_batch=False, context_window=None,
            input_tokens=0, cached_input_tokens=0, cache_write_tokens=0, output_tokens=0,
            requests=None, web_search_requests=0,
        ),
        UsageRow(
            provider="anthropic", day=D1, endpoint="messages", model="claude-x", project_id=None,
            api_key_id=None, service_tier=None, is_batch=None, context_window=None,
            input_tokens=0, cached_input_tokens=0, cache_write_tokens=0, output_tokens=0,
            requests=None, web_search_requests=0,
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (("uncached_input_tokens",), "uncached_input_tokens"),
        (("cache_read_input_tokens",), "cache_read_input_tokens"),
        (("cache_creation", "ephemeral_5m_input_tokens"), "ephemeral_5m_input_tokens"),
        (("cache_creation", "ephemeral_1h_input_tokens"), "ephemeral_1h_input_tokens"),
        (("output_tokens",), "output_tokens"),
        (("server_tool_use", "web_search_requests"), "server_tool_use.web_search_requests"),
    ],
)
def test_anthropic_usage_a_bad_count_names_report_day_and_field(path, name):
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ANTHROPIC_FULL.items()}
    target = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = 1.5
    with pytest.raises(ProviderDataError) as err:
        parse_anthropic_usage(_anthropic([result]))
    assert str(err.value) == (
        f"Anthropic usage_report/messages 2026-11-01: {name} must be a whole number >= 0, got 1.5"
    )


def test_anthropic_costs_are_cents_in_a_string():
    page = _anthropic(
        [
            {
                "amount": "1234.5", "currency": "USD", "workspace_id": "wrkspc_1",
                "description": "Claude Sonnet 4.5 Usage - Input Tokens", "cost_type": "tokens",
                "model": "claude-sonnet-4-5", "service_tier": "standard",
            },
            {"amount": None},
            {"amount": "10", "currency": "EUR"},
        ],
        starting_at="2026-11-02T00:00:00+00:00",
    )  # fmt: skip
    assert parse_anthropic_costs(page) == [
        CostRow(
            provider="anthropic", day=D2, project_id="wrkspc_1",
            line_item="Claude Sonnet 4.5 Usage - Input Tokens", amount_usd=Decimal("12.345"),
            currency="usd", cost_type="tokens", model="claude-sonnet-4-5",
            service_tier="standard", amount=Decimal("12.345"),
        ),
        CostRow(
            provider="anthropic", day=D2, project_id=None, line_item=None, amount_usd=None,
            currency="usd", amount=None,
        ),
        CostRow(
            provider="anthropic", day=D2, project_id=None, line_item=None, amount_usd=None,
            currency="eur", amount=Decimal("0.1"),
        ),
    ]  # fmt: skip
    with pytest.raises(ProviderDataError) as err:
        parse_anthropic_costs(_anthropic([{"amount": "ten"}]))
    assert str(err.value) == (
        "Anthropic cost_report 2026-11-01: amount must be a decimal amount, got 'ten'"
    )


def _openai(results: list[dict], start: int = NOV1) -> dict:
    return {"data": [{"start_time": start, "results": results}], "has_more": False}


def test_openai_usage_every_field_in_the_current_shape():
    result = {
        "model": "gpt-4o-mini-2024-07-18", "project_id": "proj_1", "api_key_id": "key_1",
        "service_tier": "default", "batch": False, "input_tokens": 1000,
        "input_uncached_tokens": 700, "input_cached_tokens": 200, "input_cache_write_tokens": 100,
        "output_tokens": 50, "num_model_requests": 3, "input_audio_tokens": 30,
        "output_audio_tokens": 5,
    }  # fmt: skip
    empty = {"model": "", "project_id": "", "api_key_id": "", "service_tier": ""}
    assert parse_openai_usage(_openai([result, empty], NOV1 + 86400), "completions") == [
        UsageRow(
            provider="openai", day=D2, endpoint="completions", model="gpt-4o-mini-2024-07-18",
            project_id="proj_1", api_key_id="key_1", service_tier="default", is_batch=False,
            context_window=None, input_tokens=1000, cached_input_tokens=200,
            cache_write_tokens=100, output_tokens=50, requests=3, web_search_requests=0,
            input_audio_tokens=30, output_audio_tokens=5,
        ),
        UsageRow(
            provider="openai", day=D2, endpoint="completions", model=None, project_id=None,
            api_key_id=None, service_tier=None, is_batch=None, context_window=None,
            input_tokens=0, cached_input_tokens=0, cache_write_tokens=0, output_tokens=0,
            requests=0,
        ),
    ]  # fmt: skip


def test_openai_usage_in_the_older_shape_adds_audio_to_the_text_counts():
    result = {"input_tokens": 1000, "output_tokens": 50, "input_audio_tokens": 30,
              "output_audio_tokens": 5, "num_model_requests": 2, "batch": True}  # fmt: skip
    (row,) = parse_openai_usage(_openai([result]), "audio_speeches")
    assert (row.day, row.endpoint, row.is_batch) == (D1, "audio_speeches", True)
    assert (row.input_tokens, row.output_tokens, row.requests) == (1030, 55, 2)
    assert (row.input_audio_tokens, row.output_audio_tokens) == (30, 5)


@pytest.mark.parametrize(
    "name",
    [
        "input_tokens", "input_cached_tokens", "input_cache_write_tokens", "output_tokens",
        "num_model_requests", "input_audio_tokens", "output_audio_tokens",
    ],
)  # fmt: skip
def test_openai_usage_a_bad_count_names_endpoint_day_and_field(name):
    with pytest.raises(ProviderDataError) as err:
        parse_openai_usage(_openai([{name: -1}]), "embeddings")
    assert str(err.value) == (
        f"OpenAI usage/embeddings 2026-11-01: {name} must be a whole number >= 0, got -1"
    )


def test_openai_costs_are_dollars():
    page = _openai(
        [
            {"amount": {"value": 0.125, "currency": "USD"}, "project_id": "proj_1",
             "line_item": "gpt-4o, input"},
            {"amount": {"value": "2"}},
            {},
        ]
    )  # fmt: skip
    assert parse_openai_costs(page) == [
        CostRow(provider="openai", day=D1, project_id="proj_1", line_item="gpt-4o, input",
                amount_usd=Decimal("0.125"), currency="usd", amount=Decimal("0.125")),
        CostRow(provider="openai", day=D1, project_id=None, line_item=None,
                amount_usd=Decimal("2"), currency="usd", amount=Decimal("2")),
        CostRow(provider="openai", day=D1, project_id=None, line_item=None, amount_usd=None,
                currency="usd", amount=None),
    ]  # fmt: skip
    with pytest.raises(ProviderDataError) as err:
        parse_openai_costs(_openai([{"amount": {"value": "Infinity"}}]))
    assert str(err.value) == (
        "OpenAI costs 2026-11-01: amount.value must be a decimal amount, got 'Infinity'"
    )


@pytest.mark.parametrize(
    ("bucket", "day"),
    [
        ({"start_time": NOV1 + 86399}, D1),
        ({"start_time": str(NOV1 + 86400)}, D2),
        ({"starting_at": "2026-11-02T03:00:00+05:00"}, D1),  # 2026-11-01T22:00Z
        ({"starting_at": "2026-11-01T22:00:00-03:00"}, D2),  # 2026-11-02T01:00Z
        ({"starting_at": "2026-11-02T00:00:00"}, D2),  # no offset: UTC
    ],
)
def test_a_bucket_is_the_utc_day_of_its_start(bucket, day, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # a machine whose local day differs from UTC's
    time.tzset()
    try:
        (row,) = parse_anthropic_costs({"data": [{**bucket, "results": [{"amount": "1"}]}]})
    finally:
        monkeypatch.undo()
        time.tzset()
    assert row.day == day


def test_pages_without_data_or_results_give_no_rows():
    assert parse_openai_usage({}, "completions") == []
    assert parse_anthropic_usage({"data": [{"starting_at": "2026-11-01T00:00:00Z"}]}) == []
    assert parse_openai_costs({"data": None}) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 0), ("", 0), (0, 0), (7, 7), (7.0, 7), ("1200.0", 1200), ("1e3", 1000)],
)
def test_count_takes_whole_numbers_in_any_spelling(value, expected):
    assert count(value, "n") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (0, Decimal(0)), ("0.000000001", Decimal("1E-9")), (-3, Decimal(-3))],
)
def test_money_keeps_every_digit(value, expected):
    assert money(value, "a") == expected


@pytest.mark.parametrize(
    ("parse", "value", "must_be"),
    [(count, v, "a whole number >= 0") for v in (True, False, -1, 0.5, "x", "NaN", "Infinity", [1])]
    + [(money, v, "a decimal amount") for v in (True, "NaN", "-Infinity", "1,5", {})],
)
def test_anything_else_is_refused_and_says_where(parse, value, must_be: str):
    with pytest.raises(ProviderDataError) as err:
        parse(value, "n", "here")
    assert str(err.value) == f"here: n must be {must_be}, got {value!r}"
    with pytest.raises(ProviderDataError, match=r"^provider report: n must"):
        parse(value, "n")
