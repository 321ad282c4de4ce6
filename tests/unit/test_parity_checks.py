"""Each parity check passes and fails on purpose, read from its mart (issue 23): the statuses
themselves are dbt unit tests (parity_daily, cost_parity_daily); here, what each check does with
them for a run's days."""

import datetime as dt
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from assets.providers.parity import COSTS, MISSING, REQUESTS, TABLE_ROWS, TOKENS, evaluate

D1, D2, D3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema marts")
    c.execute(
        "create table marts.parity_daily (day DATE, provider VARCHAR, canonical_model VARCHAR, "
        "api_key_id VARCHAR, app_input_tokens BIGINT, provider_input_tokens BIGINT, "
        "input_diff_pct DOUBLE, app_output_tokens BIGINT, provider_output_tokens BIGINT, "
        "output_diff_pct DOUBLE, app_requests BIGINT, provider_requests BIGINT, "
        "requests_diff_pct DOUBLE, status VARCHAR, requests_status VARCHAR)"
    )
    rows = [  # day, model, status, requests_status
        (D1, "m-ok", "ok", "ok"), (D1, "m-warn", "warn", "ok"), (D2, "m-fail", "fail", "fail"),
        (D2, "m-req", "ok", "fail"), (D3, "m-missing", "missing_app", None),
        (D3, "m-scope", "out_of_scope", "fail"),
    ]  # fmt: skip
    for day, model, status, requests in rows:
        c.execute(
            "insert into marts.parity_daily values "
            "(?, 'openai', ?, 'k1', 1, 1, 0.0, 1, 1, 0.0, 1, 1, 0.0, ?, ?)",
            [day, model, status, requests],
        )
    c.execute(
        "create table marts.cost_parity_daily (day DATE, provider VARCHAR, "
        "billed_tokens_usd DECIMAL(18,9), app_usd DECIMAL(18,9), diff_pct DOUBLE, status VARCHAR, "
        "non_token_usd DECIMAL(18,9), out_of_scope_usd DECIMAL(18,9), "
        "anthropic_priority_usd DECIMAL(18,9))"
    )
    c.execute(
        "insert into marts.cost_parity_daily values "
        "(?, 'openai', 100, 101.9, 1.9, 'ok', 7, 0, 0), "
        "(?, 'openai', 100, 102.1, 2.1, 'fail', 0, 0, 0)",
        [D1, D2],
    )
    yield c
    c.close()


def _table(result: dg.AssetCheckResult) -> list[dict]:
    return [r.data for r in result.metadata["variance_table"].value.records]


def test_token_parity_fails_on_fail_rows_only_and_counts_warnings(con):
    result, days = evaluate(con, TOKENS, D1, D3)
    assert not result.passed and days == {str(D2)}
    assert result.metadata["failing_rows"].value == 1
    assert result.metadata["warning_rows"].value == 1
    assert [r["canonical_model"] for r in _table(result)] == ["m-fail"]
    assert result.metadata["status_counts"].value == {
        "fail": 1, "missing_app": 1, "ok": 2, "out_of_scope": 1, "warn": 1,
    }  # fmt: skip
    passing, none = evaluate(con, TOKENS, D1, D1)  # warnings alone do not fail
    assert passing.passed and none == set() and _table(passing) == []


def test_requests_parity_ignores_out_of_scope_and_missing_rows(con):
    result, days = evaluate(con, REQUESTS, D1, D3)
    assert not result.passed and days == {str(D2)}
    assert sorted(r["canonical_model"] for r in _table(result)) == ["m-fail", "m-req"]
    assert evaluate(con, REQUESTS, D3, D3)[0].passed  # out_of_scope's requests_status is not read


def test_missing_windows_fails_on_one_sided_usage(con):
    result, days = evaluate(con, MISSING, D1, D3)
    assert not result.passed and days == {str(D3)}
    assert result.metadata["missing_rows"].value == 1
    assert evaluate(con, MISSING, D1, D2)[0].passed


def test_cost_parity_fails_on_its_fail_days_and_shows_money_exactly(con):
    result, days = evaluate(con, COSTS, D1, D3)
    assert not result.passed and days == {str(D2)}
    (row,) = _table(result)
    assert row["app_usd"] == "102.100000000" and Decimal(row["billed_tokens_usd"]) == 100
    assert row["day"] == "2026-11-02" and row["diff_pct"] == 2.1
    assert evaluate(con, COSTS, D1, D1)[0].passed


def test_a_long_failure_list_is_cut_and_counted(con):
    con.execute("delete from marts.parity_daily")
    for i in range(TABLE_ROWS + 7):
        con.execute(
            "insert into marts.parity_daily values "
            "(?, 'openai', ?, 'k1', 1, 1, 0.0, 1, 1, 0.0, 1, 1, 0.0, 'fail', 'ok')",
            [D1, f"m{i:03}"],
        )
    result, _ = evaluate(con, TOKENS, D1, D1)
    assert len(_table(result)) == TABLE_ROWS
    assert result.metadata["rows_not_shown"].value == 7
    assert result.metadata["failing_rows"].value == TABLE_ROWS + 7
