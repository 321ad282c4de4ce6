"""The guard's price rule on hand-made price rows: the cases of cost_breakdown's dbt unit test
(tiers, context, custom, time of day) and the leaf rule, each amount computed by hand.
(tests/integration/test_guard_pricing.py compares with the marts on every sample call.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sources.guard.prices import STEMS, PriceBook, Usage, context_of, cost, worst_case
from sources.pricing.genai import DAY_SECONDS

D = Decimal


def row(row_id: str, model: str = "m", source: str = "genai-prices", **kw) -> dict:
    base = {
        f"{s}_{part}": None for s in STEMS for part in ("base", "t1_start", "t1", "t2_start", "t2")
    }
    base |= {
        "price_row_id": row_id, "provider_id": "p", "model_id": model, "source": source,
        "context_key": None, "context_value": None, "valid_from": None, "valid_to": None,
        "seconds_from": 0, "seconds_to": DAY_SECONDS,
    }  # fmt: skip
    return base | kw


BOOK = PriceBook(
    [
        row("standard", input_base=D("0.000001"), input_t1_start=1000, input_t1=D("0.000002"),
            input_t2_start=2000, input_t2=D("0.000003"), output_base=D("0.00001")),
        row("batch", context_key="processing", context_value="batch",
            input_base=D("0.0000005"), output_base=D("0.000005")),
        row("flex", context_key="service_tier", context_value="flex",
            input_base=D("0.0000007"), output_base=D("0.000007")),
        row("custom", source="custom", valid_from=dt.date(2026, 11, 2),
            input_base=D("0.000005"), output_base=D("0.00001")),
        row("night", model="m2", seconds_to=36000, input_base=D("0.000001")),
        row("day", model="m2", seconds_from=36000, input_base=D("0.000002")),
        row("leaves", model="m3", input_base=D("0.000002"), cache_read_base=D("0.0000005"),
            cache_write_base=D("0.0000025"), cache_write_1h_base=D("0.000004"),
            output_base=D("0.00001"), output_reasoning_base=D("0.00002"),
            request_base=D("0.0001")),
        row("no-cache-prices", model="m4", input_base=D("0.000002"), output_base=D("0.00001")),
    ],
    {("p", "alias-of-m3"): ("p", "m3")},
)  # fmt: skip
NOV1 = dt.datetime(2026, 11, 1, 10, 0, 0)


@pytest.mark.parametrize(
    ("input_tokens", "expected"),
    [(1000, D("0.0011")), (1001, D("0.002102")), (2000, D("0.0041")), (2001, D("0.006103"))],
)
def test_cliff_tiers_by_the_requests_input(input_tokens, expected):
    r = BOOK.row_for("p", "m", NOV1, None)
    assert r is not None and r.price_row_id == "standard"
    assert cost(r, Usage(input_tokens, 10)) == expected


@pytest.mark.parametrize(
    ("tier", "at", "expected_row"),
    [
        ("batch", NOV1, "batch"),
        ("flex", NOV1, "flex"),
        ("priority", NOV1, "standard"),  # no row for that tier: the standard one
        (None, NOV1 + dt.timedelta(days=1), "custom"),  # from its valid_from day
        ("batch", NOV1 + dt.timedelta(days=1), "custom"),  # custom wins over a context row
    ],
)
def test_the_context_row_wins_then_custom_over_all(tier, at, expected_row):
    r = BOOK.row_for("p", "m", at, tier)
    assert r is not None and r.price_row_id == expected_row


def test_context_of_a_service_tier():
    assert context_of(None) == (None, None)
    assert context_of("batch") == ("processing", "batch")
    assert context_of("flex") == ("service_tier", "flex")


@pytest.mark.parametrize(
    ("at", "expected_row"),
    [
        (dt.datetime(2026, 11, 1, 9, 59, 59, 600000), "night"),  # seconds truncated, as in SQL
        (dt.datetime(2026, 11, 1, 10, 0, 0), "day"),
        (dt.datetime(2026, 11, 1, 0, 59, 59), "night"),
        (dt.datetime(2026, 11, 1, 23, 59, 59, 900000), "day"),
    ],
)
def test_time_of_day_windows(at, expected_row):
    r = BOOK.row_for("p", "m2", at, None)
    assert r is not None and r.price_row_id == expected_row


def test_no_row_for_an_unknown_model_or_day_before_any_price():
    assert BOOK.row_for("p", "unknown", NOV1, None) is None
    assert BOOK.row_for("other", "m", NOV1, None) is None


def test_each_unit_is_charged_once_at_its_own_price():
    r = BOOK.row_for("p", "alias-of-m3", NOV1, None)  # through the model alias
    assert r is not None and r.price_row_id == "leaves"
    usage = Usage(1000, 500, cache_read_tokens=300, cache_write_tokens=200,
                  cache_write_1h_tokens=50, reasoning_tokens=100)  # fmt: skip
    # uncached input 1000-300-150-50 = 500 * 2e-6 = 0.001; reads 300 * 5e-7 = 0.00015;
    # 5-minute writes 150 * 2.5e-6 = 0.000375; 1-hour writes 50 * 4e-6 = 0.0002;
    # output 400 * 1e-5 = 0.004; reasoning 100 * 2e-5 = 0.002; request 0.0001
    assert cost(r, usage) == D("0.007825")
    # worst case: 1000 input at the dearest input-side price (4e-6), 500 at 2e-5, the request
    assert worst_case(r, 1000, 500) == D("0.0141")


def test_units_without_a_price_of_their_own_are_charged_as_their_parent():
    r = BOOK.row_for("p", "m4", NOV1, None)
    assert r is not None
    usage = Usage(1000, 500, cache_read_tokens=300, cache_write_tokens=200, reasoning_tokens=100)
    # every input token at 2e-6, every output token at 1e-5
    assert cost(r, usage) == D("0.007")
    assert worst_case(r, 1000, 500) == D("0.007")
