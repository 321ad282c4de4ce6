"""The guard prices like the marts and reads the spend analysts read: on the built sample days,
from the real published copy."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from sources.guard.prices import Usage, cost, worst_case
from sources.guard.published import Published
from sources.guard.service import Guard
from sources.settings import REPO_ROOT
from tests.conftest import Home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]


def test_every_priced_call_costs_what_cost_breakdown_says(built_home: Home):
    calls = built_home.query(
        """
        select i.provider, i.model, i.occurred_at, i.service_tier, i.input_tokens,
               i.output_tokens, coalesce(i.cached_input_tokens, 0),
               coalesce(i.cache_write_tokens, 0), coalesce(i.cache_write_1h_tokens, 0),
               coalesce(i.reasoning_tokens, 0), c.price_row_id, c.exact_ai_tokens_cost_usd
        from marts.interactions i join marts.cost_breakdown c using (event_id)
        where i.interaction_type = 'llm_call'
        """,
        published=True,
    )
    published = Published.load(built_home.published, dt.date(2000, 1, 1))
    assert published.prices is not None
    priced = unpriced = 0
    for provider, model, at, tier, inp, out, cr, cw, cw1h, rs, row_id, expected in calls:
        row = published.prices.row_for(provider, model, at, tier)
        if row_id is None:  # the marts found no price: neither may the guard
            assert row is None, (provider, model)
            unpriced += 1
            continue
        assert row is not None and row.price_row_id == row_id, (provider, model, at, tier)
        assert cost(row, Usage(inp, out, cr, cw, cw1h, rs)) == expected
        # the worst case bounds the actual cost whatever the caching and reasoning
        assert worst_case(row, inp, out) >= expected
        priced += 1
    assert priced > 100 and unpriced > 0  # the sample's unknown model stays unpriced
    published.close()


def test_the_guard_sees_the_spend_of_the_published_copy(built_home: Home, tmp_path: Path):
    costs = built_home.query(
        "select user_id, session_id, interaction_day, exact_total_cost_usd "
        "from marts.cost_breakdown",
        published=True,
    )
    tokens = built_home.query(
        "select session_id, coalesce(input_tokens, 0) + coalesce(output_tokens, 0) "
        "from marts.interactions",
        published=True,
    )
    per_user: dict[str, Decimal] = defaultdict(Decimal)
    per_session_tokens: dict[str, int] = defaultdict(int)
    for user, _, _, amount in costs:
        per_user[user] += amount
    for session, n in tokens:
        per_session_tokens[session] += n
    last_day = max(day for _, _, day, _ in costs)
    guard = Guard(
        REPO_ROOT / "budgets.yaml",
        built_home.published,
        tmp_path / "ledger.sqlite3",
        clock=lambda: dt.datetime.combine(last_day, dt.time(12)),
    )
    session = max(per_session_tokens, key=lambda s: per_session_tokens[s])
    user = max(per_user, key=lambda u: per_user[u])
    _, answer = guard.check(
        {
            "user_id": user,
            "session_id": session,
            "project_id": "proj_main",
            "provider": "openai",
            "model": "gpt-4.1",
            "input_tokens": 10,
            "max_output_tokens": 10,
        }
    )
    lines = {b["budget_id"]: b for b in answer["budgets"]}
    assert answer["verified"] is True
    assert Decimal(lines["per-user-monthly"]["spent"]) == per_user[user].quantize(Decimal("1e-9"))
    assert lines["session-tokens"]["spent"] == per_session_tokens[session]
    org = sum(amount for *_, amount in costs)
    assert Decimal(lines["org-monthly"]["spent"]) == org.quantize(Decimal("1e-9"))
    guard.close()
