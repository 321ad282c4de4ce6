"""Budget alerts exactly once when things die (issue 15, items 8-12): a process killed between
deliveries, a torn last line in the alert log, two evaluations at once, a slow receiver, and
alerts recorded before a webhook was configured. A real published DuckDB file, a real HTTP
receiver on 127.0.0.1, the sensor's evaluation function (in this process and in others)."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

USERS = [f"user_{i}" for i in range(5)]
MONTH = dt.date(2026, 11, 1)
EVALUATE = (
    "from orchestration.sensors import evaluate_budgets; import json; "
    "print(json.dumps(evaluate_budgets(None)[1]))"
)


class Receiver(ThreadingHTTPServer):
    """Records every POST (one per delivery attempt); `on_post(n)` runs before answering."""

    def __init__(self, delay: float = 0.0, on_post=None) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.posts.append(body)
                    n = len(outer.posts)
                if outer.on_post is not None:
                    outer.on_post(n)
                time.sleep(outer.delay)
                self.send_response(200)
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        self.posts: list[dict] = []
        self.lock = threading.Lock()
        self.delay, self.on_post = delay, on_post
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def scopes(self) -> Counter:
        return Counter(p["text"].split(": user ")[1].split(",")[0] for p in self.posts)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTWATCH_HOME", str(tmp_path))
    for k in ("COSTWATCH_PUBLISHED", "COSTWATCH_WAREHOUSE", "COSTWATCH_EVENTS_DIR"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.delenv("COSTWATCH_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("COSTWATCH_ALERT_SEND_PAST_PERIODS", raising=False)
    return tmp_path


def publish(home: Path, users: list[str] = USERS, period_start: dt.date = MONTH, current=True):
    """A published copy: one user budget of $10 per user, each at 120% (one alert each)."""
    path, tmp = home / "analytics.duckdb", home / ".analytics.tmp"
    tmp.unlink(missing_ok=True)
    with duckdb.connect(str(tmp)) as con:
        con.execute("create schema marts; create schema meta")
        con.execute(
            """
            create table marts.budget_status as select
              'per-user' as budget_id, 'user' as scope, u as scope_id, 'month' as period,
              $p::DATE as period_start, 10::DECIMAL(18,9) as limit_usd,
              null::BIGINT as limit_tokens, 12::DECIMAL(18,9) as spent_usd,
              0::BIGINT as spent_tokens, 120::DOUBLE as pct_used, 120::DOUBLE as projected_pct,
              100 as highest_threshold_crossed, [100] as thresholds, $c as is_current_period
            from unnest($users::VARCHAR[]) t(u)
            """,
            {"p": period_start, "users": users, "c": current},
        )
        con.execute(
            "create table meta.publish_info as select now()::TIMESTAMP as published_at, "
            "'{}'::JSON as info"
        )
    os.replace(tmp, path)


def _evaluate():
    from orchestration.sensors import evaluate_budgets

    return evaluate_budgets(None)[1]


def _env(home: Path, webhook: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTWATCH_")}
    return {**env, "COSTWATCH_HOME": str(home), "COSTWATCH_ALERT_WEBHOOK_URL": webhook}


def test_a_process_killed_between_deliveries_repeats_at_most_the_alert_in_flight(home):
    publish(home)
    proc: list[subprocess.Popen] = []

    def kill_on_third(n: int) -> None:
        if n == 3:  # two delivered, the third in flight
            proc[0].send_signal(signal.SIGKILL)
            proc[0].wait(timeout=30)

    receiver = Receiver(on_post=kill_on_third)
    try:
        env = _env(home, receiver.url)
        proc.append(subprocess.Popen([sys.executable, "-c", EVALUATE], env=env))
        proc[0].wait(timeout=60)
        assert proc[0].returncode == -signal.SIGKILL
        assert len(receiver.posts) == 3
        again = subprocess.run(
            [sys.executable, "-c", EVALUATE], env=env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0, again.stderr
        counts = receiver.scopes()
        assert set(counts) == set(USERS)
        assert sorted(counts.values()) == [1, 1, 1, 1, 2]  # only the one in flight, twice
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_a_torn_last_line_never_swallows_the_next_record(home, monkeypatch):
    publish(home)
    receiver = Receiver()
    monkeypatch.setenv("COSTWATCH_ALERT_WEBHOOK_URL", receiver.url)
    try:
        log = home / "alerts" / "alerts.jsonl"
        log.parent.mkdir(parents=True)
        log.write_text('{"alert_id": "torn-by-a-cra')  # a crash mid-append, no newline
        assert _evaluate()["delivered"] == 5
        records = [json.loads(x) for x in log.read_text().splitlines()[1:]]
        assert len(records) == 5 and all(r["delivered"] for r in records)
        # the next evaluations (new publishes) send nothing again
        publish(home)
        assert _evaluate()["delivered"] == 0
        publish(home)
        assert _evaluate()["delivered"] == 0
        assert sorted(receiver.scopes().values()) == [1] * 5
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_two_evaluations_at_once_send_each_alert_once(home, monkeypatch):
    publish(home)
    receiver = Receiver(delay=0.2)
    monkeypatch.setenv("COSTWATCH_ALERT_WEBHOOK_URL", receiver.url)
    try:
        env = _env(home, receiver.url)
        procs = [subprocess.Popen([sys.executable, "-c", EVALUATE], env=env) for _ in range(2)]
        for p in procs:
            assert p.wait(timeout=60) == 0
        assert sorted(receiver.scopes().values()) == [1] * 5
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_the_block_list_is_written_before_any_delivery(home, monkeypatch):
    publish(home)
    seen: list[list[str]] = []

    def read_blocklist(n: int) -> None:
        path = home / "blocklist.json"
        blocked = json.loads(path.read_text())["blocked"] if path.exists() else []
        seen.append(sorted(b["scope_id"] for b in blocked))

    receiver = Receiver(delay=0.3, on_post=read_blocklist)
    monkeypatch.setenv("COSTWATCH_ALERT_WEBHOOK_URL", receiver.url)
    try:
        _evaluate()
        assert seen and seen[0] == sorted(USERS)
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_alerts_recorded_without_a_webhook_send_only_current_periods_once_one_is_set(
    home, monkeypatch
):
    # last month's alerts, then this month's, all recorded while no webhook is configured
    publish(home, USERS[:2], dt.date(2026, 10, 1), current=False)
    assert _evaluate()["new_alerts"] == 2
    publish(home, USERS[2:], MONTH, current=True)
    assert _evaluate()["new_alerts"] == 3
    receiver = Receiver()
    monkeypatch.setenv("COSTWATCH_ALERT_WEBHOOK_URL", receiver.url)
    try:
        summary = _evaluate()
        assert summary["delivered"] == 3
        assert sorted(receiver.scopes()) == sorted(USERS[2:])
        # a documented flag sends the past periods' alerts too
        publish(home, USERS[:2], dt.date(2026, 10, 1), current=False)
        monkeypatch.setenv("COSTWATCH_ALERT_SEND_PAST_PERIODS", "1")
        assert _evaluate()["delivered"] == 2
        assert sorted(receiver.scopes()) == sorted(USERS)
    finally:
        receiver.shutdown()
        receiver.server_close()
