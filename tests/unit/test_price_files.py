"""The price files users edit (sources/pricing/files.py): every row they give, the units the SQL
multiplies by (worked out by hand), and every rule's whole message with file, entry and line."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from sources.pricing.files import Rate, load_custom_prices, load_rate_card, rates_digest
from sources.yaml_lines import ConfigFileError

CARD = """\
version: "7"
rates:
  - effective_from: 2025-01-01
    effective_to: 2026-01-01
    db_read_per_million_rows: "0.25"
    db_write_per_million_rows: "1.25"
    compute_per_second: "0.000004"
    compute_per_gb_second: "0.0000166667"
    api_calls_per_unit:
      "*": "0.001"
      maps: "0.005"
  - effective_from: "2026-01-01"
    db_read_per_million_rows: 1
"""


def test_every_rate_of_a_rate_card_per_unit_the_events_carry(tmp_path: Path):
    path = tmp_path / "card.yaml"
    path.write_text(CARD)
    version, rates = load_rate_card(path)
    jan25, jan26 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)
    assert version == "7"
    assert rates == [
        Rate(jan25, jan26, "db_read_row", "*", Decimal("0.00000025")),  # 0.25 / 1e6 rows
        Rate(jan25, jan26, "db_write_row", "*", Decimal("0.00000125")),
        Rate(jan25, jan26, "compute_ms", "*", Decimal("0.000000004")),  # per second / 1000
        # per GB-second / (1024 MB * 1000 ms) = 0.0000166667 / 1,024,000
        Rate(jan25, jan26, "compute_mb_ms", "*", Decimal("0.000000000016276074")),
        Rate(jan25, jan26, "api_unit", "*", Decimal("0.001")),
        Rate(jan25, jan26, "api_unit", "maps", Decimal("0.005")),
        Rate(jan26, None, "db_read_row", "*", Decimal("0.000001")),
    ]
    assert rates_digest(rates) == rates_digest(list(reversed(rates)))
    assert rates_digest(rates) != rates_digest(rates[:-1])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{effective_from: 2025-01-01, db_read_per_row: 1}", "unknown fields ['db_read_per_row']"),
        ("{db_read_per_million_rows: 1}", "`effective_from` is required"),
        (
            "{effective_from: 2025-02-30}",
            "effective_from must be a date like 2026-01-31, got '2025-02-30'",
        ),
        (
            "{effective_from: 2025-01-01, effective_to: soon}",
            "effective_to must be a date like 2026-01-31, got 'soon'",
        ),
        (
            "{effective_from: 2025-01-01, effective_to: 2025-01-01}",
            "effective_to must be after effective_from",
        ),
        (
            "{effective_from: 2025-01-01, compute_per_second: -1}",
            "compute_per_second must be a non-negative decimal, got -1",
        ),
        (
            "{effective_from: 2025-01-01, api_calls_per_unit: [maps]}",
            "api_calls_per_unit must map service -> USD per unit",
        ),
        (
            "{effective_from: 2025-01-01, api_calls_per_unit: {maps: x}}",
            "api_calls_per_unit.maps must be a non-negative decimal, got 'x'",
        ),
    ],
)
def test_each_rate_card_rule_names_file_entry_and_line(tmp_path: Path, entry: str, message):
    path = tmp_path / "card.yaml"
    path.write_text(f'version: "1"\nrates:\n  - {{effective_from: 2024-01-01}}\n  - {entry}\n')
    with pytest.raises(ConfigFileError) as err:
        load_rate_card(path)
    assert str(err.value) == f"{path}: rates[1] (line 4): {message}"


PRICES = """\
version: 3
prices:
  - provider: acme
    model: rerank
    effective_from: 2026-01-01
    effective_to: 2026-07-01
    input_mtok: "0.05"
    cache_read_mtok: "0.01"
    cache_write_mtok: "0.0625"
    cache_write_1h_mtok: "0.1"
    output_mtok: "2"
    output_reasoning_mtok: "3"
    requests_kcount: "0.5"
  - provider: acme
    model: rerank
    effective_from: 2026-07-01
    output_mtok: 1
"""


def test_every_price_of_a_custom_price_file_per_token_or_request(tmp_path: Path):
    path = tmp_path / "custom.yaml"
    path.write_text(PRICES)
    version, (first, second) = load_custom_prices(path)
    assert version == "3"
    assert (first.provider_id, first.model_id, first.source) == ("acme", "rerank", "custom")
    assert (first.context_key, first.context_value) == (None, None)
    assert (first.valid_from, first.valid_to) == (dt.date(2026, 1, 1), dt.date(2026, 7, 1))
    assert (first.seconds_from, first.seconds_to) == (0, 86_400)  # the whole day
    set_prices = {k: v for k, v in first.prices.items() if v is not None}
    assert set_prices == {
        "input_base": Decimal("0.00000005"),  # 0.05 per million tokens
        "cache_read_base": Decimal("0.00000001"),
        "cache_write_base": Decimal("0.0000000625"),
        "cache_write_1h_base": Decimal("0.0000001"),
        "output_base": Decimal("0.000002"),
        "output_reasoning_base": Decimal("0.000003"),
        "request_base": Decimal("0.0005"),  # 0.5 per thousand requests
    }
    assert (second.valid_from, second.valid_to) == (dt.date(2026, 7, 1), None)
    assert {k: v for k, v in second.prices.items() if v is not None} == {
        "output_base": Decimal("0.000001")
    }


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{model: m, effective_from: 2026-01-01, input_mtok: 1}", "`provider` is required"),
        ("{provider: p, effective_from: 2026-01-01, input_mtok: 1}", "`model` is required"),
        ("{provider: p, model: m, input_mtok: 1}", "`effective_from` is required"),
        (
            "{provider: p, model: m, effective_from: 2026-01-01, effective_to: 2025-12-31, "
            "input_mtok: 1}",
            "effective_to must be after effective_from",
        ),
        (
            "{provider: p, model: m, effective_from: 2026-01-01, effective_to: x, input_mtok: 1}",
            "effective_to must be a date like 2026-01-31, got 'x'",
        ),
        (
            "{provider: p, model: m, effective_from: 2026-01-01}",
            "give at least one of ['cache_read_mtok', 'cache_write_1h_mtok', 'cache_write_mtok', "
            "'input_mtok', 'output_mtok', 'output_reasoning_mtok', 'requests_kcount']",
        ),
        (
            "{provider: p, model: m, effective_from: 2026-01-01, output_mtok: NaN}",
            "output_mtok must be a non-negative decimal, got 'NaN'",
        ),
    ],
)
def test_each_custom_price_rule_names_file_entry_and_line(tmp_path: Path, entry: str, message):
    path = tmp_path / "custom.yaml"
    path.write_text(
        'version: "1"\nprices:\n'
        "  - {provider: q, model: n, effective_from: 2026-01-01, input_mtok: 1}\n"
        f"  - {entry}\n"
    )
    with pytest.raises(ConfigFileError) as err:
        load_custom_prices(path)
    assert str(err.value) == f"{path}: prices[1] (line 4): {message}"


@pytest.mark.parametrize(
    ("second", "overlaps"),
    [
        ("effective_from: 2026-06-30", True),  # before the first one ends
        ("effective_from: 2026-07-01", False),  # effective_to is exclusive
        ("effective_from: 2025-01-01, effective_to: 2026-01-02", True),  # ends inside it
        ("effective_from: 2025-01-01, effective_to: 2026-01-01", False),
    ],
)
def test_entries_for_one_model_must_not_overlap(tmp_path: Path, second: str, overlaps: bool):
    path = tmp_path / "custom.yaml"
    path.write_text(
        'version: "1"\nprices:\n'
        "  - {provider: p, model: m, effective_from: 2026-01-01, effective_to: 2026-07-01, "
        "input_mtok: 1}\n"
        f"  - {{provider: p, model: m, {second}, input_mtok: 2}}\n"
        "  - {provider: p, model: other, effective_from: 2026-03-01, input_mtok: 2}\n"
    )
    if not overlaps:
        assert len(load_custom_prices(path)[1]) == 3
        return
    with pytest.raises(ConfigFileError) as err:
        load_custom_prices(path)
    first, later = sorted(["2026-01-01", second.split(",")[0].split(": ")[1]])
    assert str(err.value) == f"{path}: custom prices for p/m overlap ({first} and {later})"


@pytest.mark.parametrize(
    ("first_to", "overlaps"), [("", True), (", effective_to: 2026-01-02", True),
                               (", effective_to: 2026-01-01", False)]
)  # fmt: skip
def test_rates_of_one_kind_and_service_must_not_overlap(tmp_path: Path, first_to, overlaps):
    """A new rate added without closing the old one would leave both in force (and the cost
    model would take the higher of them)."""
    path = tmp_path / "card.yaml"
    path.write_text(
        'version: "1"\nrates:\n'
        f"  - {{effective_from: 2025-01-01{first_to}, compute_per_second: 2, "
        "api_calls_per_unit: {maps: 1}}\n"
        "  - {effective_from: 2026-01-01, compute_per_second: 1, api_calls_per_unit: {search: 1}}\n"
    )
    if not overlaps:
        assert len(load_rate_card(path)[1]) == 4
        return
    with pytest.raises(ConfigFileError) as err:
        load_rate_card(path)
    assert str(err.value) == (
        f"{path}: rates for compute_ms (*) overlap (2025-01-01 and 2026-01-01); give the "
        "earlier entry an effective_to"
    )
