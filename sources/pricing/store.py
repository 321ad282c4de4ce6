"""The price tables of the warehouse (raw.llm_prices, raw.rate_card): written whole in one
transaction, as exact decimals.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import duckdb

from sources.pricing.files import Rate
from sources.pricing.genai import FETCHED_MARK, MAX_TIERS, PRICE_KEYS, PriceRow
from sources.warehouse import transaction


def price_column_names() -> list[str]:
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


def _contents_digest(ddl: str, rows: list[PriceRow], version: str, price_cols: list[str]) -> str:
    """What raw.llm_prices would hold, hashed: its definition, every value as written, the
    version."""
    digest = hashlib.sha256(f"{ddl}\n{version}\n".encode())
    for r in rows:
        values = [getattr(r, c) for c in ROW_COLUMNS]
        values += [_exact_text(r.prices[c]) for c in price_cols]
        line = "\x1f".join("\x00" if v is None else str(v) for v in values)
        digest.update(f"{line}\n".encode())
    return digest.hexdigest()


def _stored_digest(con: duckdb.DuckDBPyConnection) -> str | None:
    found = con.execute(
        "select comment from duckdb_tables() "
        "where database_name = current_database() and schema_name = 'raw' "
        "and table_name = 'llm_prices'"
    ).fetchall()
    return found[0][0] if found else None


def write_llm_prices(con: duckdb.DuckDBPyConnection, rows: list[PriceRow], version: str) -> int:
    """Replace raw.llm_prices with `rows` (one transaction), unless it holds them already: every
    run loads the prices, and they rarely change (the table's comment is the digest of what it
    holds)."""
    price_cols = price_column_names()
    types = {c: t for c, (t, _) in ROW_COLUMNS.items()} | {
        c: "BIGINT" if c.endswith("_start") else "DECIMAL(38,18)" for c in price_cols
    }
    nullable = {c for c, (_, null_ok) in ROW_COLUMNS.items() if null_ok} | set(price_cols)
    columns = ", ".join(f"{c} {t}{'' if c in nullable else ' not null'}" for c, t in types.items())
    ddl = (
        f"create or replace table raw.llm_prices ({columns}, "
        "pricing_source_version VARCHAR not null)"
    )
    digest = _contents_digest(ddl, rows, version, price_cols)
    if _stored_digest(con) == digest:
        return len(rows)
    # executemany costs ~2 ms a row here (6 s for genai-prices): load a DataFrame of exact decimal
    # strings instead and let DuckDB cast them (same values, ~50 ms). pandas is imported here, not
    # with the module: every `costwatch` command loads this module, few write prices (0.3-0.6 s)
    import pandas as pd

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
        con.execute(f"comment on table raw.llm_prices is '{digest}'")  # hex digits only
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
    price_cols = price_column_names()
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
