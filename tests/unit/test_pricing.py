"""Price flattening and the pricing files, checked against genai-prices and hand-written values."""

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from genai_prices import data_snapshot

from sources.pricing.files import load_custom_prices, load_rate_card
from sources.pricing.genai import DAY_SECONDS, _seconds, flatten_model
from sources.yaml_lines import ConfigFileError

REPO = Path(__file__).resolve().parents[2]


def _model(provider: str, model: str):
    return data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)[1]


def _row(rows, day: dt.date, ctx=None, second: int = 0):
    (row,) = [
        r
        for r in rows
        if (r.context_key, r.context_value) == (ctx or (None, None))
        and (r.valid_from is None or r.valid_from <= day)
        and (r.valid_to is None or day < r.valid_to)
        and r.seconds_from <= second < r.seconds_to
    ]
    return row


def test_variant_prices_start_on_their_date():
    rows = flatten_model("openai", _model("openai", "gpt-4o-mini"))
    flex = ("service_tier", "priority")
    before = _row(rows, dt.date(2026, 10, 11), flex).prices
    after = _row(rows, dt.date(2026, 10, 12), flex).prices
    # $0.15 / $0.25 per million input tokens (standard / priority), per token.
    assert before["input_base"] == Decimal("0.15") / 1_000_000
    assert after["input_base"] == Decimal("0.25") / 1_000_000
    assert _row(rows, dt.date(2026, 10, 12)).prices["input_base"] == Decimal("0.15") / 1_000_000


def test_tiers_and_one_hour_cache_writes_are_kept():
    rows = flatten_model("anthropic", _model("anthropic", "claude-sonnet-4-5"))
    p = _row(rows, dt.date(2026, 11, 1)).prices
    assert (p["input_base"], p["input_t1_start"], p["input_t1"]) == (
        Decimal("3") / 10**6,
        200_000,
        Decimal("6") / 10**6,
    )
    assert p["cache_write_1h_base"] == Decimal("6") / 10**6
    assert p["request_base"] is None


def test_time_of_day_prices_split_the_day():
    model = _model("deepseek", "deepseek-chat")
    rows = flatten_model("deepseek", model)
    day = dt.date(2026, 10, 13)
    pieces = sorted(
        {
            (r.seconds_from, r.seconds_to)
            for r in rows
            if r.valid_from is None or r.valid_from <= day
        }
    )
    assert pieces[0][0] == 0 and pieces[-1][1] == DAY_SECONDS and len(pieces) >= 2
    for lo, _ in pieces:
        at = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(seconds=lo)
        assert _row(rows, day, second=lo).prices["input_base"] == (
            model.get_prices(at).input_mtok / 1_000_000
        )


@pytest.mark.parametrize(
    ("t", "seconds"),
    [
        (dt.time(16, 30, 15), 16 * 3600 + 30 * 60 + 15),
        (dt.time(0, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))), 16 * 3600 + 30 * 60),
        (dt.time(23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-2))), 3600),
        (dt.time(12, 0, tzinfo=dt.UTC), 12 * 3600),
    ],
)
def test_a_time_of_day_is_seconds_after_utc_midnight(t: dt.time, seconds: int):
    assert _seconds(t) == seconds


def test_every_flattened_row_names_its_provider_model_and_source():
    rows = flatten_model("deepseek", _model("deepseek", "deepseek-chat"))
    assert {(r.provider_id, r.model_id, r.source) for r in rows} == {
        ("deepseek", "deepseek-chat", "genai-prices")
    }


def test_shipped_files_load():
    version, rows = load_custom_prices(REPO / "custom_prices.yaml")
    assert version == "2026-11-01"
    assert [(r.provider_id, r.model_id, r.prices["input_base"]) for r in rows] == [
        ("acme", "acme-rerank-v2", Decimal("0.05") / 10**6)
    ]
    _, rates = load_rate_card(REPO / "rate_card.yaml")
    by_kind = {(r.kind, r.service): r.usd_per_unit for r in rates}
    assert by_kind[("db_read_row", "*")] == Decimal("0.25") / 10**6
    assert by_kind[("compute_ms", "*")] == Decimal("0.000004") / 1000
    assert by_kind[("api_unit", "maps")] == Decimal("0.005")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("prices: []\n", "needs a top-level `version`"),
        (
            'version: "1"\nprices:\n  - provider: openai\n    model: m\n'
            '    effective_from: 2026-01-01\n    input_mtok: "-1"\n',
            "prices[0] (line 3): input_mtok must be a non-negative decimal",
        ),
        (
            'version: "1"\nprices:\n  - provider: openai\n    model: a\n'
            "    effective_from: 2026-01-01\n    output_mtok: 1\n"
            "  - provider: openai\n    model: b\n    effective_from: 2026-13-01\n",
            "prices[1] (line 7): effective_from must be a date",
        ),
        (
            'version: "1"\nprices:\n  - provider: openai\n    model: m\n'
            "    effective_from: 2026-01-01\n    inptu_mtok: 1\n",
            "unknown fields ['inptu_mtok']",
        ),
        (
            'version: "1"\nprices:\n'
            "  - {provider: o, model: m, effective_from: 2026-01-01, input_mtok: 1}\n"
            "  - {provider: o, model: m, effective_from: 2026-06-01, input_mtok: 2}\n",
            "custom prices for o/m overlap",
        ),
        ('version: "1"\nprices:\n  - provider: o\n', "`model` is required"),
    ],
)
def test_custom_price_errors_name_the_entry(tmp_path: Path, body: str, message: str):
    path = tmp_path / "custom.yaml"
    path.write_text(body)
    with pytest.raises(ConfigFileError, match=re.escape(message)):
        load_custom_prices(path)


def test_rate_card_errors_name_the_entry(tmp_path: Path):
    path = tmp_path / "card.yaml"
    path.write_text(
        'version: "1"\nrates:\n  - effective_from: 2025-01-01\n'
        '    api_calls_per_unit: {maps: "abc"}\n'
    )
    with pytest.raises(ConfigFileError, match=r"rates\[0\] \(line 3\): api_calls_per_unit.maps"):
        load_rate_card(path)
