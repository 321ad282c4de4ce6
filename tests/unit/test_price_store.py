"""raw.llm_prices is written whole, and only when what it would hold changes (every run loads the
prices; they rarely change)."""

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb

from sources.pricing.genai import PriceRow
from sources.pricing.store import price_column_names, write_llm_prices


def _rows(input_price: str) -> list[PriceRow]:
    prices = dict.fromkeys(price_column_names())
    prices["input_base"] = Decimal(input_price)
    prices["output_base"] = Decimal("0.000015")
    return [
        PriceRow("openai", "gpt-x", "custom", None, None, dt.date(2026, 1, 1), None, 0, 86_400,
                 prices),
        PriceRow("anthropic", "claude-x", "custom", None, None, None, None, 0, 86_400,
                 dict(prices)),
    ]  # fmt: skip


def _table(con: duckdb.DuckDBPyConnection) -> tuple[int, list[tuple]]:
    """The table's identity (a replaced table is a new one) and its rows."""
    (oid,) = con.execute(
        "select table_oid from duckdb_tables() where schema_name = 'raw' "
        "and table_name = 'llm_prices'"
    ).fetchone()
    rows = con.execute(
        "select model_id, input_base, output_base, pricing_source_version "
        "from raw.llm_prices order by model_id"
    ).fetchall()
    return oid, rows


def test_the_same_prices_are_not_written_again_and_any_change_is(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert write_llm_prices(con, _rows("0.000003"), "v1") == 2
        first, rows = _table(con)
        assert rows == [
            ("claude-x", Decimal("0.000003"), Decimal("0.000015"), "v1"),
            ("gpt-x", Decimal("0.000003"), Decimal("0.000015"), "v1"),
        ]
        assert write_llm_prices(con, _rows("0.000003"), "v1") == 2
        assert _table(con) == (first, rows)  # not replaced
        # a price, a validity date, the version: each one replaces the table
        changes = [
            (_rows("0.0000031"), "v1"),
            ([dataclasses.replace(_rows("0.0000031")[0], valid_from=None), _rows("0")[1]], "v1"),
            ([dataclasses.replace(_rows("0.0000031")[0], valid_from=None), _rows("0")[1]], "v2"),
        ]
        seen = {first}
        for rows_, version in changes:
            write_llm_prices(con, rows_, version)
            oid, written = _table(con)
            assert oid not in seen
            seen.add(oid)
            assert [r[3] for r in written] == [version, version]
        assert written[0][1] == Decimal("0")  # claude-x, the last change's rows
