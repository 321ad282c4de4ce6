"""With COSTWATCH_PII_KEY, nothing published is an unkeyed function of a user id (issue 14, item 1;
issue 23's double-hashed alerts): derived session ids, snapshot keys and alert ids are keyed,
metadata passes an allow-list only, and the same user has the same pseudonym in every table.

One real pipeline under key A (runs, the budget sensor on the published copy, the alerts loaded
and published again), then the same warehouse published under key B."""

import datetime as dt
import hashlib
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sources.publishing.publish import publish_copy
from tests.conftest import make_home, relations_holding_each

pytestmark = pytest.mark.slow

KEY_A = "pii-key-A-5e1f"
KEY_B = "pii-key-B-90c2"
EMAIL = "alice.private@example.com"
OTHER_EMAIL = "bob.private@example.com"
ALERT_KEYS = [
    ["raw", "budgets"],
    ["raw", "budget_alerts"],
    ["marts", "budget_alerts"],
    ["published", "analytics_warehouse"],
    ["published", "html_report"],
]


def _pseudonym(key: str, user_id: str) -> str:
    """The formula the README gives applications (independent of the SQL that publishes)."""
    return "u_" + hashlib.sha256(f"{key}|{user_id}".encode()).hexdigest()[:20]


def _extra_events(root: Path, day: dt.date) -> None:
    """A user whose id is an e-mail, session-less (derived sessions), e-mails in metadata."""
    ts = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
    lines = []
    for i, user in enumerate([EMAIL, EMAIL, OTHER_EMAIL]):
        lines.append(
            {
                "event_id": f"pii-{i}",
                "type": "llm_call",
                "ts": (ts + dt.timedelta(minutes=5 * i)).isoformat().replace("+00:00", "Z"),
                "user_id": user,
                "provider": "openai",
                "model": "gpt-4o-mini",
                "input_tokens": 1000,
                "output_tokens": 100,
                "metadata": {"email": user, "plan": "pro"},
                "contact": user,  # an unknown top-level field lands in metadata too
            }
        )
    path = root / "events" / "pii" / "app.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))


def _hits(path: Path, needles: list[str]) -> list[str]:
    found = relations_holding_each(path, needles, views=True)
    return [f"{r}: {n}" for n in needles for r in found[n]]


def _identifiers(path: Path) -> set[str]:
    """Every user-derived identifier a published copy holds."""
    queries = [
        "select user_id from marts.user_stats",
        "select user_id from marts.cost_breakdown",
        "select x_user_id from marts.focus_costs",
        "select session_id from marts.sessions where session_id like 'derived-%'",
        "select session_id from marts.interactions where session_id like 'derived-%'",
        "select x_session_id from marts.focus_costs where x_session_id like 'derived-%'",
        "select scope_id from marts.budget_status where scope in ('user', 'session')",
        "select scope_id from marts.budget_alerts where scope in ('user', 'session')",
        "select alert_id from marts.budget_alerts",
        "select dbt_scd_id from snapshots.user_stats_snapshot",
        "select user_id from snapshots.user_stats_snapshot",
    ]
    out: set[str] = set()
    with duckdb.connect(str(path), read_only=True) as con:
        for q in queries:
            out |= {v for (v,) in con.execute(q).fetchall()}
    return out


def _column(path: Path, sql: str) -> set:
    with duckdb.connect(str(path), read_only=True) as con:
        return {v for (v,) in con.execute(sql).fetchall()}


def test_no_published_value_is_an_unkeyed_function_of_a_user_id(tmp_path):
    from orchestration.runs import run_range
    from orchestration.sensors import evaluate_budgets

    home = make_home(tmp_path / "home")
    _extra_events(home.root, home.days[0])
    env = {"COSTWATCH_PII_KEY": KEY_A, "COSTWATCH_PUBLISHED_METADATA_KEYS": "plan"}
    first, last = home.days[0], home.days[-1]
    assert [o.success for o in home.run(first, last, env=env)] == [True]
    with home.active(env):
        _, summary = evaluate_budgets(None)
        assert summary["new_alerts"] > 0
        keys = [dg.AssetKey(k) for k in ALERT_KEYS]
        assert [o.success for o in run_range(first, last, asset_selection=keys)] == [True]
    published_a = home.published
    published_b = tmp_path / "published-b.duckdb"
    with duckdb.connect(str(home.warehouse)) as con:
        publish_copy(con, published_b, {"run_id": "test"}, KEY_B, ("plan",))
        raw_ids = sorted(
            {u for (u,) in con.execute("select distinct user_id from raw.app_events").fetchall()}
            - {"anonymous"}
        )
        raw_derived = sorted(
            {
                s
                for (s,) in con.execute(
                    "select session_id from marts.sessions where session_id like 'derived-%'"
                ).fetchall()
            }
        )
        raw_scd = sorted(
            {
                s
                for (s,) in con.execute(
                    "select dbt_scd_id from snapshots.user_stats_snapshot"
                ).fetchall()
            }
        )
    assert EMAIL in raw_ids and len(raw_derived) > 0 and len(raw_scd) > 0

    # 1. no raw id, e-mail, unkeyed derived session id or snapshot key in any relation or file
    needles = [*raw_ids, *raw_derived, *raw_scd]
    for published in (published_a, published_b):
        assert _hits(published, needles) == []
    report = home.root / "reports" / "costwatch-report.html"
    assert report.exists()
    text = report.read_text()
    assert [n for n in needles if n in text] == []

    # 2. metadata passes the allow-list only
    metadata = _column(
        published_a, "select metadata from marts.interactions where event_id like 'pii-%'"
    )
    assert {json.dumps(json.loads(m), sort_keys=True) for m in metadata} == {'{"plan": "pro"}'}

    # 3. the two keys share no user-derived identifier
    ids_a, ids_b = _identifiers(published_a), _identifiers(published_b)
    assert ids_a and ids_b and not ids_a & ids_b

    # 4. one user, one pseudonym in every table (alerts were raised from the published copy)
    pseudonyms = {_pseudonym(KEY_A, u) for u in [*raw_ids, "anonymous"]}
    users = _column(published_a, "select user_id from marts.user_stats")
    assert users and users <= pseudonyms
    status_users = _column(
        published_a, "select scope_id from marts.budget_status where scope = 'user'"
    )
    alert_users = _column(
        published_a, "select scope_id from marts.budget_alerts where scope = 'user'"
    )
    assert alert_users and alert_users <= status_users <= users
    blocked = json.loads((home.root / "blocklist.json").read_text())["blocked"]
    assert {b["scope_id"] for b in blocked if b["scope"] == "user"} <= users
    # and under key B too, although the alert log holds key A's pseudonyms
    alert_users_b = _column(
        published_b, "select scope_id from marts.budget_alerts where scope = 'user'"
    )
    assert alert_users_b <= _column(published_b, "select user_id from marts.user_stats")
