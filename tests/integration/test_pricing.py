"""Costs in SQL against independent references: genai_prices.calc_price per call, the custom price
file and the rate card read here with plain YAML, and sums over the ledger."""

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml

from sources.demo.pricing_calls import PRICING_DAYS, write_pricing_calls
from sources.demo.reference_prices import calc_price_per_call
from tests.conftest import Home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = Decimal("1e-9")


def _reference_ai_cost(ev: dict) -> Decimal | None:
    """What genai-prices (or, for the private model, the custom price file) charges."""
    if ev["provider"] == "acme":  # private model: priced by custom_prices.yaml only
        custom = yaml.safe_load((REPO / "custom_prices.yaml").read_text())["prices"]
        (entry,) = [p for p in custom if p["model"] == ev["model"]]
        return Decimal(entry["input_mtok"]) * ev["input_tokens"] / 1_000_000
    return calc_price_per_call(ev)


@pytest.fixture(scope="session")  # once per worker, even if other tests run between
def pricing_home(tmp_path_factory) -> tuple[Home, list[dict], list]:
    root = tmp_path_factory.mktemp("pricing")
    events = write_pricing_calls(root / "events")
    home = Home(root, ledger=None)  # type: ignore[arg-type]
    from orchestration.runs import run_range

    with home.active():
        outcomes = run_range(min(PRICING_DAYS), max(PRICING_DAYS), chunk_days=1000)
    assert [o.success for o in outcomes] == [True]
    return home, events, outcomes


def test_sql_cost_equals_calc_price_per_call_and_summed(pricing_home):
    home, events, _ = pricing_home
    assert len(events) >= 10_000
    got = {
        event_id: (exact, rounded, unpriced)
        for event_id, exact, rounded, unpriced in home.query(
            "select event_id, exact_ai_tokens_cost_usd, ai_tokens_cost_usd, is_unpriced_llm_call "
            "from marts.cost_breakdown"
        )
    }
    assert len(got) == len(events)
    total_ref, total_sql, mismatches, priced = Decimal(0), Decimal(0), [], 0
    for ev in events:
        ref = _reference_ai_cost(ev)
        exact, rounded, unpriced = got[ev["event_id"]]
        if ref is None:
            assert unpriced and exact == 0, ev
            continue
        priced += 1
        assert not unpriced, ev
        if abs(exact - ref) > TOLERANCE or abs(rounded - ref) > TOLERANCE:
            mismatches.append((ev["event_id"], ev["provider"], ev["model"], ref, exact))
        total_ref += ref
        total_sql += exact
    assert mismatches == []
    assert abs(total_sql - total_ref) <= TOLERANCE
    assert priced >= 10_000


def test_every_price_feature_was_exercised(pricing_home):
    home, _events, _ = pricing_home
    rows = dict(
        home.query(
            """
            select 'tier_above', count(*) from marts.cost_breakdown c
              join marts.interactions i using (event_id)
              where i.canonical_model = 'claude-sonnet-4-5' and i.input_tokens > 200000
            union all select 'batch', count(*) from marts.cost_breakdown
              where service_tier = 'batch'
            union all select 'flex', count(*) from marts.cost_breakdown
              where service_tier = 'flex'
            union all select 'custom', count(*) from marts.cost_breakdown
              where price_source = 'custom'
            union all select 'cache_write_1h', count(*) from marts.interactions
              where provider = 'anthropic' and cache_write_1h_tokens > 0
            union all select 'per_request', count(*) from marts.cost_breakdown
              where canonical_model = 'sonar'
            union all select 'time_of_day', count(distinct p.seconds_from)
              from marts.cost_breakdown c
              join staging.stg_pricing__llm_prices p using (price_row_id)
              where c.provider = 'deepseek'
            """
        )
    )
    assert all(n > 0 for n in rows.values()), rows
    assert rows["time_of_day"] >= 2


def test_unpriced_model_is_listed_by_a_check(pricing_home):
    _, _, outcomes = pricing_home
    assert "marts/cost_breakdown:llm_calls_priced (warn)" in outcomes[0].failed_checks


def _rates() -> dict:
    card = yaml.safe_load((REPO / "rate_card.yaml").read_text())["rates"][0]
    return {k: v if k.startswith(("effective", "api_")) else Decimal(v) for k, v in card.items()}


def test_non_llm_costs_follow_the_rate_card(built_home: Home):
    r = _rates()
    api = {k: Decimal(v) for k, v in r["api_calls_per_unit"].items()}
    expected: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
    for ev in built_home.ledger.events.values():
        db = api_cost = compute = other = Decimal(0)
        if ev["type"] == "db_op":
            db = (
                Decimal(ev.get("rows_read", 0)) * r["db_read_per_million_rows"]
                + Decimal(ev.get("rows_written", 0)) * r["db_write_per_million_rows"]
            ) / 1_000_000
        elif ev["type"] == "api_call":
            api_cost = Decimal(ev["units"]) * api.get(ev["service"], api["*"])
        elif ev["type"] == "compute":
            seconds = Decimal(ev["duration_ms"]) / 1000
            gb = Decimal(ev["memory_mb"]) / 1024
            compute = seconds * r["compute_per_second"] + seconds * gb * r["compute_per_gb_second"]
        elif ev["type"] == "cost_event":
            other = Decimal(str(ev["amount_usd"]))
        else:
            continue
        expected[ev["event_id"]] = (db, api_cost, compute, other)
    got = built_home.query(
        "select event_id, exact_db_ops_cost_usd, exact_api_calls_cost_usd, exact_compute_cost_usd, "
        "exact_other_cost_usd from marts.cost_breakdown where interaction_type <> 'llm_call'"
    )
    assert len(got) == len(expected)
    for event_id, *costs in got:
        for g, e in zip(costs, expected[event_id], strict=True):
            assert abs(g - e) <= TOLERANCE, (event_id, costs, expected[event_id])


def test_costs_roll_up_into_sessions_days_and_users(built_home: Home):
    per_event = dict(
        built_home.query("select event_id, exact_total_cost_usd from marts.cost_breakdown")
    )
    by_day: dict[dt.date, Decimal] = defaultdict(Decimal)
    by_user: dict[str, Decimal] = defaultdict(Decimal)
    for ev in built_home.ledger.events.values():
        if ev["event_id"] in per_event:
            by_day[ev["day"]] += per_event[ev["event_id"]]
            by_user[ev["user_id"]] += per_event[ev["event_id"]]
    days = dict(built_home.query("select day, total_cost_usd from marts.daily_totals"))
    assert days == {d: v.quantize(Decimal("1e-9")) for d, v in by_day.items()}
    users = dict(built_home.query("select user_id, lifetime_cost_usd from marts.user_stats"))
    assert users == {u: by_user.get(u, Decimal(0)).quantize(Decimal("1e-9")) for u in users}
    session_total = built_home.query("select sum(total_cost_usd) from marts.sessions")[0][0]
    assert abs(session_total - sum(by_day.values())) <= Decimal("1e-9") * len(per_event)
    categories = built_home.query(
        "select sum(ai_tokens_cost_usd + db_ops_cost_usd + api_calls_cost_usd + compute_cost_usd "
        "+ other_cost_usd - total_cost_usd) from marts.daily_totals"
    )[0][0]
    assert abs(categories) <= Decimal("5e-9")


def test_model_daily_counts_and_cost_per_accepted_answer(built_home: Home):
    events = built_home.ledger.events
    calls = [e for e in events.values() if e["type"] == "llm_call"]
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in calls:
        acc = expected[(c["day"], c["canonical_model"])]
        acc[0] += 1
        acc[1] += c["status"] == "error"
        acc[2] += "retry_of" in c
    for f in events.values():
        if f["type"] == "feedback" and f.get("action") == "approved":
            ref = events[f["ref_event_id"]]
            expected[(ref["day"], ref["canonical_model"])][3] += 1
    got = built_home.query(
        "select day, canonical_model, calls, error_calls, retry_calls, approved_count "
        "from marts.model_daily"
    )
    assert {(d, m): [n, e, r, a] for d, m, n, e, r, a in got} == dict(expected)
    per_model = built_home.query(
        "select canonical_model, sum(cost_usd) / sum(approved_count) from marts.model_daily "
        "group by 1 having sum(approved_count) > 0"
    )
    ai = dict(
        built_home.query(
            "select canonical_model, sum(exact_ai_tokens_cost_usd) from marts.cost_breakdown "
            "where interaction_type = 'llm_call' group by 1"
        )
    )
    approved = defaultdict(int)
    for (_, model), counts in expected.items():
        approved[model] += counts[3]
    for model, cost_per_accepted in per_model:  # DuckDB divides decimals into a DOUBLE
        assert cost_per_accepted == pytest.approx(float(ai[model] / approved[model]), rel=1e-12)


def test_cache_savings_are_what_the_cache_reads_would_have_cost_as_input(pricing_home):
    """README: `cache_savings_usd` is what cache reads saved. Reference: genai-prices' price of
    the call as if its cache reads had been uncached input, minus its real price (issue 23)."""
    home, events, _ = pricing_home
    got = dict(home.query("select event_id, exact_cache_savings_usd from marts.cost_breakdown"))
    checked = 0
    for ev in events:
        if not ev.get("cached_input_tokens") or ev["provider"] == "acme":
            continue
        real = calc_price_per_call(ev)
        uncached = calc_price_per_call({**ev, "cached_input_tokens": 0})
        if real is None or uncached is None:
            continue
        assert abs(got[ev["event_id"]] - (uncached - real)) <= TOLERANCE, ev
        checked += 1
        if checked == 2_000:
            break
    assert checked >= 500


def _ledger_costs(home: Home) -> dict[str, Decimal]:
    """Each event's exact total cost (each one is checked against its reference above)."""
    return dict(home.query("select event_id, exact_total_cost_usd from marts.cost_breakdown"))


def _rounded(value: Decimal) -> Decimal:
    return value.quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)  # DuckDB's decimal cast


def test_per_session_and_per_focus_service_totals_against_the_ledger(built_home: Home):
    """Per-session totals (the ledger's intended sessions, found by user and start) and FOCUS
    totals per day and service (the service named from the ledger's event by the README's rule)
    equal the ledger's sums of each event's cost; grand totals alone would hide a cost moved
    between sessions or services."""
    cost = _ledger_costs(built_home)
    expected_sessions = {
        (s["user_id"], s["started_at"]): _rounded(
            sum((cost.get(e["event_id"], Decimal(0)) for e in s["events"]), Decimal(0))
        )
        for s in built_home.ledger.sessions().values()
    }
    got_sessions = {
        (user, started.replace(tzinfo=None)): total
        for user, started, total in built_home.query(
            "select user_id, started_at at time zone 'UTC', total_cost_usd from marts.sessions"
        )
    }
    assert got_sessions == expected_sessions

    def service(ev: dict) -> str:
        kind = ev["type"]
        if kind == "llm_call":
            return ev.get("provider") or "unknown provider"
        if kind == "api_call":
            return f"External API: {ev.get('service') or 'unknown'}"
        return {"db_op": "Database", "compute": "Compute"}.get(kind, "Other")

    expected: dict[tuple, Decimal] = defaultdict(Decimal)
    for ev in built_home.ledger.events.values():
        if ev["event_id"] in cost:
            expected[(ev["day"], service(ev))] += cost[ev["event_id"]]
    got = built_home.query(
        'select x_charge_day, "ServiceName", sum("BilledCost"), count(*) from marts.focus_costs '
        "group by all"
    )
    assert {(d, s) for d, s, _, _ in got} == set(expected)
    for day, name, billed, rows in got:  # each FOCUS row is rounded to cents' 9th decimal
        assert abs(billed - expected[(day, name)]) <= Decimal("5e-10") * rows, (day, name)


def test_model_daily_failed_and_retry_costs_and_feedback_rates_against_the_ledger(
    built_home: Home,
):
    """model_daily's cost of failed calls and of retries, and its feedback rates and means, per
    day and model, from the ledger's calls (status, retry_of) and feedback (action, scores)."""
    events = built_home.ledger.events
    cost = dict(
        built_home.query("select event_id, exact_ai_tokens_cost_usd from marts.cost_breakdown")
    )
    money: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for c in events.values():
        if c["type"] == "llm_call":
            key = (c["day"], c["canonical_model"])
            money[key][0] += cost[c["event_id"]] if c["status"] != "ok" else 0
            money[key][1] += cost[c["event_id"]] if "retry_of" in c else 0
    feedback: dict[tuple, list[dict]] = defaultdict(list)
    for f in events.values():
        if f["type"] == "feedback" and f.get("ref_event_id") in events:
            ref = events[f["ref_event_id"]]
            if ref["type"] == "llm_call":
                feedback[(ref["day"], ref["canonical_model"])].append(f)
    got = built_home.query(
        "select day, canonical_model, failed_calls_cost_usd, retries_cost_usd, feedback_count, "
        "acceptance_rate, edit_rate, regeneration_rate, abandonment_rate, mean_quality_score, "
        "mean_rating from marts.model_daily"
    )
    assert {(d, m) for d, m, *_ in got} == set(money)
    assert any(v[0] for v in money.values()) and any(v[1] for v in money.values())
    for day, model, failed, retries, count, *rates_and_means in got:
        key = (day, model)
        assert (failed, retries) == tuple(_rounded(v) for v in money[key]), key
        given = feedback.get(key, [])
        assert count == len(given), key
        if not given:
            assert rates_and_means == [None] * 6, key
            continue
        share = [
            sum(f["action"] == a for f in given) / len(given)
            for a in ("approved", "edited", "regenerated", "abandoned")
        ]
        scores = [f["quality_score"] for f in given if f.get("quality_score") is not None]
        ratings = [f["rating"] for f in given if f.get("rating") is not None]
        means = [
            sum(scores) / len(scores) if scores else None,
            sum(ratings) / len(ratings) if ratings else None,
        ]
        assert rates_and_means == pytest.approx(share + means, rel=1e-12), key
