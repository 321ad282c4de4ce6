"""The pre-call guard under load (issue 19): `costwatch guard` as its own process, this script as
the application, both on this machine over loopback. Results go into BENCHMARKS.json
(results.guard) and BENCHMARKS.md. Run with `make bench` (all) or `make bench-guard` (this only).

1. open loop: requests sent on a fixed schedule (--rate per second for --seconds) by --clients
   threads with keep-alive connections; latency from the scheduled send time to the answer, so a
   slow answer also delays the ones behind it (no coordinated omission);
2. closed loop: --clients threads sending as fast as answers come, for the throughput;
3. in process: `Guard.check` called directly, for the decision's own cost.
Every request is a real decision that reserves: 10,000 users each with a monthly budget, an
organisation budget, a project's daily budget and a session token budget.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.saved import save_section  # noqa: E402
from sources.demo.guard_copy import write_copy  # noqa: E402
from sources.guard.service import Guard  # noqa: E402

USERS = 10_000
BUDGETS = """\
version: "bench"
default_thresholds: [80, 100]
budgets:
  - {id: org-monthly, scope: organisation, period: month, limit_usd: "1000000"}
  - {id: support-bot-daily, scope: project, scope_id: proj_main, period: day, limit_usd: "100000"}
  - {id: per-user-monthly, scope: user, period: month, limit_usd: "1000"}
  - {id: session-tokens, scope: session, period: session, limit_tokens: 100000000}
"""


def write_home(home: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    month, today = now.date().replace(day=1), now.date()
    rng = random.Random(19)
    spend = [("org-monthly", "organisation", "organisation", "month", month, Decimal("5000"), 0)]
    spend.append(("support-bot-daily", "project", "proj_main", "day", today, Decimal(50), 0))
    spend += [
        ("per-user-monthly", "user", f"u{i:05d}", "month", month,
         Decimal(rng.randint(0, 10**9)).scaleb(-9) * 400, 0)
        for i in range(USERS)
    ]  # fmt: skip
    sessions = [(f"s{i:05d}", today, Decimal("0.01"), 1000, 500) for i in range(USERS)]
    (home / "budgets.yaml").write_text(BUDGETS)
    write_copy(
        home / "analytics.duckdb",
        REPO / "custom_prices.yaml",
        spend=spend,
        sessions=sessions,
        as_of_day=today,
    )


def body(rng: random.Random) -> dict:
    user = rng.randrange(USERS)
    return {
        "user_id": f"u{user:05d}",
        "session_id": f"s{user:05d}",
        "project_id": "proj_main",
        "provider": "acme",
        "model": "acme-rerank-v2",
        "input_tokens": rng.randint(100, 8000),
        "max_output_tokens": 1000,
    }


class Client:
    """A keep-alive HTTP/1.1 connection (the standard library's: the lightest client at hand, so
    the measurement is the guard's, not the client's)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def check(self, payload: dict) -> tuple[int, dict]:
        data = json.dumps(payload).encode()
        self.connection.request("POST", "/v1/check", data, {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())

    def close(self) -> None:
        self.connection.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def open_loop(port: int, rate: int, seconds: int, clients: int) -> dict:
    total = rate * seconds
    latencies: list[float] = []
    errors: list[str] = []
    decisions: dict[str, int] = {}
    lock = threading.Lock()
    start = time.perf_counter() + 0.5

    def worker(k: int) -> None:
        rng = random.Random(k)
        client = Client(port)
        for i in range(k, total, clients):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            status, answer = client.check(body(rng))
            took = time.perf_counter() - due
            with lock:
                latencies.append(took)
                if status != 200:
                    errors.append(str(status))
                else:
                    decisions[answer["decision"]] = decisions.get(answer["decision"], 0) + 1
        client.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "rate_per_s": rate,
        "requests": total,
        "achieved_per_s": round(total / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "max_ms": round(max(latencies) * 1000, 3),
        "errors": len(errors),
        "decisions": decisions,
    }


def closed_loop(port: int, seconds: int, clients: int) -> dict:
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        rng = random.Random(1000 + k)
        client = Client(port)
        while time.perf_counter() < stop:
            status, _ = client.check(body(rng))
            assert status == 200, status
            done[k] += 1
        client.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"clients": clients, "requests_per_s": round(sum(done) / (time.perf_counter() - began))}


def in_process(home: Path, n: int) -> dict:
    guard = Guard(home / "budgets.yaml", home / "analytics.duckdb", home / "inproc.sqlite3")
    rng = random.Random(7)
    times = []
    for _ in range(n):
        b = body(rng)
        t = time.perf_counter()
        guard.check(b)
        times.append(time.perf_counter() - t)
    guard.close()
    return {
        "checks": n,
        "p50_ms": round(percentile(times, 0.5) * 1000, 3),
        "p99_ms": round(percentile(times, 0.99) * 1000, 3),
    }


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="costwatch-guard-bench-") as tmp:
        home = Path(tmp)
        write_home(home)
        print(f"published copy with {USERS:,} users' budgets written", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COSTWATCH_")} | {
            "COSTWATCH_HOME": str(home),
            "COSTWATCH_BUDGETS": str(home / "budgets.yaml"),
        }
        guard = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "guard", "--port", str(args.port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            print(guard.stdout.readline().strip(), flush=True)  # type: ignore[union-attr]
            open_loop(args.port, 100, 2, 4)  # warm-up
            loaded = open_loop(args.port, args.rate, args.seconds, args.clients)
            print(f"open loop: {loaded}", flush=True)
            throughput = closed_loop(args.port, args.seconds, args.clients)
            print(f"closed loop: {throughput}", flush=True)
            peak = peak_rss_mib(guard.pid)
        finally:
            guard.terminate()
            guard.wait()
        direct = in_process(home, 5000)
        print(f"in process: {direct}", flush=True)
    return {
        "measured_at": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
        "users": USERS,
        "cores": os.cpu_count(),
        "open_loop": loaded,
        "closed_loop": throughput,
        "in_process": direct,
        "guard_peak_rss_mib": peak,
        "target": {"p99_ms": 5.0, "rate_per_s": 500},
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rate", type=int, default=500, help="requests per second (default 500)")
    p.add_argument("--seconds", type=int, default=30, help="length of each loop (default 30)")
    p.add_argument("--clients", type=int, default=16, help="client threads (default 16)")
    p.add_argument("--port", type=int, default=18787)
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.json")
    args = p.parse_args()
    results = run(args)
    save_section(args.out, "guard", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
