"""The warehouse's money type (`money()`, dbt_project/macros/money.sql) goes through DECIMAL(38,9)
because DuckDB does that faster than the direct cast: these tests hold it to the direct cast's
value for every kind of input the models give it, rounding halves included."""

from __future__ import annotations

import re

import duckdb
import pytest

from sources.settings import DBT_PROJECT_DIR

MACRO = DBT_PROJECT_DIR / "macros" / "money.sql"


def _body(macro: str) -> str:
    return re.search(
        rf"\{{% macro {macro}\(expr\) -%\}}(.*?)\{{%- endmacro %\}}", MACRO.read_text(), re.S
    ).group(1)


def money_sql(expr: str) -> str:
    """The macro's SQL for `expr`, as dbt renders it."""
    return _body("money").strip().replace("{{ expr }}", expr)


def money_of_exact_sql(expr: str) -> str:
    """`money_of_exact`'s SQL for `expr` (it calls `money`), as dbt renders it."""
    body = _body("money_of_exact").replace("{{ money(expr) }}", money_sql(expr))
    return body.strip().replace("{{ expr }}", expr)


# (input type, values): the exact amounts (DECIMAL(38,18)) and the rest the models pass
CASES = {
    "DECIMAL(38,18)": [
        "0.0000000005",
        "-0.0000000005",
        "0.0000000015",
        "0.000000000499999999",
        "-0.000000001499999999",
        "123456789.123456789500000000",
        "999999999.999999999499999999",
        "-999999999.999999999499999999",
        "0",
    ],
    "DOUBLE": ["0.1", "1e-10", "5e-10", "-5e-10", "1.5e-9", "123456.7890123456", "-2.5e-9"],
    "DECIMAL(18,3)": ["12.345", "-0.001"],
    "BIGINT": ["0", "-7", "999999999"],
}


@pytest.mark.parametrize("sql_type", CASES)
def test_money_equals_the_direct_cast(sql_type: str):
    with duckdb.connect() as con:
        rows = con.execute(
            f"select v, cast(v as decimal(18, 9)), {money_sql('v')} "  # noqa: S608 (constants)
            f"from (select unnest($v)::{sql_type} as v)",
            {"v": CASES[sql_type]},
        ).fetchall()
    assert len(rows) == len(CASES[sql_type])
    assert [(v, direct) for v, direct, _ in rows] == [(v, m) for v, _, m in rows]


def test_money_on_random_exact_amounts_equals_the_direct_cast():
    """200,000 exact amounts over 18 orders of magnitude, both signs."""
    with duckdb.connect() as con:
        differing = con.execute(
            f"""
            select count(*) filter (where cast(v as decimal(18, 9)) <> {money_sql("v")}),
                   count(*)
            from (select (((i * 7919) % 200003 - 100001) * pow(10, (i % 18) - 14))
                         ::DECIMAL(38, 18) as v from range(200000) t(i))
            """  # noqa: S608 (constants)
        ).fetchone()
    assert differing == (0, 200000)


def test_money_beyond_its_range_fails_as_the_direct_cast_does():
    with duckdb.connect() as con:
        for expr in ("cast(v as decimal(18, 9))", money_sql("v")):
            with pytest.raises(duckdb.ConversionException):
                con.execute(f"select {expr} from (select 1e9::DECIMAL(38,18) as v)")  # noqa: S608


def test_money_of_an_exact_amount_equals_the_direct_cast():
    """The exact amounts' fast path (under 1 USD: 64-bit) and the rest, around its bounds too:
    the same value as the direct cast, every case of the exact amounts and 200,000 more."""
    amounts = [
        *CASES["DECIMAL(38,18)"],
        "0.999999999499999999",
        "0.9999999995",
        "-0.999999999999999999",
        "1",
        "-1",
        "1.0000000005",
    ]
    with duckdb.connect() as con:
        rows = con.execute(
            f"select cast(v as decimal(18, 9)), {money_of_exact_sql('v')} "  # noqa: S608
            "from (select unnest($v)::DECIMAL(38, 18) as v)",
            {"v": amounts},
        ).fetchall()
        differing = con.execute(
            f"""
            select count(*) filter (where cast(v as decimal(18, 9)) <> {money_of_exact_sql("v")}),
                   count(*) filter (where v > -1 and v < 1)
            from (select (((i * 7919) % 200003 - 100001) * pow(10, (i % 18) - 14))
                         ::DECIMAL(38, 18) as v from range(200000) t(i))
            """  # noqa: S608 (constants)
        ).fetchone()
    assert len(rows) == len(amounts)
    assert [direct for direct, _ in rows] == [fast for _, fast in rows]
    assert differing[0] == 0 and 0 < differing[1] < 200000  # both paths taken
