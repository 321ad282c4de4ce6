"""Which genai-prices rows a refresh writes: the bundled data, or genai-prices' online update
with a fallback to the last successful one (prices never flap back to older bundled data).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import duckdb

from sources.pricing.genai import (
    PriceRow,
    PriceUpdateError,
    fetch_genai_prices,
    flatten_genai_prices,
    genai_prices_version,
)
from sources.pricing.store import read_fetched_genai_rows


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
