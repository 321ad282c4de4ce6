"""Which alerts a budget status calls for and the block list it gives
(sources/budgets/alerts.py), called directly: every field of every alert, the projection's
edges, ids already raised, and the block list file as written."""

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest

from sources.budgets.alerts import (
    Alert,
    AlertLog,
    alert_id,
    due_alerts,
    record,
    write_blocklist,
)


def _status(**over) -> dict:
    row = {
        "budget_id": "team-monthly", "scope": "user", "scope_id": "alice", "period": "month",
        "period_start": dt.date(2026, 11, 1), "limit_usd": Decimal("10.000000000"),
        "limit_tokens": None, "spent_usd": Decimal("8.123456789"), "spent_tokens": 1234,
        "pct_used": 81.23456789, "projected_pct": 99.0, "thresholds": [50, 80, 100],
        "is_current_period": True,
    }  # fmt: skip
    row.update(over)
    return row


def _id(kind: str, scope_id: str = "alice", budget: str = "team-monthly") -> str:
    raw = json.dumps([budget, scope_id, "2026-11-01", kind])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def test_alert_id_is_a_hash_of_budget_scope_period_and_kind():
    assert alert_id("team-monthly", "alice", "2026-11-01", "threshold:50") == _id("threshold:50")


def test_every_field_of_each_threshold_alert_lowest_first():
    assert due_alerts([_status()], set(), "fp1") == [
        Alert(
            alert_id=_id(f"threshold:{t}"), kind="threshold", budget_id="team-monthly",
            scope="user", scope_id="alice", period="month", period_start="2026-11-01",
            threshold_pct=t, pct_used=81.2346, spent_usd="8.123456789",
            limit_usd="10.000000000", spent_tokens=1234, limit_tokens=None,
            pseudonym_fingerprint="fp1",
        )
        for t in (50, 80)
    ]  # fmt: skip


def test_a_token_budget_alert():
    (a,) = due_alerts(
        [
            _status(
                limit_usd=None, limit_tokens=1000, spent_tokens=None, pct_used=50.0, thresholds=[50]
            )
        ],
        set(),
    )
    assert (a.limit_usd, a.limit_tokens, a.spent_tokens, a.pseudonym_fingerprint) == (
        None, 1000, 0, "",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("pct_used", "projected_pct", "current", "projected"),
    [
        (81.0, 100.01, True, True),
        (81.0, 100.0, True, False),  # a projection of exactly the limit does not exceed it
        (99.99, 150.0, True, True),
        (100.0, 150.0, True, False),  # at the limit: the 100% threshold alert says it
        (81.0, None, True, False),
        (81.0, 150.0, False, False),  # a past period is not projected
    ],
)
def test_the_projection_alert_edges(pct_used, projected_pct, current, projected):
    row = _status(pct_used=pct_used, projected_pct=projected_pct, is_current_period=current)
    kinds = [(a.kind, a.threshold_pct) for a in due_alerts([row], set())]
    expected = [("threshold", t) for t in (50, 80, 100) if pct_used >= t]
    assert kinds == expected + ([("projected", None)] if projected else [])


def test_ids_already_raised_are_skipped_and_the_rest_still_raised():
    row = _status(pct_used=120.0, projected_pct=130.0)
    raised = {_id("threshold:50"), _id("threshold:80")}
    assert [a.alert_id for a in due_alerts([row], raised)] == [_id("threshold:100")]
    two = [row, _status(scope_id="bob", pct_used=55.0)]
    assert [a.alert_id for a in due_alerts(two, {_id("threshold:50")})] == [
        _id("threshold:80"), _id("threshold:100"), _id("threshold:50", "bob"),
    ]  # fmt: skip


def test_the_block_list_names_current_scopes_at_or_over_the_limit(tmp_path):
    rows = [
        _status(scope_id="zed", pct_used=100.0),
        _status(scope_id="amy", pct_used=250.123456),
        _status(budget_id="a-daily", period="day", scope_id="amy", pct_used=101.0),
        _status(scope_id="bob", pct_used=99.99),
        _status(scope_id="old", pct_used=300.0, is_current_period=False),
    ]
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    path = tmp_path / "state" / "blocklist.json"
    blocked = write_blocklist(path, rows, now)
    entry = {"scope": "user", "period": "month", "period_start": "2026-11-01"}
    expected = [
        {"budget_id": "a-daily", **entry, "period": "day", "scope_id": "amy", "pct_used": 101.0},
        {"budget_id": "team-monthly", **entry, "scope_id": "amy", "pct_used": 250.1235},
        {"budget_id": "team-monthly", **entry, "scope_id": "zed", "pct_used": 100.0},
    ]
    assert blocked == expected
    assert json.loads(path.read_text()) == {
        "updated_at": "2026-11-30T12:00:00+00:00",
        "blocked": expected,
    }
    assert [p.name for p in path.parent.iterdir()] == ["blocklist.json"]  # no temporary left


def test_a_record_is_the_alert_with_its_delivery():
    (a,) = due_alerts([_status(thresholds=[50])], set())
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    assert record(a, False, "HTTP 500", now) == {
        "alert_id": _id("threshold:50"), "kind": "threshold", "budget_id": "team-monthly",
        "scope": "user", "scope_id": "alice", "period": "month", "period_start": "2026-11-01",
        "threshold_pct": 50, "pct_used": 81.2346, "spent_usd": "8.123456789",
        "limit_usd": "10.000000000", "spent_tokens": 1234, "limit_tokens": None,
        "pseudonym_fingerprint": "", "delivered": False, "outcome": "HTTP 500",
        "at": "2026-11-30T12:00:00+00:00",
    }  # fmt: skip


def test_the_alert_log_appends_sorted_json_lines_and_repairs_a_torn_last_line(tmp_path):
    log = AlertLog(tmp_path / "deep" / "alerts")
    log.append([])
    assert not log.path.exists()  # nothing to write: no file
    log.append([{"b": 1, "alert_id": "x"}, {"alert_id": "y", "a": "é"}])
    assert log.path.read_bytes() == (
        b'{"alert_id": "x", "b": 1}\n{"a": "\\u00e9", "alert_id": "y"}\n'
    )
    with log.path.open("ab") as fh:
        fh.write(b"{")  # a crash tore the last line after one byte
    log.append([{"alert_id": "x", "b": 2}])
    assert log.path.read_bytes().endswith(b'\n{\n{"alert_id": "x", "b": 2}\n')
    assert [r["alert_id"] for r in log.records()] == ["x", "y", "x"]
    assert log.latest() == {"x": {"alert_id": "x", "b": 2}, "y": {"a": "é", "alert_id": "y"}}


def test_a_one_byte_log_is_repaired_too(tmp_path):
    log = AlertLog(tmp_path)
    log.path.write_bytes(b"{")
    log.append([{"alert_id": "x"}])
    assert log.path.read_bytes() == b'{\n{"alert_id": "x"}\n'


def _pseudo(key: str, user: str) -> str:
    return "u_" + hashlib.sha256(f"{key}|{user}".encode()).hexdigest()[:20]


def _session_pseudo(key: str, session: str) -> str:
    return "derived-" + hashlib.sha256(f"{key}|session|{session}".encode()).hexdigest()[:32]


def test_the_alert_log_loads_with_real_ids_mapped_back_from_the_current_keys_pseudonyms():
    """The sensor raises alerts from the published (pseudonymised) copy; the warehouse keeps real
    ids so that the next publish pseudonymises them once (issue 23's double hashing)."""
    import duckdb

    from sources.budgets.alerts import write_alert_log
    from sources.publishing.pseudonyms import key_fingerprint

    key, old = "current-key", "earlier-key"
    con = duckdb.connect()
    con.execute("create schema raw; create schema marts")
    con.execute(
        "create table raw.app_events as select * from (values ('alice'), ('bob')) t(user_id)"
    )
    con.execute(
        "create table marts.sessions as select * from "
        "(values ('derived-aaa'), ('logged-1')) t(session_id)"
    )
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    fp, fp_old = key_fingerprint(key), key_fingerprint(old)
    raised = [
        ("user", _pseudo(key, "alice"), fp),  # -> alice
        ("session", _session_pseudo(key, "derived-aaa"), fp),  # -> derived-aaa
        ("session", "logged-1", fp),  # logged session ids are published as they are
        ("user", _pseudo(old, "bob"), fp_old),  # another key's: cannot be mapped, kept
        ("user", _pseudo(key, "nobody"), fp),  # no such user: kept as it is
        ("project", "proj_1", ""),
    ]
    records = []
    for i, (scope, scope_id, fingerprint) in enumerate(raised):
        (a,) = due_alerts(
            [_status(scope=scope, scope_id=scope_id, thresholds=[50], budget_id=f"b{i}")],
            set(),
            fingerprint,
        )
        records.append(record(a, i % 2 == 0, "HTTP 200" if i % 2 == 0 else "HTTP 500", now))
    write_alert_log(con, records, key)
    rows = con.execute(
        "select budget_id, scope, scope_id, pseudonym_fingerprint, period_start, threshold_pct, "
        "spent_usd, limit_usd, delivered, outcome, recorded_at from raw.budget_alerts "
        "order by budget_id"
    ).fetchall()
    expected_ids = [
        ("user", "alice", ""), ("session", "derived-aaa", ""), ("session", "logged-1", ""),
        ("user", _pseudo(old, "bob"), fp_old), ("user", _pseudo(key, "nobody"), fp),
        ("project", "proj_1", ""),
    ]  # fmt: skip
    assert rows == [
        (f"b{i}", *ids, dt.date(2026, 11, 1), 50, Decimal("8.123456789"), Decimal("10"),
         i % 2 == 0, "HTTP 200" if i % 2 == 0 else "HTTP 500", dt.datetime(2026, 11, 30, 12, 0))
        for i, ids in enumerate(expected_ids)
    ]  # fmt: skip
    write_alert_log(con, [], key)  # an empty log empties the table
    assert con.execute("select count(*) from raw.budget_alerts").fetchall() == [(0,)]


def test_the_slack_message_of_a_usd_threshold_alert():
    from sources.budgets.alerts import slack_payload

    (a,) = due_alerts([_status(thresholds=[80], spent_usd=Decimal("1234.56789"))], set())
    headline = "Budget team-monthly crossed 80%"
    fields = [
        "*Scope*\nuser alice", "*Spend*\n$1,234.5679", "*Limit*\n$10.00", "*Share used*\n81.2%",
        "*Period*\nmonth from 2026-11-01",
    ]  # fmt: skip
    assert slack_payload(a, "http://127.0.0.1:3000/") == {
        "text": f"{headline}: user alice, $1,234.5679 of $10.00 (81.2%) for the month from "
        "2026-11-01.",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": headline}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "<http://127.0.0.1:3000/assets/marts/budget_status|Open budget status "
                    "in Dagster>",
                },
            },
        ],
    }


def test_the_slack_message_of_a_token_projection_alert():
    from sources.budgets.alerts import slack_payload

    row = _status(limit_usd=None, limit_tokens=1_000_000, spent_tokens=812_345, pct_used=81.2345,
                  projected_pct=130.0, thresholds=[90], period="day")  # fmt: skip
    (a,) = due_alerts([row], set())
    payload = slack_payload(a, "https://dagster.example")
    assert payload["text"] == (
        "Budget team-monthly is projected to exceed its limit: user alice, 812,345 tokens of "
        "1,000,000 tokens (81.2%) for the day from 2026-11-01."
    )
    assert payload["blocks"][0]["text"]["text"] == (
        "Budget team-monthly is projected to exceed its limit"
    )
    assert [f["text"] for f in payload["blocks"][1]["fields"]][1:3] == [
        "*Spend*\n812,345 tokens",
        "*Limit*\n1,000,000 tokens",
    ]
    assert (
        "<https://dagster.example/assets/marts/budget_status|"
        in (payload["blocks"][2]["text"]["text"])
    )


class _Webhook:
    """A local webhook answering with the given statuses in turn (then 200)."""

    def __init__(self, statuses: list[int]):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        answers, self.bodies = list(statuses), []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(answers.pop(0) if answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def __enter__(self):
        import threading

        serve = lambda: self.server.serve_forever(poll_interval=0.02)  # noqa: E731
        threading.Thread(target=serve, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("statuses", "result", "posts"),
    [
        ([], (True, "HTTP 200"), 1),
        ([204], (True, "HTTP 204"), 1),
        ([500, 503], (True, "HTTP 200"), 3),  # server errors are retried
        ([429, 200], (True, "HTTP 200"), 2),  # so is "too many requests"
        ([500, 500, 500], (False, "HTTP 500"), 3),  # three attempts, then recorded undelivered
        ([404], (False, "HTTP 404"), 1),  # a client error is not retried
        ([301], (False, "HTTP 301"), 1),  # nor is a redirect (not followed)
    ],
)
def test_delivery_retries_server_errors_only(statuses, result, posts):
    import httpx

    from sources.budgets.alerts import deliver

    with _Webhook(statuses) as hook, httpx.Client() as client:
        assert deliver(client, hook.url, {"text": "hi"}) == result
    assert hook.bodies == [{"text": "hi"}] * posts


def test_a_webhook_that_is_not_there_is_an_undelivered_alert_naming_the_error():
    import httpx

    from sources.budgets.alerts import deliver
    from sources.http_server import free_port

    with httpx.Client() as client:
        delivered, outcome = deliver(client, f"http://127.0.0.1:{free_port()}/", {}, 2.0)
    assert (delivered, outcome) == (False, "ConnectError")
