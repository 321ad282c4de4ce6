"""The guard's decisions over a hand-made published copy, through its real HTTP server where the
wire matters. Prices (tests/guard/conftest.py) are round so every amount is computed by hand."""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from sources.guard.server import MAX_BODY_BYTES, serve
from sources.publishing.pseudonyms import key_fingerprint, user_pseudonym
from tests.guard.conftest import ESTIMATE_1000_500, NOW, Clock, call, served

NOV = dt.date(2026, 11, 1)


def only(answer: dict, budget_id: str) -> dict:
    (line,) = [b for b in answer["budgets"] if b["budget_id"] == budget_id]
    return line


def test_a_check_shows_spend_reservations_and_the_worst_case_estimate(setup):
    setup.budgets_file('  - {id: org, scope: organisation, period: month, limit_usd: "100"}\n')
    setup.publish(spend=[("org", "organisation", "organisation", "month", NOV, Decimal(40), 0)])
    guard = setup.guard()
    status, first = guard.check(call(request_id="r1"))
    assert status == 200 and first["decision"] == "allow" and first["verified"] is True
    assert first["estimated_cost_usd"] == str(ESTIMATE_1000_500)  # "0.0076"
    assert first["estimated_tokens"] == 1500
    assert only(first, "org") == {
        "budget_id": "org", "scope": "organisation", "scope_id": "organisation",
        "period": "month", "period_start": "2026-11-01", "unit": "usd", "limit": "100",
        "spent": "40", "reserved": "0", "estimate": "0.0076", "share_after_pct": 40.0076,
        "threshold_reached": None, "status": "allow",
    }  # fmt: skip
    _, second = guard.check(call(request_id="r2"))
    assert only(second, "org")["reserved"] == "0.0076"
    assert only(second, "org")["share_after_pct"] == 40.0152


def test_thresholds_below_the_limit_warn_and_past_the_limit_block(setup):
    setup.budgets_file('  - {id: org, scope: organisation, period: month, limit_usd: "100"}\n')
    setup.publish(
        spend=[("org", "organisation", "organisation", "month", NOV, Decimal("79.995"), 0)]
    )
    guard = setup.guard()
    _, warned = guard.check(call())  # 79.995 + 0.0076 = 80.0026%: past 80
    assert warned["decision"] == "warn"
    assert only(warned, "org")["threshold_reached"] == 80
    setup.publish(
        spend=[("org", "organisation", "organisation", "month", NOV, Decimal("99.9925"), 0)]
    )
    _, blocked = guard.check(call())  # 99.9925 + 0.0076 (reserved) + 0.0076 > 100
    assert blocked["decision"] == "block"
    assert only(blocked, "org")["share_after_pct"] == 100.0077


def test_a_hundred_concurrent_checks_against_room_for_ten_allow_exactly_ten(setup):
    # room: 10 worst-case estimates on top of the published spend
    setup.budgets_file(
        '  - {id: cap, scope: user, period: month, limit_usd: "1.076", thresholds: [100]}\n'
    )
    setup.publish(spend=[("cap", "user", "u1", "month", NOV, Decimal(1), 0)])
    with served(setup.guard()) as client:
        with ThreadPoolExecutor(100) as pool:
            answers = list(
                pool.map(
                    lambda i: client.post("/v1/check", json=call(request_id=f"c{i}")).json(),
                    range(100),
                )
            )
        decisions = [a["decision"] for a in answers]
        assert decisions.count("allow") == 10 and decisions.count("block") == 90
        after = client.post("/v1/check", json=call()).json()
    assert only(after, "cap")["reserved"] == "0.076"


def test_two_guard_processes_sharing_a_ledger_allow_exactly_ten(setup):
    """Two guards (each its own ledger connection, as two processes have) on one ledger file."""
    setup.budgets_file(
        '  - {id: cap, scope: user, period: month, limit_usd: "0.076", thresholds: [100]}\n'
    )
    with served(setup.guard()) as a, served(setup.guard()) as b, ThreadPoolExecutor(100) as pool:
        answers = list(
            pool.map(
                lambda i: (a if i % 2 else b).post("/v1/check", json=call()).json(), range(100)
            )
        )
    assert [x["decision"] for x in answers].count("allow") == 10


def test_a_publish_that_includes_a_call_releases_its_reservation(setup):
    setup.budgets_file(
        '  - {id: org, scope: organisation, period: month, limit_usd: "100"}\n', "[100]"
    )
    guard = setup.guard()
    for request_id in ("r1", "r2", "r3"):
        assert guard.check(call(request_id=request_id))[1]["decision"] == "allow"
    status, committed = guard.commit(
        {"request_id": "r1", "input_tokens": 1000, "cache_read_tokens": 400, "output_tokens": 300}
    )
    # 600 * 2e-6 + 400 * 5e-7 + 300 * 1e-5 + 1e-4
    assert (status, committed["actual_cost_usd"]) == (200, "0.0045")
    _, before = guard.check(call(request_id="probe1"))
    assert only(before, "org")["reserved"] == "0.0197"  # 0.0045 + 2 * 0.0076
    guard.commit({"request_id": "probe1", "input_tokens": 0, "output_tokens": 0})  # 1e-4
    # the next publish has r1 and r2 (at their actual costs, 0.0045 + 0.003)
    setup.publish(
        spend=[("org", "organisation", "organisation", "month", NOV, Decimal("0.0075"), 0)],
        event_ids=["r1", "r2", "unrelated"],
    )
    _, after = guard.check(call(request_id="r4"))
    assert only(after, "org")["spent"] == "0.0075"
    assert only(after, "org")["reserved"] == "0.0077"  # r3's estimate and probe1's 1e-4


def test_a_commit_settles_once_by_request_id(setup):
    guard = setup.guard()
    guard.check(call(request_id="r1"))
    usage = {"request_id": "r1", "input_tokens": 1000, "output_tokens": 300}
    # 1000 * 2e-6 + 300 * 1e-5 + 1e-4
    assert guard.commit(usage) == (
        200,
        {"request_id": "r1", "actual_cost_usd": "0.0051", "actual_tokens": 1300,
         "repeated": False, "note": None},
    )  # fmt: skip
    again = guard.commit(usage)
    assert again[0] == 200 and again[1]["repeated"] is True
    assert guard.commit({**usage, "output_tokens": 301})[0] == 409
    assert guard.commit({**usage, "request_id": "never-checked"})[0] == 404
    status, missing = guard.commit({"request_id": "r1", "input_tokens": 10})
    assert (status, missing["field"]) == (400, "output_tokens")
    assert only(guard.check(call())[1], "org")["reserved"] == "0.0051"


def test_a_retried_check_reserves_once(setup):
    guard = setup.guard()
    first = guard.check(call(request_id="r1"))[1]
    status, again = guard.check(call(request_id="r1"))
    assert status == 200 and again == {**first, "repeated": True}
    assert guard.check(call(request_id="r1", input_tokens=5))[0] == 409
    assert only(guard.check(call())[1], "org")["reserved"] == "0.0076"


def test_reservations_expire_uncommitted_after_minutes_committed_after_hours(setup):
    clock = Clock()
    guard = setup.guard(clock=clock, reservation_minutes=15, hold_hours=48)
    guard.check(call(request_id="open"))
    guard.check(call(request_id="done"))
    guard.commit({"request_id": "done", "input_tokens": 0, "output_tokens": 0})  # 0.0001
    clock.now = NOW + dt.timedelta(minutes=15)
    assert only(guard.check(call(request_id="p1"))[1], "org")["reserved"] == "0.0001"
    clock.now = NOW + dt.timedelta(hours=48)  # p1 expired too
    assert only(guard.check(call(request_id="p2"))[1], "org")["reserved"] == "0"


def test_a_new_month_starts_from_nothing(setup):
    setup.budgets_file(
        '  - {id: cap, scope: user, period: month, limit_usd: "0.01", thresholds: [100]}\n'
    )
    setup.publish(spend=[("cap", "user", "u1", "month", NOV, Decimal("0.0024"), 0)])
    clock = Clock(dt.datetime(2026, 11, 30, 23, 59, 59))
    guard = setup.guard(clock=clock)
    assert guard.check(call())[1]["decision"] == "allow"  # 0.0024 + 0.0076 = 0.01
    assert guard.check(call())[1]["decision"] == "block"
    clock.now = dt.datetime(2026, 12, 1, 0, 0, 0)
    _, december = guard.check(call())
    assert (only(december, "cap")["period_start"], only(december, "cap")["spent"]) == (
        "2026-12-01",
        "0",
    )
    assert only(december, "cap")["reserved"] == "0" and december["decision"] == "allow"


def test_a_single_interaction_over_its_budget_is_blocked_on_its_estimate(setup):
    setup.budgets_file(
        '  - {id: one-call, scope: interaction, period: session, limit_usd: "0.005"}\n'
    )
    guard = setup.guard()
    _, big = guard.check(call())
    assert big["decision"] == "block" and only(big, "one-call")["estimate"] == "0.0076"
    # 100 * 2.5e-6 + 100 * 1e-5 + 1e-4 = 0.00135, 27% of the limit
    _, small = guard.check(call(input_tokens=100, max_output_tokens=100))
    assert small["decision"] == "allow" and only(small, "one-call")["reserved"] == "0"


def test_session_token_budgets_count_the_published_session_and_reservations(setup):
    setup.budgets_file(
        "  - {id: st, scope: session, period: session, limit_tokens: 10000}\n", "[80, 100]"
    )
    as_of = dt.date(2026, 11, 19)
    setup.publish(
        sessions=[
            ("s1", as_of, Decimal("0.1"), 5000, 3000),
            ("old", as_of - dt.timedelta(days=30), Decimal("0.1"), 9000, 0),
        ],
        as_of_day=as_of,
    )
    guard = setup.guard()
    _, first = guard.check(call())  # 8000 + 1500 = 95%
    assert first["decision"] == "warn" and only(first, "st")["spent"] == 8000
    assert guard.check(call())[1]["decision"] == "block"  # 8000 + 1500 + 1500
    _, old = guard.check(call(session_id="old"))  # read on demand: 9000 + 1500
    assert old["decision"] == "block" and only(old, "st")["spent"] == 9000


def test_a_budget_for_every_user_needs_the_field(setup):
    setup.budgets_file(
        '  - {id: per-session, scope: session, period: session, limit_usd: "1"}\n'
        '  - {id: one-key, scope: api_key, scope_id: k9, period: day, limit_usd: "1"}\n'
    )
    guard = setup.guard()
    status, answer = guard.check(call(session_id=None, api_key_id=None))
    assert (status, answer["field"]) == (400, "session_id")
    status, answer = guard.check(call(api_key_id=None))  # one-key names its key: not this one
    assert status == 200 and [b["budget_id"] for b in answer["budgets"]] == ["per-session"]


def test_spend_that_cannot_be_verified_blocks_or_warns_as_configured(setup):
    setup.published.unlink()
    _, closed = setup.guard().check(call())
    assert (closed["decision"], closed["verified"]) == ("block", False)
    assert "costwatch run" in closed["reasons"][0]
    _, open_ = setup.guard(on_unverified="allow").check(call())
    assert (open_["decision"], open_["verified"]) == ("warn", False)
    setup.publish()
    _, unknown = setup.guard().check(call(model="not-in-any-table"))
    assert unknown["decision"] == "block"
    assert unknown["reasons"] == [
        "no price for acme/not-in-any-table in the published price table "
        "(add it to custom_prices.yaml)"
    ]
    setup.budgets_file("  - {id: t, scope: organisation, period: day, limit_tokens: 5000}\n")
    _, tokens_only = setup.guard().check(call(model="not-in-any-table"))
    assert (tokens_only["decision"], tokens_only["verified"]) == ("allow", True)


def test_a_pseudonymised_copy_is_read_with_the_same_key(setup):
    key = "k3y-for-tests"
    setup.budgets_file('  - {id: pu, scope: user, period: month, limit_usd: "3"}\n', "[100]")
    setup.publish(
        spend=[("pu", "user", user_pseudonym(key, "u1"), "month", NOV, Decimal("2.995"), 0)],
        pii_fingerprint=key_fingerprint(key),
    )
    _, answer = setup.guard(pii_key=key).check(call())
    assert answer["decision"] == "block"  # 2.995 + 0.0076 > 3
    assert only(answer, "pu")["scope_id"] == "u1" and only(answer, "pu")["spent"] == "2.995"
    _, keyless = setup.guard().check(call())
    assert keyless["verified"] is False and "COSTWATCH_PII_KEY" in keyless["reasons"][0]


def test_a_changed_budgets_file_applies_and_a_broken_one_keeps_the_last_good(setup):
    guard = setup.guard()
    setup.budgets_file('  - {id: org, scope: organisation, period: month, limit_usd: "0.001"}\n')
    assert guard.check(call())[1]["decision"] == "block"
    setup.budgets.write_text("budgets: [oops")
    assert guard.check(call())[1]["decision"] == "block"
    assert "budgets.yaml" in guard.health()["budgets_error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (call(input_tokens=-1), "input_tokens"),
        (call(input_tokens="12"), "input_tokens"),
        (call(max_output_tokens=True), "max_output_tokens"),
        (call(max_output_tokens=10**10), "max_output_tokens"),
        (call(user_id=""), "user_id"),
        (call(user_id=5), "user_id"),
        (call(user_id="u\x00"), "user_id"),
        (call(user_id="u" * 300), "user_id"),
        (call(model=None), "model"),
        (call(max_tokens=5), "max_tokens"),
        (call(request_id="a b"), "request_id"),
        ([call()], "body"),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(setup, body, field):
    status, answer = setup.guard().check(body)
    assert (status, answer["field"]) == (400, field)


def test_the_wire_caps_bodies_and_answers_every_error_in_json(setup):
    with served(setup.guard()) as client:
        too_big = client.post("/v1/check", content=b"{" + b" " * MAX_BODY_BYTES + b"}")
        assert too_big.status_code == 413
        not_json = client.post("/v1/check", content=b"\xff\xfe not json")
        assert (not_json.status_code, not_json.json()["field"]) == (400, "body")
        deep = client.post("/v1/check", content=b"[" * 10_000 + b"]" * 10_000)
        assert deep.status_code in (400, 413)
        assert client.post("/v2/nothing", json={}).status_code == 404
        assert client.get("/v1/health").json()["verified"] is True


def test_a_token_is_required_when_set_and_compared_whole(setup):
    with served(setup.guard(), token="s3cret-token") as client:
        assert client.post("/v1/check", json=call()).status_code == 401
        wrong = {"Authorization": "Bearer s3cret-tokeN"}
        assert client.post("/v1/check", json=call(), headers=wrong).status_code == 401
        right = {"Authorization": "Bearer s3cret-token"}
        answer = client.post("/v1/check", json=call(), headers=right)
        assert answer.status_code == 200 and "s3cret" not in answer.text
    with pytest.raises(PermissionError, match="COSTWATCH_GUARD_TOKEN"):
        serve(setup.guard(), "0.0.0.0", 0, None)


def test_reservations_survive_a_killed_guard(setup, tmp_path):
    """`costwatch guard` as a process: five calls allowed, kill -9, restarted, five more."""
    import signal
    import subprocess
    import sys

    from tests.conftest import free_port

    now = dt.datetime.now(dt.UTC)
    month = now.date().replace(day=1)
    setup.budgets_file(
        '  - {id: cap, scope: user, period: month, limit_usd: "0.076", thresholds: [100]}\n'
    )
    setup.publish(spend=[("cap", "user", "someone-else", "month", month, Decimal(1), 0)])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))} | {
        "COSTWATCH_HOME": str(tmp_path),
        "COSTWATCH_BUDGETS": str(setup.budgets),
    }
    port = free_port()

    def start() -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "guard", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert "costwatch guard: http://127.0.0.1" in process.stdout.readline()
        return process

    def decisions(n: int) -> list[str]:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            return [client.post("/v1/check", json=call()).json()["decision"] for _ in range(n)]

    guard = start()
    try:
        assert decisions(5) == ["allow"] * 5
    finally:
        guard.send_signal(signal.SIGKILL)
        guard.wait()
    guard = start()
    try:
        assert decisions(6) == ["allow"] * 5 + ["block"]
    finally:
        guard.terminate()
        guard.wait()
    assert (tmp_path / "guard" / "ledger.sqlite3").exists()  # the default ledger, under the home


def test_which_budgets_apply_and_their_periods(setup):
    setup.budgets_file(
        '  - {id: other-key, scope: api_key, scope_id: k9, period: day, limit_usd: "1"}\n'
        '  - {id: daily, scope: project, scope_id: p1, period: day, limit_usd: "100"}\n'
        '  - {id: one-call, scope: interaction, period: session, limit_usd: "1"}\n'
        '  - {id: org, scope: organisation, period: month, limit_usd: "100"}\n'
    )
    setup.publish(
        spend=[("org", "organisation", "organisation", "month", NOV, Decimal("79.9924"), 0)]
    )
    _, answer = setup.guard().check(call(request_id="req-7"))
    assert [(b["budget_id"], b["scope_id"], b["period_start"]) for b in answer["budgets"]] == [
        ("daily", "p1", "2026-11-20"),
        ("one-call", "req-7", "session"),
        ("org", "organisation", "2026-11-01"),
    ]
    # exactly at a threshold: 79.9924 + 0.0076 = 80
    assert only(answer, "org")["share_after_pct"] == 80.0
    assert only(answer, "org")["threshold_reached"] == 80 and answer["decision"] == "warn"
