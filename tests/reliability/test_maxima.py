"""One line never fails a day (issue 14, item 4): events at every documented maximum, priced with
the most expensive model and the shipped rate card, go through the real pipeline; the day builds
and every cost equals an independent computation. Before the maxima, `input_tokens: 1e15`
overflowed DECIMAL(18,9) in cost_breakdown and the whole day failed."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from sources.demo.reference_prices import calc_price_per_call
from sources.events.contract import MAXIMA
from tests.conftest import make_home

pytestmark = pytest.mark.slow

TS = "2026-11-01T10:00:00Z"
MAX_TOKENS = int(MAXIMA["input_tokens"])
LLM = {
    "event_id": "max-llm",
    "type": "llm_call",
    "ts": TS,
    "user_id": "max-user",
    "provider": "openai",
    "model": "o1-pro",  # among the most expensive models genai-prices knows
    "input_tokens": MAX_TOKENS,
    "output_tokens": MAX_TOKENS,
    "reasoning_tokens": MAX_TOKENS,
}
EVENTS = [
    LLM,
    {
        "event_id": "max-db",
        "type": "db_op",
        "ts": TS,
        "user_id": "max-user",
        "rows_read": int(MAXIMA["rows_read"]),
        "rows_written": int(MAXIMA["rows_written"]),
        "duration_ms": int(MAXIMA["duration_ms"]),
    },
    {
        "event_id": "max-api",
        "type": "api_call",
        "ts": TS,
        "user_id": "max-user",
        "service": "maps",
        "units": int(MAXIMA["units"]),
    },
    {
        "event_id": "max-compute",
        "type": "compute",
        "ts": TS,
        "user_id": "max-user",
        "duration_ms": int(MAXIMA["duration_ms"]),
        "memory_mb": int(MAXIMA["memory_mb"]),
    },
    {
        "event_id": "max-cost",
        "type": "cost_event",
        "ts": TS,
        "user_id": "max-user",
        "amount_usd": int(MAXIMA["amount_usd"]),
    },
]


def _expected() -> dict[str, Decimal]:
    """Costs from the shipped rate card's text and genai-prices, per the README's rules."""
    card = yaml.safe_load((Path(__file__).resolve().parents[2] / "rate_card.yaml").read_text())
    rates = card["rates"][0]

    def per_unit(value: str, per: int) -> Decimal:
        return (Decimal(value) / per).quantize(Decimal("1e-18"))

    ms = Decimal(int(MAXIMA["duration_ms"]))
    mb = Decimal(int(MAXIMA["memory_mb"]))
    llm = calc_price_per_call({**LLM, "occurred_at": dt.datetime(2026, 11, 1, 10)})
    assert llm is not None
    return {
        "max-llm": Decimal(llm),
        "max-db": Decimal(int(MAXIMA["rows_read"]))
        * per_unit(rates["db_read_per_million_rows"], 10**6)
        + Decimal(int(MAXIMA["rows_written"]))
        * per_unit(rates["db_write_per_million_rows"], 10**6),
        "max-api": Decimal(int(MAXIMA["units"])) * Decimal(rates["api_calls_per_unit"]["maps"]),
        "max-compute": ms * per_unit(rates["compute_per_second"], 1_000)
        + ms * mb * per_unit(rates["compute_per_gb_second"], 1_024_000),
        "max-cost": Decimal(int(MAXIMA["amount_usd"])),
    }


def test_a_day_of_events_at_every_maximum_builds_and_prices_exactly(tmp_path):
    home = make_home(tmp_path / "home", days=1, users=3)
    path = home.root / "events" / "maxima.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    outcomes = home.run(home.days[0], home.days[0])
    assert [o.success for o in outcomes] == [True]
    got = dict(
        home.query(
            "select event_id, exact_total_cost_usd from marts.cost_breakdown "
            "where event_id like 'max-%'"
        )
    )
    expected = _expected()
    assert set(got) == set(expected)
    for event_id, cost in expected.items():
        assert abs(got[event_id] - cost) <= Decimal("1e-9"), (event_id, got[event_id], cost)
    # and every cost stays far inside the money type: a day of such lines still sums
    assert max(expected.values()) < Decimal("1e8")
    total = home.query("select total_cost_usd from marts.daily_stats where user_id = 'max-user'")
    assert abs(sum(t for (t,) in total) - sum(expected.values())) <= Decimal("1e-6")
