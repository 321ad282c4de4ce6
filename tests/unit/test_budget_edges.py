"""Budget thresholds and the block list at their edges (issue 23: `>` for `>=`, and a block list
entered at 60% instead of 100%, went through the suite)."""

import datetime as dt

import pytest

from sources.budgets.alerts import due_alerts, write_blocklist

NOW = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def _row(pct: float, thresholds=(50, 80, 90, 100), current: bool = True) -> dict:
    return {
        "budget_id": "b",
        "scope": "user",
        "scope_id": "u1",
        "period": "month",
        "period_start": dt.date(2026, 11, 1),
        "limit_usd": 10,
        "limit_tokens": None,
        "spent_usd": pct / 10,
        "spent_tokens": 0,
        "pct_used": pct,
        "projected_pct": pct,
        "highest_threshold_crossed": None,
        "thresholds": list(thresholds),
        "is_current_period": current,
    }


@pytest.mark.parametrize(
    ("pct", "raised"),
    [
        (49.99, []),
        (50.0, [50]),  # a threshold is crossed AT its value
        (79.999, [50]),
        (80.0, [50, 80]),
        (99.99, [50, 80, 90]),
        (100.0, [50, 80, 90, 100]),
        (135.0, [50, 80, 90, 100]),
    ],
)
def test_each_threshold_is_raised_at_its_value(pct, raised):
    alerts = [a for a in due_alerts([_row(pct)], set()) if a.kind == "threshold"]
    assert [a.threshold_pct for a in alerts] == raised


@pytest.mark.parametrize(
    ("pct", "blocked"), [(60.0, False), (99.99, False), (100.0, True), (250.0, True)]
)
def test_the_block_list_holds_scopes_at_or_over_100_percent(tmp_path, pct, blocked):
    out = write_blocklist(tmp_path / "blocklist.json", [_row(pct)], NOW)
    assert [b["scope_id"] for b in out] == (["u1"] if blocked else [])


def test_a_past_period_over_its_limit_is_not_blocked(tmp_path):
    assert write_blocklist(tmp_path / "b.json", [_row(150.0, current=False)], NOW) == []


def test_a_scope_leaves_the_block_list_when_its_budget_is_raised(tmp_path):
    path = tmp_path / "blocklist.json"
    assert len(write_blocklist(path, [_row(120.0)], NOW)) == 1
    raised = {**_row(60.0), "limit_usd": 20}  # the same spend against a doubled limit
    assert write_blocklist(path, [raised], NOW) == []
