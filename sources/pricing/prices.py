"""Prices as tables SQL can join: LLM prices from genai-prices, custom prices, a non-LLM rate card.

LLM prices. genai-prices resolves a model's price for a request from conditional prices (by start
date or time of day) and request variants (`service_tier`, `processing=batch`). Rather than
re-implementing that resolution, each model's timeline is cut at every date and time-of-day
boundary its data names, and genai-prices' own `ModelInfo.get_prices(timestamp, context)` is asked
once per piece and context. SQL then only has to find the piece a request falls in, pick the tier
by the request's input tokens and multiply. Prices are stored per unit (per token, per request)
as exact decimals, so SQL never divides.

Only the price keys that the application's token fields can reach are kept (PRICE_KEYS); a model
whose price has another key that text usage would reach (`unsupported_keys`) is left out and
listed by the asset check every_genai_price_flattened, so its calls show as unpriced, never as
undercharged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import genai_prices
import httpx2
import pandas as pd
from genai_prices import data_snapshot
from genai_prices.types import (
    ConditionalPrice,
    ModelInfo,
    ModelPrice,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
)

from sources.warehouse import transaction
from sources.yaml_lines import (
    ConfigFileError,
    date_field,
    decimal_field,
    entries,
    load_with_lines,
)

# price key -> (column stem, units per price)
PRICE_KEYS: dict[str, tuple[str, int]] = {
    "input_mtok": ("input", 1_000_000),
    "cache_read_mtok": ("cache_read", 1_000_000),
    "cache_write_mtok": ("cache_write", 1_000_000),
    "cache_write_1h_mtok": ("cache_write_1h", 1_000_000),
    "output_mtok": ("output", 1_000_000),
    "output_reasoning_mtok": ("output_reasoning", 1_000_000),
    "requests_kcount": ("request", 1_000),
}
MAX_TIERS = 2
CONTEXT_KEYS = ("service_tier", "processing")
DAY_SECONDS = 86_400
PRICE_SCALE = Decimal(10) ** -18  # DECIMAL(38,18)


def _per_unit(value: Decimal, per: int) -> Decimal:
    """Price per single unit, at the 18 decimals SQL stores.

    A handful of third-party listings carry float artifacts (0.18000000000000002 per MTok); those
    are rounded at 1e-18 USD per unit, which moves a million-token request by under 1e-11 USD.
    """
    return (value / per).quantize(PRICE_SCALE)


def _price_columns(mp: ModelPrice) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for key, (stem, per) in PRICE_KEYS.items():
        value = getattr(mp, key, None)
        tiers: list[Any] = []
        if isinstance(value, TieredPrices):
            base, tiers = value.base, sorted(value.tiers, key=lambda t: t.start)
            if len(tiers) > MAX_TIERS:
                raise ValueError(f"{key} has {len(tiers)} tiers; at most {MAX_TIERS} supported")
        else:
            base = value
        cols[f"{stem}_base"] = None if base is None else _per_unit(base, per)
        for i in range(MAX_TIERS):
            tier = tiers[i] if i < len(tiers) else None
            cols[f"{stem}_t{i + 1}_start"] = None if tier is None else tier.start
            cols[f"{stem}_t{i + 1}"] = None if tier is None else _per_unit(tier.price, per)
    return cols


def _constraints(model: ModelInfo) -> Iterator[object]:
    if not isinstance(model.prices, ModelPrice):
        for cp in model.prices:
            assert isinstance(cp, ConditionalPrice)
            yield cp.constraint
    for v in model.price_variants or ():
        yield v.constraint


def _seconds(t: dt.time) -> int:
    """Seconds after UTC midnight (naive times are UTC, as in genai-prices)."""
    secs = t.hour * 3600 + t.minute * 60 + t.second
    offset = t.utcoffset()
    if offset:
        secs -= int(offset.total_seconds())
    return secs % DAY_SECONDS


def _breakpoints(model: ModelInfo) -> tuple[list[dt.date], list[int]]:
    dates: set[dt.date] = set()
    secs: set[int] = {0}
    for c in _constraints(model):
        if isinstance(c, StartDateConstraint):
            dates.add(c.start_date)
        elif isinstance(c, TimeOfDateConstraint):
            secs.update({_seconds(c.start_time), _seconds(c.end_time)})
    return sorted(dates), sorted(secs)


def _contexts(model: ModelInfo) -> list[tuple[str, str] | None]:
    found = {
        (k, v)
        for variant in model.price_variants or ()
        for k, v in variant.when.items()
        if k in CONTEXT_KEYS and len(variant.when) == 1
    }
    return [None, *sorted(found)]


def unsupported_keys(mp: ModelPrice) -> set[str]:
    """Price keys that text usage reaches but the SQL does not price (none in today's data)."""
    text_keys = {
        "input_text_mtok",
        "output_text_mtok",
        "cache_text_read_mtok",
        "cache_write_5m_mtok",
    }
    return {k for k, v in mp.__dict__.items() if v is not None and k in text_keys}


@dataclass(frozen=True)
class PriceRow:
    provider_id: str
    model_id: str
    source: str
    context_key: str | None
    context_value: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    seconds_from: int
    seconds_to: int
    prices: dict[str, Any]

    @property
    def price_row_id(self) -> str:
        raw = json.dumps(
            [
                self.source,
                self.provider_id,
                self.model_id,
                self.context_key,
                self.context_value,
                str(self.valid_from),
                self.seconds_from,
            ],
        )
        return hashlib.md5(raw.encode()).hexdigest()


def flatten_model(provider_id: str, model: ModelInfo) -> list[PriceRow]:
    dates, secs = _breakpoints(model)
    # Date pieces: (-inf, d0), [d0, d1), ..., [dn, +inf); a representative date inside each.
    pieces: list[tuple[dt.date | None, dt.date | None, dt.date]] = []
    edges: list[dt.date | None] = [None, *dates, None]
    for lo, hi in itertools.pairwise(edges):
        rep = lo if lo is not None else (hi - dt.timedelta(days=1) if hi else dt.date(2000, 1, 1))
        pieces.append((lo, hi, rep))
    seconds = [*secs, DAY_SECONDS]
    rows: list[PriceRow] = []
    for lo, hi, rep in pieces:
        for s_lo, s_hi in itertools.pairwise(seconds):
            at = dt.datetime.combine(rep, dt.time(), tzinfo=dt.UTC) + dt.timedelta(seconds=s_lo)
            for ctx in _contexts(model):
                mp = model.get_prices(at, dict([ctx]) if ctx else None)
                if unsupported := unsupported_keys(mp):
                    # Pricing without these keys would undercharge: leave the model unpriced
                    # (its calls are listed by the llm_calls_priced check) and report it.
                    raise ValueError(f"price keys the SQL does not model: {sorted(unsupported)}")
                rows.append(
                    PriceRow(
                        provider_id,
                        model.id,
                        "genai-prices",
                        ctx[0] if ctx else None,
                        ctx[1] if ctx else None,
                        lo,
                        hi,
                        s_lo,
                        s_hi,
                        _price_columns(mp),
                    )
                )
    return rows


def fetch_genai_prices(url: str, timeout_seconds: float = 30.0) -> data_snapshot.DataSnapshot:
    """genai-prices' own online update (`UpdatePrices.fetch`), once, from `url`.

    Raises PriceUpdateError naming only the host (a URL may carry a token) and what to do.
    """
    host = urlsplit(url).netloc or url
    updater = genai_prices.UpdatePrices(
        url=url, request_timeout=httpx2.Timeout(timeout=timeout_seconds, connect=5)
    )
    try:
        snapshot = updater.fetch()
    except httpx2.HTTPStatusError as exc:
        raise PriceUpdateError(
            f"price update from {host} answered HTTP {exc.response.status_code}"
        ) from None
    except httpx2.HTTPError as exc:
        raise PriceUpdateError(f"price update from {host} failed ({type(exc).__name__})") from None
    except (ValueError, TypeError) as exc:  # not JSON, or not genai-prices' provider list
        raise PriceUpdateError(
            f"price update from {host} returned data genai-prices cannot read "
            f"({type(exc).__name__})"
        ) from None
    if snapshot is None or not snapshot.providers:
        raise PriceUpdateError(f"price update from {host} returned no providers")
    return snapshot


class PriceUpdateError(RuntimeError):
    """The online price update failed; the message is safe to log (host, status, kind only)."""


def genai_rows_digest(rows: list[PriceRow]) -> str:
    """A short content hash of flattened price rows: equal data, equal digest."""
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: r.price_row_id):
        h.update(
            json.dumps([r.price_row_id, r.valid_to, r.seconds_to, r.prices], default=str).encode()
        )
    return h.hexdigest()[:12]


def rates_digest(rates: list[Rate]) -> str:
    """A short content hash of rate card rows (the file's `version` may stay the same)."""
    text = json.dumps(sorted([list(map(str, astuple(r))) for r in rates]))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def flatten_genai_prices(
    snapshot: data_snapshot.DataSnapshot | None = None,
) -> tuple[list[PriceRow], list[str]]:
    """Every model of genai-prices' data (bundled unless a fetched `snapshot` is given); plus the
    models with unsupported price keys."""
    rows: list[PriceRow] = []
    problems: list[str] = []
    for provider in (snapshot or data_snapshot.get_snapshot()).providers:
        for model in provider.models:
            try:
                rows.extend(flatten_model(provider.id, model))
            except ValueError as exc:  # e.g. more tiers than the SQL models
                problems.append(f"{provider.id}/{model.id}: {exc}")
    return rows, problems


# --------------------------------------------------------------------------------------------
# Custom prices and the rate card (YAML files, validated with the line of each entry)
# --------------------------------------------------------------------------------------------


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
                _price_columns(mp),
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
        for name, (kind, per) in RATE_FIELDS.items():
            if name in item:
                value = decimal_field(item[name], where, name)
                rates.append(Rate(start, end, kind, "*", _per_unit(value, per)))
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
    return str(doc["version"]), rates


# --------------------------------------------------------------------------------------------
# Warehouse tables
# --------------------------------------------------------------------------------------------


def _price_column_names() -> list[str]:
    cols = []
    for stem, _ in PRICE_KEYS.values():
        cols.append(f"{stem}_base")
        for i in range(1, MAX_TIERS + 1):
            cols += [f"{stem}_t{i}_start", f"{stem}_t{i}"]
    return cols


def _exact_text(value: Decimal | int | None) -> str | None:
    """A price as text DuckDB casts without rounding (no exponent)."""
    if value is None:
        return None
    return format(value, "f") if isinstance(value, Decimal) else str(value)


# The columns of raw.llm_prices before the prices, in table order: name -> (type, nullable).
ROW_COLUMNS = {
    "price_row_id": ("VARCHAR", False),
    "provider_id": ("VARCHAR", False),
    "model_id": ("VARCHAR", False),
    "source": ("VARCHAR", False),
    "context_key": ("VARCHAR", True),
    "context_value": ("VARCHAR", True),
    "valid_from": ("DATE", True),
    "valid_to": ("DATE", True),
    "seconds_from": ("INTEGER", False),
    "seconds_to": ("INTEGER", False),
}


def write_llm_prices(con: duckdb.DuckDBPyConnection, rows: list[PriceRow], version: str) -> int:
    """Replace raw.llm_prices with `rows` (one transaction)."""
    price_cols = _price_column_names()
    types = {c: t for c, (t, _) in ROW_COLUMNS.items()} | {
        c: "BIGINT" if c.endswith("_start") else "DECIMAL(38,18)" for c in price_cols
    }
    nullable = {c for c, (_, null_ok) in ROW_COLUMNS.items() if null_ok} | set(price_cols)
    columns = ", ".join(f"{c} {t}{'' if c in nullable else ' not null'}" for c, t in types.items())
    ddl = (
        f"create or replace table raw.llm_prices ({columns}, "
        "pricing_source_version VARCHAR not null)"
    )
    # executemany costs ~2 ms a row here (6 s for genai-prices): load a DataFrame of exact decimal
    # strings instead and let DuckDB cast them (same values, ~50 ms)
    frame = pd.DataFrame(
        {
            **{c: [getattr(r, c) for r in rows] for c in ROW_COLUMNS},
            **{c: [_exact_text(r.prices[c]) for r in rows] for c in price_cols},
        },
        columns=list(types),
    ).astype(object)
    casts = ", ".join(f"{c}::{t}" for c, t in types.items())
    insert = f"insert into raw.llm_prices select {casts}, $version from frame"  # noqa: S608 (constant columns)
    con.execute("create schema if not exists raw")
    with transaction(con):
        con.execute(ddl)  # column names are constants of this module
        con.register("frame", frame)
        try:
            con.execute(insert, {"version": version})
        finally:
            con.unregister("frame")
    return len(rows)


def read_fetched_genai_rows(con: duckdb.DuckDBPyConnection) -> tuple[list[PriceRow], str] | None:
    """The genai-prices rows of the last successful online update still in raw.llm_prices, with
    their version (None when the table holds bundled data or does not exist yet)."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = 'llm_prices'"
    ).fetchall()[0][0]
    if not exists:
        return None
    price_cols = _price_column_names()
    cur = con.execute(
        "select provider_id, model_id, source, context_key, context_value, valid_from, valid_to, "  # noqa: S608 (constant columns)
        f"seconds_from, seconds_to, {', '.join(price_cols)}, pricing_source_version "
        "from raw.llm_prices where source = 'genai-prices' order by price_row_id"
    )
    records = cur.fetchall()
    if not records or FETCHED_MARK not in records[0][-1]:
        return None
    rows = [
        PriceRow(*rec[:9], prices=dict(zip(price_cols, rec[9:-1], strict=True))) for rec in records
    ]
    return rows, records[0][-1].split(";custom=")[0]


@dataclass(frozen=True)
class GenaiPrices:
    rows: list[PriceRow]
    problems: list[str]
    version: str
    origin: str  # "bundled", "fetched from <host>", "kept from the last update"
    update_error: str | None = None


def genai_prices_for_refresh(con: duckdb.DuckDBPyConnection, update_url: str) -> GenaiPrices:
    """The genai-prices rows a refresh writes.

    No `update_url`: the data bundled with the pinned package. With one: genai-prices' online
    update; when that fails, the rows of the last successful update already in the warehouse (so
    prices never flap back to older bundled data), else the bundled data; `update_error` says why.
    """
    if not update_url:
        rows, problems = flatten_genai_prices()
        return GenaiPrices(rows, problems, genai_prices_version(), "bundled")
    try:
        snapshot = fetch_genai_prices(update_url)
    except PriceUpdateError as exc:
        kept = read_fetched_genai_rows(con)
        if kept is not None:
            return GenaiPrices(kept[0], [], kept[1], "kept from the last update", str(exc))
        rows, problems = flatten_genai_prices()
        return GenaiPrices(rows, problems, genai_prices_version(), "bundled", str(exc))
    rows, problems = flatten_genai_prices(snapshot)
    host = urlsplit(update_url).netloc
    return GenaiPrices(rows, problems, genai_prices_version(rows), f"fetched from {host}")


def write_rate_card(con: duckdb.DuckDBPyConnection, rates: list[Rate], version: str) -> int:
    con.execute("create schema if not exists raw")
    with transaction(con):
        con.execute(
            """
            create or replace table raw.rate_card (
              effective_from DATE not null, effective_to DATE, kind VARCHAR not null,
              service VARCHAR not null, usd_per_unit DECIMAL(38,18) not null,
              rate_card_version VARCHAR not null
            )"""
        )
        if rates:
            con.executemany(
                "insert into raw.rate_card values (?, ?, ?, ?, ?, ?)",
                [
                    (r.effective_from, r.effective_to, r.kind, r.service, r.usd_per_unit, version)
                    for r in rates
                ],
            )
    return len(rates)


FETCHED_MARK = "+data:"


def genai_prices_version(fetched_rows: list[PriceRow] | None = None) -> str:
    """`genai-prices=<package version>`, plus `+data:<digest>` for data from an online update."""
    base = f"genai-prices={genai_prices.__version__}"
    if fetched_rows is None:
        return base
    return f"{base}{FETCHED_MARK}{genai_rows_digest(fetched_rows)}"
