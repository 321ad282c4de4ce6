"""Rerunnable benchmarks; writes BENCHMARKS.md. Run with `make bench`.

Measured here (medians of --repeat runs):
1. ingestion of generated llm_call logs by the project's reader (validation, dedup, quarantine
   included) vs DuckDB reading the same files with a plain `read_json` into a table (the floor);
2. pricing the same calls in SQL (the dbt model marts.cost_breakdown, its execution time as dbt
   reports it) vs `genai_prices.calc_price` called once per call in Python.

Not yet measured (issue "Performance at 100x"): the daily run on a year of history, full rebuild,
analyst query latencies, peak memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from sources.event_log import discover_files, ingest_range  # noqa: E402
from sources.pricing import calc_price_per_call  # noqa: E402
from sources.sample_data import PRICING_DAYS, write_pricing_calls  # noqa: E402

READ_JSON_COLUMNS = {
    "event_id": "VARCHAR",
    "type": "VARCHAR",
    "ts": "VARCHAR",
    "user_id": "VARCHAR",
    "session_id": "VARCHAR",
    "provider": "VARCHAR",
    "model": "VARCHAR",
    "service_tier": "VARCHAR",
    "input_tokens": "BIGINT",
    "cached_input_tokens": "BIGINT",
    "cache_write_tokens": "BIGINT",
    "cache_write_1h_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "reasoning_tokens": "BIGINT",
    "duration_ms": "DOUBLE",
}


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_ingest(events_dir: Path, work: Path, repeat: int) -> dict:
    files = [str(f.path) for f in discover_files(events_dir)]
    start, end = min(PRICING_DAYS), max(PRICING_DAYS)

    def project() -> None:
        db = work / "ingest.duckdb"
        db.unlink(missing_ok=True)
        with duckdb.connect(str(db)) as con:
            ingest_range(con, events_dir, start, end)

    def floor() -> None:
        db = work / "floor.duckdb"
        db.unlink(missing_ok=True)
        with duckdb.connect(str(db)) as con:
            con.execute(
                "create table t as select * from "
                "read_json(?, columns = ?, format = 'newline_delimited')",
                [files, READ_JSON_COLUMNS],
            )

    return {"project_s": _median_time(project, repeat), "floor_s": _median_time(floor, repeat)}


def bench_pricing(events: list[dict], home: Path, repeat: int) -> dict:
    env = {**os.environ, "COSTWATCH_HOME": str(home)}
    for k in ("COSTWATCH_WAREHOUSE", "COSTWATCH_EVENTS_DIR", "COSTWATCH_PUBLISHED", "DAGSTER_HOME"):
        env.pop(k, None)
    start, end = min(PRICING_DAYS).isoformat(), max(PRICING_DAYS).isoformat()
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--start", start, "--end", end],
        cwd=REPO,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pipeline_s = time.perf_counter() - t0
    dbt_env = {**env, "COSTWATCH_WAREHOUSE": str(home / "warehouse.duckdb")}
    target = home / "dbt-target"
    sql_times = []
    for _ in range(repeat):
        subprocess.run(
            [
                str(Path(sys.executable).parent / "dbt"),
                "run",
                "--quiet",
                "--select",
                "cost_breakdown",
                "--target-path",
                str(target),
                "--project-dir",
                "dbt_project",
                "--profiles-dir",
                "dbt_project",
            ],
            cwd=REPO,
            env=dbt_env,
            check=True,
        )
        results = json.loads((target / "run_results.json").read_text())["results"]
        sql_times.append(results[0]["execution_time"])
    python_s = _median_time(lambda: [calc_price_per_call(ev) for ev in events], 1)
    return {
        "pipeline_s": pipeline_s,
        "sql_s": statistics.median(sql_times),
        "calc_price_s": python_s,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="costwatch-bench-") as tmp:
        home = Path(tmp)
        events = write_pricing_calls(home / "events", n=args.calls)
        size_mb = sum(f.size_bytes for f in discover_files(home / "events")) / 1e6
        print(f"{len(events)} calls, {size_mb:.1f} MB of JSON Lines", flush=True)
        ingest = bench_ingest(home / "events", home, args.repeat)
        print(f"ingest: {ingest}", flush=True)
        pricing = bench_pricing(events, home, args.repeat)
        print(f"pricing: {pricing}", flush=True)
    n = len(events)
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "# Benchmarks",
        "",
        f"Written by `benchmarks/run.py --calls {args.calls} --repeat {args.repeat}` on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Rerun with `make bench`.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {mem_gb:.0f} GiB; Python "
        f"{platform.python_version()}; duckdb {version('duckdb')}, dbt-core {version('dbt-core')}, "
        f"dbt-duckdb {version('dbt-duckdb')}, dagster {version('dagster')}, genai-prices "
        f"{version('genai-prices')}.",
        "",
        f"Data: {n:,} llm_call events over {len(PRICING_DAYS)} days, {size_mb:.1f} MB of JSON "
        "Lines, every price feature (see `sources/sample_data.py::write_pricing_calls`).",
        "",
        "| measurement | time (median) | rate | ratio |",
        "|---|---|---|---|",
        "| ingestion, project reader (validate, dedup, quarantine, load) | "
        f"{ingest['project_s']:.2f} s | {n / ingest['project_s']:,.0f} rows/s | "
        f"{ingest['project_s'] / ingest['floor_s']:.2f}x the floor |",
        f"| ingestion floor: plain `read_json` into a table | {ingest['floor_s']:.2f} s "
        f"| {n / ingest['floor_s']:,.0f} rows/s | 1 |",
        f"| pricing in SQL (`marts.cost_breakdown`, dbt execution time) | {pricing['sql_s']:.2f} s "
        f"| {n / pricing['sql_s']:,.0f} calls/s | 1 |",
        "| pricing with `genai_prices.calc_price`, one call at a time | "
        f"{pricing['calc_price_s']:.2f} s "
        f"| {n / pricing['calc_price_s']:,.0f} calls/s "
        f"| {pricing['calc_price_s'] / pricing['sql_s']:.0f}x slower than SQL |",
        f"| whole pipeline once (`costwatch run`, Dagster + dbt + publish) | "
        f"{pricing['pipeline_s']:.1f} s | | |",
        "",
        "Not measured yet: the daily run on top of a year of history, a full rebuild of a year, "
        'analyst query latencies and peak memory (issue "Performance at 100x the seed scale").',
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
