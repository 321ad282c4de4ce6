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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import genai_prices
import httpx2
from genai_prices import data_snapshot
from genai_prices.types import (
    ConditionalPrice,
    ModelInfo,
    ModelPrice,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
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


def per_unit(value: Decimal, per: int) -> Decimal:
    """Price per single unit, at the 18 decimals SQL stores.

    A handful of third-party listings carry float artifacts (0.18000000000000002 per MTok); those
    are rounded at 1e-18 USD per unit, which moves a million-token request by under 1e-11 USD.
    """
    return (value / per).quantize(PRICE_SCALE)


def price_columns(mp: ModelPrice) -> dict[str, Any]:
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
        cols[f"{stem}_base"] = None if base is None else per_unit(base, per)
        for i in range(MAX_TIERS):
            tier = tiers[i] if i < len(tiers) else None
            cols[f"{stem}_t{i + 1}_start"] = None if tier is None else tier.start
            cols[f"{stem}_t{i + 1}"] = None if tier is None else per_unit(tier.price, per)
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
                        price_columns(mp),
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


FETCHED_MARK = "+data:"


def genai_prices_version(fetched_rows: list[PriceRow] | None = None) -> str:
    """`genai-prices=<package version>`, plus `+data:<digest>` for data from an online update."""
    base = f"genai-prices={genai_prices.__version__}"
    if fetched_rows is None:
        return base
    return f"{base}{FETCHED_MARK}{genai_rows_digest(fetched_rows)}"
