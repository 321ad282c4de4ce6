"""Closed months on data that crosses a month boundary, by real runs: October closes once the
data reaches 3 days past its end; a provider correction that arrives later is a row of its own
and the close row is never rewritten; a rerun adds nothing. On the same runs, the per-user month
rollup (int_user_months) and the lifetime figures built from it stay equal to daily_stats, also
when the rollup is first built by a run of one day (a warehouse from before it), and budget spend
for every scope and period (int_budget_spend: months summed from per-day spend rows, single calls
only for the budget scoped to one call) equals sums computed here from the cost rows."""

import dataclasses
import datetime as dt
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import dagster as dg
import duckdb
import pytest

from sources.demo.provider_sample import provider_reports
from sources.demo.reference_prices import calc_price_per_call
from sources.demo.sample_data import generate
from sources.providers.rows import CostRow
from tests.conftest import Home

pytestmark = pytest.mark.slow

NINE = Decimal("1e-9")
START = dt.date(2026, 10, 31)  # Oct 31 .. Nov 3: October closes on Nov 3 (grace 3 days)


BUDGETS = """\
version: "2026-11-01"
default_thresholds: [50, 80, 90, 100]
budgets:
  - id: org-monthly
    scope: organisation
    period: month
    limit_usd: "60"
  - id: key-daily-tokens
    scope: api_key
    period: day
    limit_tokens: 100000
  - id: project-monthly
    scope: project
    period: month
    limit_usd: "5"
  - id: user-daily
    scope: user
    period: day
    limit_usd: "1"
  - id: session-usd
    scope: session
    period: session
    limit_usd: "0.02"
    thresholds: [5]
  - id: call-usd
    scope: interaction
    period: session
    limit_usd: "0.002"
    thresholds: [5]
"""
# budget -> (scope, period, limit_usd, limit_tokens, lowest threshold)
LIMITS = {
    "org-monthly": ("organisation", "month", Decimal(60), None, 50),
    "key-daily-tokens": ("api_key", "day", None, 100000, 50),
    "project-monthly": ("project", "month", Decimal(5), None, 50),
    "user-daily": ("user", "day", Decimal(1), None, 50),
    "session-usd": ("session", "session", Decimal("0.02"), None, 5),
    "call-usd": ("interaction", "session", Decimal("0.002"), None, 5),
}


def _expected(costs: list[tuple], session_days: dict[str, dt.date]) -> dict[tuple, tuple]:
    spent: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    for event_id, day, user, session, project, key, usd, tokens in costs:
        for budget, (scope, period, *_) in LIMITS.items():
            scope_id = {
                "organisation": "organisation",
                "project": project,
                "api_key": key,
                "user": user,
                "session": session,
                "interaction": event_id,
            }[scope]
            if scope_id is None:
                continue
            start = {
                "day": day,
                "month": day.replace(day=1),
                "session": session_days.get(session, day),
            }[period]
            row = spent[(budget, scope, scope_id, period, start)]
            row[0] += usd
            row[1] += tokens
    out = {}
    for key, (usd, tokens) in spent.items():
        _, _, limit_usd, limit_tokens, lowest = LIMITS[key[0]]
        pct = 100 * usd / limit_usd if limit_usd is not None else 100 * tokens / limit_tokens
        if key[1] in ("session", "interaction") and pct < lowest:
            continue
        out[key] = (usd, tokens)
    return out


def _budgets(home: Home) -> dict[str, str]:
    """The runs' budgets: one for every scope (the repository's file has no API key or
    single-call budget)."""
    path = home.root / "budgets.yaml"
    if not path.exists():
        path.write_text(BUDGETS)
    return {"COSTWATCH_BUDGETS": str(path)}


def _budget_spend_adds_up(home: Home) -> None:
    costs = home.query(
        "select c.event_id, c.interaction_day, c.user_id, c.session_id, i.project_id, "
        "i.api_key_id, c.exact_total_cost_usd, "
        "coalesce(i.input_tokens, 0) + coalesce(i.output_tokens, 0) "
        "from marts.cost_breakdown c join marts.interactions i using (event_id)"
    )
    session_days = dict(home.query("select session_id, session_day from marts.sessions"))
    got = {
        tuple(k): (usd, tokens)
        for *k, usd, tokens in home.query(
            "select budget_id, scope, scope_id, period, period_start, exact_spent_usd, "
            "spent_tokens from intermediate.int_budget_spend"
        )
    }
    assert got == _expected(costs, session_days)
    # every scope has rows (the single calls' path included), in two months
    assert {k[0] for k in got} == set(LIMITS)
    months = {k[4] for k in got if k[0] == "org-monthly"}
    assert months == {dt.date(2026, 10, 1), dt.date(2026, 11, 1)}


CORRECTION_PATH = [
    dg.AssetKey(["raw", "provider_usage"]),
    dg.AssetKey(["raw", "provider_costs"]),
    # the staging view too: it is what makes the dbt step wait for the pull in a subset run
    dg.AssetKey(["staging", "stg_providers__costs"]),
    dg.AssetKey(["marts", "provider_costs_daily"]),
    dg.AssetKey(["marts", "monthly_close"]),
]


ROLLUP_PATH = [
    dg.AssetKey(["intermediate", "int_user_months"]),
    dg.AssetKey(["marts", "user_stats"]),
]


def _run(home: Home, day: dt.date, providers, selection: list[dg.AssetKey]):
    from orchestration.runs import run_range
    from sources.demo.fake_provider import fake_providers

    with home.active(_budgets(home)), fake_providers(providers):
        return run_range(day, day, asset_selection=selection)


def _rows(home: Home) -> list[tuple]:
    return home.query(
        "select month_start, provider, row_type, app_ai_cost_usd, provider_billed_cost_usd "
        "from marts.monthly_close order by recorded_at, provider, row_type"
    )


def test_close_then_correction_rows(tmp_path):
    ledger = generate(tmp_path / "events", START, 4, 6)
    home = Home(tmp_path, ledger)
    reports = provider_reports(ledger)
    first, last = ledger.day_list[0], ledger.day_list[-1]
    assert [o.success for o in home.run(first, last, reports, _budgets(home))] == [True]

    # Expected, from the providers' reports and from each call's cost rolled up by the ledger's
    # own day, provider and model (model_daily rounds per day and model).
    billed: dict[str, Decimal] = defaultdict(Decimal)
    for c in reports.costs:
        if c.day.month == 10:
            billed[c.provider] += c.amount_usd
    per_event = dict(
        home.query("select event_id, exact_ai_tokens_cost_usd from marts.cost_breakdown")
    )
    per_model: dict[tuple, Decimal] = defaultdict(Decimal)
    for ev in ledger.events.values():
        if ev["type"] == "llm_call" and ev["day"].month == 10:
            per_model[(ev["day"], ev["provider"], ev["canonical_model"])] += (
                per_event[ev["event_id"]] or 0
            )
    app: dict[str, Decimal] = defaultdict(Decimal)
    for (_, provider, _), cost in per_model.items():
        app[provider] += cost.quantize(NINE)
    october = dt.date(2026, 10, 1)
    expected_close = sorted(
        (
            october,
            p,
            "close",
            app.get(p, Decimal(0)).quantize(NINE),
            billed.get(p, Decimal(0)).quantize(NINE),
        )
        for p in set(app) | set(billed)
    )
    assert sorted(_rows(home)) == expected_close  # November is still open

    # A credit for Oct 31 arrives later; the run of Nov 2 re-pulls Oct 31..Nov 2.
    credit = CostRow(
        "openai", dt.date(2026, 10, 31), "proj_main", "credit", Decimal("-1.25"), "usd"
    )
    corrected = dataclasses.replace(reports, costs=[*reports.costs, credit])
    nov2 = dt.date(2026, 11, 2)
    # only what the correction flows through: the provider pull, its daily mart, the close
    assert [o.success for o in _run(home, nov2, corrected, CORRECTION_PATH)] == [True]
    rows = _rows(home)
    assert sorted(r for r in rows if r[2] == "close") == expected_close  # never rewritten
    assert [r for r in rows if r[2] == "correction"] == [
        (october, "openai", "correction", Decimal("0E-9"), Decimal("-1.250000000"))
    ]

    assert [o.success for o in _run(home, nov2, corrected, CORRECTION_PATH)] == [True]
    assert _rows(home) == rows  # nothing changed, nothing appended

    # A late call of Oct 31 arrives in a new file and that day is rebuilt: the application's side
    # of the closed month changes by exactly that call's cost, as a correction row of its own.
    late = {
        "event_id": "late-october-call",
        "type": "llm_call",
        "ts": "2026-10-31T12:00:00Z",
        "user_id": "user_000",
        "provider": "openai",
        "model": "o3",
        "input_tokens": 10_000,
        "output_tokens": 2_000,
    }
    (tmp_path / "events" / "late.jsonl").write_text(json.dumps(late) + "\n")
    cost = calc_price_per_call({**late, "occurred_at": dt.datetime(2026, 10, 31, 12)})
    assert cost is not None and not any(
        e.get("model") == "o3" and e["day"] == dt.date(2026, 10, 31) for e in ledger.events.values()
    )  # its own day-and-model group: model_daily's rounding applies to it alone
    oct31 = dt.date(2026, 10, 31)
    assert [o.success for o in home.run(oct31, oct31, corrected, _budgets(home))] == [True]
    app_corrections = [r for r in _rows(home) if r[2] == "correction" and r[3] != 0]
    assert app_corrections == [
        (october, "openai", "correction", Decimal(cost).quantize(NINE), Decimal("0E-9"))
    ]
    assert sorted(r for r in _rows(home) if r[2] == "close") == expected_close
    _user_months_add_up(home)
    _budget_spend_adds_up(home)
    # a warehouse from before the rollup: its first build, by a run of the last day, reads every day
    # (the rollup and what reads it: the rest of a daily run is covered above)
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("drop table intermediate.int_user_months")
    nov3 = dt.date(2026, 11, 3)
    assert [o.success for o in _run(home, nov3, corrected, ROLLUP_PATH)] == [True]
    _user_months_add_up(home)
    _budget_spend_adds_up(home)


def _user_months_add_up(home: Home) -> None:
    """int_user_months (rebuilt by window, whole months) equals daily_stats summed by user and
    month in Python, and user_stats equals daily_stats summed by user: after a rerun of Oct 31
    whose window reaches into November, with November's later days already built."""
    months: dict[tuple, list] = {}
    for user, day, first, last, *counts, cost in home.query(
        "select user_id, day, first_event_at, last_event_at, session_count, interaction_count, "
        "llm_call_count, input_tokens, output_tokens, exact_total_cost_usd from marts.daily_stats"
    ):
        key = (user, day.replace(day=1))
        m = months.setdefault(key, [day, first, last, 0, 0, 0, 0, 0, Decimal(0)])
        m[0] = max(m[0], day)
        m[1], m[2] = _ignoring_null(min, m[1], first), _ignoring_null(max, m[2], last)
        m[3:8] = [a + b for a, b in zip(m[3:8], counts, strict=True)]
        m[8] += cost
    assert len({d for _, d in months}) == 2  # October and November
    got = home.query(
        "select user_id, month_start, last_active_day, first_event_at, last_event_at, "
        "session_count, interaction_count, llm_call_count, input_tokens, output_tokens, "
        "exact_total_cost_usd from intermediate.int_user_months"
    )
    assert {(u, d): list(v) for u, d, *v in got} == months
    as_of = max(m[0] for m in months.values())
    users: dict[str, list] = {}
    for (user, month), m in months.items():
        u = users.setdefault(user, [m[1], m[2], 0, 0, 0, 0, 0, Decimal(0), Decimal(0)])
        u[0], u[1] = _ignoring_null(min, u[0], m[1]), _ignoring_null(max, u[1], m[2])
        u[2:7] = [a + b for a, b in zip(u[2:7], m[3:8], strict=True)]
        u[7] += m[8]
        u[8] += m[8] if month == as_of.replace(day=1) else 0
    nine = Decimal("1e-9")
    expected = {
        user: (*u[:7], u[7].quantize(nine, ROUND_HALF_UP), u[8].quantize(nine, ROUND_HALF_UP))
        for user, u in users.items()
    }
    got = home.query(
        "select user_id, first_seen_at, last_seen_at, lifetime_sessions, lifetime_interactions, "
        "lifetime_llm_calls, lifetime_input_tokens, lifetime_output_tokens, lifetime_cost_usd, "
        "month_to_date_cost_usd from marts.user_stats"
    )
    assert {u: tuple(v) for u, *v in got} == expected


def _ignoring_null(pick, a, b):
    """SQL's min/max of two values: NULLs ignored."""
    values = [x for x in (a, b) if x is not None]
    return pick(values) if values else None
