"""The price files users edit: custom LLM prices (custom_prices.yaml) and the non-LLM rate card
(rate_card.yaml), validated with errors that name the file and line, and versioned by content.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from dataclasses import astuple, dataclass
from decimal import Decimal
from pathlib import Path

from genai_prices.types import (
    ModelPrice,
)

from sources.pricing.genai import DAY_SECONDS, PRICE_KEYS, PriceRow, per_unit, price_columns
from sources.yaml_lines import (
    ConfigFileError,
    date_field,
    decimal_field,
    entries,
    load_with_lines,
)


def rates_digest(rates: list[Rate]) -> str:
    """A short content hash of rate card rows (the file's `version` may stay the same)."""
    text = json.dumps(sorted([list(map(str, astuple(r))) for r in rates]))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


CUSTOM_FIELDS = {"provider", "model", "effective_from", "effective_to", *PRICE_KEYS}


def load_custom_prices(path: Path) -> tuple[str, list[PriceRow]]:
    """(version, rows) of a custom price file; raises ConfigFileError naming the bad entry."""
    doc, lines = load_with_lines(path)
    rows: list[PriceRow] = []
    for where, item in entries(path, doc, "prices", lines):
        unknown = set(item) - CUSTOM_FIELDS
        if unknown:
            raise ConfigFileError(f"{where}: unknown fields {sorted(unknown)}")
        for name in ("provider", "model", "effective_from"):
            if not item.get(name):
                raise ConfigFileError(f"{where}: `{name}` is required")
        start = date_field(item["effective_from"], where, "effective_from")
        end = (
            date_field(item["effective_to"], where, "effective_to")
            if item.get("effective_to")
            else None
        )
        if end is not None and end <= start:
            raise ConfigFileError(f"{where}: effective_to must be after effective_from")
        if not any(k in item for k in PRICE_KEYS):
            raise ConfigFileError(f"{where}: give at least one of {sorted(PRICE_KEYS)}")
        mp = ModelPrice(**{k: decimal_field(item[k], where, k) for k in PRICE_KEYS if k in item})
        rows.append(
            PriceRow(
                str(item["provider"]),
                str(item["model"]),
                "custom",
                None,
                None,
                start,
                end,
                0,
                DAY_SECONDS,
                price_columns(mp),
            )
        )
    _no_overlaps(rows, path)
    return str(doc["version"]), rows


def _no_overlaps(rows: list[PriceRow], path: Path) -> None:
    by_model: dict[tuple[str, str], list[PriceRow]] = {}
    for r in rows:
        by_model.setdefault((r.provider_id, r.model_id), []).append(r)
    far = dt.date.max
    for (p, m), rs in by_model.items():
        rs = sorted(rs, key=lambda r: r.valid_from or dt.date.min)
        for a, b in itertools.pairwise(rs):
            if (a.valid_to or far) > (b.valid_from or dt.date.min):
                raise ConfigFileError(
                    f"{path}: custom prices for {p}/{m} overlap ({a.valid_from} and {b.valid_from})"
                )


@dataclass(frozen=True)
class Rate:
    effective_from: dt.date
    effective_to: dt.date | None
    kind: str  # db_read_row, db_write_row, compute_ms, compute_mb_ms, api_unit
    service: str  # for api_unit; '*' is the default for services not listed
    usd_per_unit: Decimal


# file field -> (kind, units per rate): stored per row, per millisecond and per MB-millisecond,
# the units the events carry, so SQL only multiplies.
RATE_FIELDS = {
    "db_read_per_million_rows": ("db_read_row", 1_000_000),
    "db_write_per_million_rows": ("db_write_row", 1_000_000),
    "compute_per_second": ("compute_ms", 1_000),
    "compute_per_gb_second": ("compute_mb_ms", 1_024_000),
}


def load_rate_card(path: Path) -> tuple[str, list[Rate]]:
    """(version, rates) of the non-LLM rate card; raises ConfigFileError naming the bad entry."""
    doc, lines = load_with_lines(path)
    rates: list[Rate] = []
    for where, item in entries(path, doc, "rates", lines):
        allowed = {"effective_from", "effective_to", "api_calls_per_unit", *RATE_FIELDS}
        unknown = set(item) - allowed
        if unknown:
            raise ConfigFileError(f"{where}: unknown fields {sorted(unknown)}")
        if not item.get("effective_from"):
            raise ConfigFileError(f"{where}: `effective_from` is required")
        start = date_field(item["effective_from"], where, "effective_from")
        end = (
            date_field(item["effective_to"], where, "effective_to")
            if item.get("effective_to")
            else None
        )
        if end is not None and end <= start:
            raise ConfigFileError(f"{where}: effective_to must be after effective_from")
        for name, (kind, per) in RATE_FIELDS.items():
            if name in item:
                value = decimal_field(item[name], where, name)
                rates.append(Rate(start, end, kind, "*", per_unit(value, per)))
        api = item.get("api_calls_per_unit", {})
        if not isinstance(api, dict):
            raise ConfigFileError(f"{where}: api_calls_per_unit must map service -> USD per unit")
        for service, value in api.items():
            rates.append(
                Rate(
                    start,
                    end,
                    "api_unit",
                    str(service),
                    decimal_field(value, where, f"api_calls_per_unit.{service}"),
                )
            )
    _no_rate_overlaps(rates, path)
    return str(doc["version"]), rates


def _no_rate_overlaps(rates: list[Rate], path: Path) -> None:
    """Two rates of one kind and service in force on one day would be ambiguous (the cost model
    would take the higher): close the older entry with `effective_to`."""
    by_kind: dict[tuple[str, str], list[Rate]] = {}
    for r in rates:
        by_kind.setdefault((r.kind, r.service), []).append(r)
    for (kind, service), rs in by_kind.items():
        rs = sorted(rs, key=lambda r: r.effective_from)
        for a, b in itertools.pairwise(rs):
            if (a.effective_to or dt.date.max) > b.effective_from:
                raise ConfigFileError(
                    f"{path}: rates for {kind} ({service}) overlap ({a.effective_from} and "
                    f"{b.effective_from}); give the earlier entry an effective_to"
                )
