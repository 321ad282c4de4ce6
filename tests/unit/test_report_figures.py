"""The report's figures encode what they show honestly (issue 22: a budget at 135% of its limit was
drawn green): gauges coloured by each budget's own thresholds, money in USD with cents on every
money axis, axis titles and units everywhere. Read from the figures' JSON."""

import datetime as dt

import duckdb
import pytest

from sources.publishing.report import figures

GREEN, AMBER, RED = "#2ca02c", "#ff7f0e", "#d62728"
MONEY_FIGURES = ("spend_against_limit", "daily_cost", "cost_by_model", "cache_savings")


def _expected_colour(pct: float, thresholds: list[int]) -> str:
    """The rule, stated apart from the code: red at or over 100%, amber from the first warning
    threshold below 100%, green under it."""
    if pct >= 100:
        return RED
    below = sorted(t for t in thresholds if t < 100)
    return AMBER if below and pct >= below[0] else GREEN


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.budget_status as select * from (values
          ('org-monthly', 'organisation', 'organisation', 'month', date '2026-11-01',
           60.0, 81.0, 135.0, 270.0, [50, 80, 90, 100], true),
          ('proj-daily', 'project', 'proj_a', 'day', date '2026-11-03',
           10.0, 6.0, 60.0, 60.0, [50, 80, 90, 100], true),
          ('key-monthly', 'api_key', 'key_1', 'month', date '2026-11-01',
           100.0, 30.0, 30.0, 90.0, [50, 100], true),
          ('late-warning', 'project', 'proj_b', 'month', date '2026-11-01',
           100.0, 75.0, 75.0, 110.0, [80, 100], true),
          ('exactly-full', 'project', 'proj_c', 'day', date '2026-11-03',
           10.0, 10.0, 100.0, 100.0, [100], true)
        ) t(budget_id, scope, scope_id, period, period_start, limit_usd, spent_usd, pct_used,
            projected_pct, thresholds, is_current_period)
        """
    )
    con.execute(
        "alter table marts.budget_status add column projected_usd DECIMAL(18,9) default 162"
    )
    days = [dt.date(2026, 11, d) for d in (1, 2, 3)]
    con.execute(
        "create table marts.daily_totals as select * from (values "  # noqa: S608 (constants)
        + ", ".join(
            f"(date '{d}', {c}::DECIMAL(18,9), 0.1::DECIMAL(18,9), 0::DECIMAL(18,9), "
            f"0::DECIMAL(18,9), 0::DECIMAL(18,9), 1, 1, 10.0, 20.0, 30.0, 0.5, "
            f"{c}::DECIMAL(18,9))"
            for d, c in zip(days, (20, 30, 31), strict=True)
        )
        + ") t(day, ai_tokens_cost_usd, db_ops_cost_usd, api_calls_cost_usd, compute_cost_usd, "
        "other_cost_usd, interaction_count, session_count, llm_latency_p50_ms, "
        "llm_latency_p95_ms, llm_latency_p99_ms, cache_hit_rate, total_cost_usd)"
    )
    con.execute(
        "create table marts.model_daily as select date '2026-11-01' as day, "
        "'gpt-4o' as canonical_model, 1.25::DECIMAL(18,9) as cost_usd, 3::BIGINT as calls, "
        "0::BIGINT as unpriced_calls, 0.5::DECIMAL(18,9) as cache_savings_usd"
    )
    con.execute(
        "create table marts.user_stats as select 'u1' as user_id, "
        "2.5::DECIMAL(18,9) as lifetime_cost_usd"
    )
    return con


def test_every_gauge_has_its_budgets_colour(con):
    fig = figures(con)["budget_gauges"].to_plotly_json()
    rows = con.execute(
        "select budget_id, pct_used, thresholds from marts.budget_status order by 1, 2"
    ).fetchall()
    gauges = {t["title"]["text"].split("<br>")[0]: t for t in fig["data"]}
    assert set(gauges) == {r[0] for r in rows}
    for budget_id, pct, thresholds in rows:
        gauge = gauges[budget_id]
        assert gauge["gauge"]["bar"]["color"] == _expected_colour(pct, thresholds), budget_id
        assert gauge["number"]["suffix"] == "%"
    assert gauges["org-monthly"]["gauge"]["bar"]["color"] == RED  # the 135% budget
    assert gauges["exactly-full"]["gauge"]["bar"]["color"] == RED  # at 100%


def test_money_axes_are_usd_with_cents_and_every_axis_has_a_title(con):
    figs = {k: v.to_plotly_json() for k, v in figures(con).items() if v is not None}
    for name in MONEY_FIGURES:
        if name not in figs:
            continue
        layout = figs[name]["layout"]
        money = [a for k, a in layout.items() if k.startswith(("xaxis", "yaxis"))]
        assert any(
            a.get("tickprefix") == "$" and a.get("tickformat") == ",.2f"
            and a.get("title", {}).get("text") == "USD"
            for a in money
        ), name  # fmt: skip
    for name, fig in figs.items():
        if name == "budget_gauges":
            continue
        for key, axis in fig["layout"].items():
            if key.startswith(("xaxis", "yaxis")):
                assert axis.get("title", {}).get("text"), (name, key)
    top_users = figs["top_users"]["layout"]["xaxis"]
    assert (top_users["tickprefix"], top_users["tickformat"]) == ("$", ",.2f")


def test_spend_against_limit_shows_the_limit_and_the_projection(con):
    fig = figures(con)["spend_against_limit"].to_plotly_json()
    traces = {t["name"]: t for t in fig["data"]}
    assert list(traces["spend so far"]["y"]) == [20.0, 50.0, 81.0]  # running total_cost_usd
    assert set(traces["limit"]["y"]) == {60.0}
    assert list(traces["projection (run rate)"]["y"]) == [81.0, 162.0]
    assert str(traces["limit"]["x"][-1]) == "2026-11-30"  # the month's last day


def test_cost_by_model_covers_every_day_of_the_report(con):
    """From model_daily (never archived), so archived days count as in the header's totals."""
    con.execute(
        "insert into marts.model_daily values "
        "(date '2026-11-02', 'gpt-4o', 0.75, 2, 0, 0), (date '2026-11-02', 'mystery', 2, 1, 1, 0)"
    )
    bar = figures(con)["cost_by_model"].data[0]
    assert list(bar["x"]) == ["gpt-4o", "mystery (no price)"]
    assert list(bar["y"]) == [2.0, 2.0] and list(bar["text"]) == [5, 1]
