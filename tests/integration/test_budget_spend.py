"""int_budget_spend for every scope and period, by day-by-day runs, against sums computed here
from the cost rows: month periods come from the per-day spend rows (int_spend_days), single calls
only for the budget scoped to one call."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest

from tests.conftest import make_home

pytestmark = pytest.mark.slow

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


def test_budget_spend_per_scope_by_daily_runs(tmp_path):
    home = make_home(tmp_path, days=2)
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(BUDGETS)
    for day in home.days:  # the second run rebuilds the month from the first day's spend rows
        outcomes = home.run(day, day, env={"COSTWATCH_BUDGETS": str(budgets)})
        assert [o.success for o in outcomes] == [True]
    costs = home.query(
        "select c.event_id, c.interaction_day, c.user_id, c.session_id, i.project_id, "
        "i.api_key_id, c.exact_total_cost_usd, "
        "coalesce(i.input_tokens, 0) + coalesce(i.output_tokens, 0) "
        "from marts.cost_breakdown c join marts.interactions i using (event_id)"
    )
    session_days = dict(home.query("select session_id, session_day from marts.sessions"))
    expected = _expected(costs, session_days)
    got = {
        tuple(k): (usd, tokens)
        for *k, usd, tokens in home.query(
            "select budget_id, scope, scope_id, period, period_start, exact_spent_usd, "
            "spent_tokens from intermediate.int_budget_spend"
        )
    }
    assert got == expected
    # every scope has rows (the single calls' path included), and two days of one month
    assert {k[0] for k in got} == set(LIMITS)
    assert {k[4] for k in got if k[0] == "user-daily"} == set(home.days)
