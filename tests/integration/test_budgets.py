"""budget_status on the built warehouse, against sums computed here from the cost rows."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
import yaml

from sources.settings import REPO_ROOT
from tests.conftest import Home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]


def test_budget_status_matches_the_costs(built_home: Home):
    budgets = {
        b["id"]: b for b in yaml.safe_load((REPO_ROOT / "budgets.yaml").read_text())["budgets"]
    }
    costs = built_home.query(
        "select c.user_id, c.interaction_day, c.exact_total_cost_usd, i.project_id "
        "from marts.cost_breakdown c join marts.interactions i using (event_id)"
    )
    org = sum(c for _, _, c, _ in costs)
    per_user: dict[str, Decimal] = defaultdict(Decimal)
    per_day_project: dict[dt.date, Decimal] = defaultdict(Decimal)
    for user, day, cost, project in costs:
        per_user[user] += cost
        if project == "proj_main":
            per_day_project[day] += cost
    rows = {
        (b, s, p): (spent, pct, projected, highest)
        for b, s, p, spent, pct, projected, highest in built_home.query(
            "select budget_id, scope_id, period_start, spent_usd, pct_used, projected_usd, "
            "highest_threshold_crossed from marts.budget_status"
        )
    }
    month = dt.date(2026, 11, 1)
    days_elapsed = (built_home.days[-1] - month).days + 1
    spent, pct, projected, highest = rows[("org-monthly", "organisation", month)]
    limit = Decimal(budgets["org-monthly"]["limit_usd"])
    assert spent == org.quantize(Decimal("1e-9"))
    assert pct == pytest.approx(float(org / limit * 100))
    assert projected == (org * 30 / days_elapsed).quantize(Decimal("1e-9"))
    crossed = [t for t in (50, 80, 90, 100) if float(org / limit * 100) >= t]
    assert highest == (max(crossed) if crossed else None)
    user_limit = Decimal(budgets["per-user-monthly"]["limit_usd"])
    for user, total in per_user.items():
        assert rows[("per-user-monthly", user, month)][1] == pytest.approx(
            float(total / user_limit * 100)
        )
    for day, total in per_day_project.items():
        assert rows[("support-bot-daily", "proj_main", day)][0] == total.quantize(Decimal("1e-9"))
