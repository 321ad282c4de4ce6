"""Budget alerts end to end at the sensor: a real published DuckDB file, a real HTTP receiver."""

import datetime as dt
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.sensors import budget_alerts_sensor

MONTH = dt.date(2026, 11, 1)


class Receiver(ThreadingHTTPServer):
    """Records Slack-style webhook POSTs; answers `status` (500 to simulate an outage)."""

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.status == 200:
                    outer.received.append(body)
                self.send_response(outer.status)
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[dict] = []
        self.status = 200
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTWATCH_HOME", str(tmp_path))
    for k in ("COSTWATCH_PUBLISHED", "COSTWATCH_WAREHOUSE", "COSTWATCH_EVENTS_DIR"):
        monkeypatch.delenv(k, raising=False)
    receiver = Receiver()
    monkeypatch.setenv("COSTWATCH_ALERT_WEBHOOK_URL", receiver.url)
    yield tmp_path, receiver
    receiver.shutdown()
    receiver.server_close()


def publish(home: Path, spent: str, period_start: dt.date = MONTH, stamp: int = 0) -> None:
    """A published copy holding one organisation budget of $100 with `spent` USD spent."""
    path = home / "analytics.duckdb"
    tmp = home / ".analytics.tmp"
    tmp.unlink(missing_ok=True)
    with duckdb.connect(str(tmp)) as con:
        con.execute("create schema marts; create schema meta")
        con.execute(
            """
            create table marts.budget_status as select
              'org-monthly' as budget_id, 'organisation' as scope, 'organisation' as scope_id,
              'month' as period, $p::DATE as period_start, 100::DECIMAL(18,9) as limit_usd,
              null::BIGINT as limit_tokens, $s::DECIMAL(18,9) as spent_usd,
              0::BIGINT as spent_tokens,
              $s::DOUBLE as pct_used, $s::DOUBLE as projected_pct,
              null::INTEGER as highest_threshold_crossed, [50, 80, 90, 100] as thresholds,
              true as is_current_period
            """,
            {"p": period_start, "s": spent},
        )
        con.execute(
            "create table meta.publish_info as select $t::TIMESTAMP as published_at, "
            "'{}'::JSON as info",
            {"t": dt.datetime(2026, 11, 20) + dt.timedelta(minutes=stamp)},
        )
    os.replace(tmp, path)


def tick(cursor: str | None) -> str:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        result = budget_alerts_sensor(context)
        assert isinstance(result, dg.SkipReason)
        return context.cursor


def thresholds(receiver: Receiver) -> list[str]:
    return [m["blocks"][0]["text"]["text"] for m in receiver.received]


def blocklist(home: Path) -> list[dict]:
    return json.loads((home / "blocklist.json").read_text())["blocked"]


def test_each_threshold_once_in_order_then_next_month_again(home):
    root, receiver = home
    publish(root, "101")
    cursor = tick(None)
    assert thresholds(receiver) == [
        "Budget org-monthly crossed 50%",
        "Budget org-monthly crossed 80%",
        "Budget org-monthly crossed 90%",
        "Budget org-monthly crossed 100%",
    ]
    first = receiver.received[0]
    assert "organisation organisation, $101.0000 of $100.00 (101.0%)" in first["text"]
    assert first["blocks"][2]["text"]["text"].startswith("<http://127.0.0.1:3000/assets/marts/")
    assert [b["budget_id"] for b in blocklist(root)] == ["org-monthly"]
    cursor = tick(cursor)  # the next tick, same published copy
    publish(root, "101", stamp=1)  # a rerun publishes the same numbers again
    tick(cursor)
    tick(None)  # a lost cursor (daemon state wiped) still raises nothing twice
    assert len(receiver.received) == 4
    publish(root, "55", period_start=dt.date(2026, 12, 1), stamp=2)  # the next month
    tick(cursor)
    assert thresholds(receiver)[4:] == ["Budget org-monthly crossed 50%"]
    assert blocklist(root) == []  # rolled over: off the block list


def test_projection_alert_once_per_period(home):
    root, receiver = home
    path_spent = "30"
    publish(root, path_spent)
    with duckdb.connect(str(root / "analytics.duckdb")) as con:
        con.execute("update marts.budget_status set projected_pct = 140")
    tick(None)
    tick(None)
    assert thresholds(receiver) == ["Budget org-monthly is projected to exceed its limit"]


def test_a_failed_delivery_is_retried_later_and_never_lost(home):
    root, receiver = home
    receiver.status = 500
    publish(root, "60")
    cursor = tick(None)
    assert receiver.received == []
    log = [json.loads(x) for x in (root / "alerts" / "alerts.jsonl").read_text().splitlines()]
    assert [(r["threshold_pct"], r["delivered"]) for r in log] == [(50, False)]
    receiver.status = 200
    tick(cursor)
    tick(cursor)
    assert thresholds(receiver) == ["Budget org-monthly crossed 50%"]


def test_without_a_webhook_alerts_are_recorded_not_sent(home, monkeypatch):
    root, receiver = home
    monkeypatch.delenv("COSTWATCH_ALERT_WEBHOOK_URL")
    publish(root, "85")
    tick(None)
    log = [json.loads(x) for x in (root / "alerts" / "alerts.jsonl").read_text().splitlines()]
    assert [(r["threshold_pct"], r["delivered"]) for r in log] == [(50, False), (80, False)]
    assert receiver.received == []
