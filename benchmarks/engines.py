"""The same day on three engines (issue 16): DuckDB (the embedded default), Spark `local[2]` and a
Spark standalone cluster of two one-core workers on 127.0.0.1; then a scale model from the
measured per-stage times. Results go into BENCHMARKS.json (results.engines) and BENCHMARKS.md.
Run with `make bench` (all) or `make bench-engines` (this only).

Each measurement is a fresh home: a small seed day (100 sessions) through `costwatch run`, so
that the measured run finds its tables as a daily run does, then the measured day (10x or 100x
the seed's sessions) through `costwatch run`: wall time, the peak memory of the processes the
run waited for (Dagster, dbt; not the Spark driver's JVM, which pyspark does not wait for, nor a
cluster's executors, capped by `spark.executor.memory`), each step's time from the instance.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.history_search import lines as history_search_lines  # noqa: E402
from benchmarks.history_search import measure as measure_history_search  # noqa: E402
from benchmarks.run import PROFILE_PARTS, run_profile, timed_run  # noqa: E402
from benchmarks.saved import save_section  # noqa: E402
from benchmarks.scale import write_day  # noqa: E402

SEED_SESSIONS = 100  # the demo's day: 1x
ENGINES = ("duckdb", "spark local[2]", "spark cluster 2x1")
# the sizes the scale model projects to, in sessions per day (1,000x and 10,000x the seed)
PROJECTED_SESSIONS = (100_000, 1_000_000)
PROJECTED_WORKERS = (2, 8, 32)
MEASURED_CORES = 2
RUN_TIMEOUT_S = 1800
# the parts of a run that Spark's executors do: the dbt models' and tests' SQL, and the reading
# and parsing of the event files (the ingestion's "spark tasks" stage). Every other part runs in
# the driver's process on either engine (DuckDB: the ingestion's ranking of copies and writes, the
# copies between warehouse and lake, archive, publish, report, checks; docs/spark.md), and more
# workers do not speed it up. The ingestion's search of the lake for stored copies (stage `spark
# history search`) is a Spark query, but it starts with the driver's copy of the changed days to
# the lake: counted with the driver's parts, which overstates them.
ON_SPARK = "dbt SQL"
INGEST_ON_SPARK = "ingest on Spark"
DISTRIBUTED = (ON_SPARK, INGEST_ON_SPARK)


def _parts(wall_s: float, profile: dict) -> dict[str, float]:
    """Seconds per part of the run (the columns of BENCHMARKS.md's per-step tables)."""
    steps = dict(profile["steps"])
    parts = {"start-up": wall_s - profile["run_s"]}
    for part, keys in PROFILE_PARTS.items():
        seconds = sum(steps.pop(k, 0.0) for k in keys)
        if part == "dbt":  # the models' and tests' own execution times, and the rest of the step
            parts[ON_SPARK] = profile["dbt_sql_s"]
            parts["dbt other"] = seconds - profile["dbt_sql_s"]
        elif part == "ingest":  # the Spark tasks' reading and parsing, and the rest
            on_spark = profile.get("ingest_stages", {}).get("spark tasks", 0.0)
            parts[INGEST_ON_SPARK] = on_spark
            parts[part] = seconds - on_spark
        else:
            parts[part] = seconds
    parts["checks and Dagster"] = wall_s - sum(parts.values())
    return parts


def _home(work: Path, engine: str, sessions: int) -> Path:
    return work / f"{engine.replace(' ', '-').replace('[', '').replace(']', '')}-{sessions}"


def _keep_logs(work: Path, engine: str, sessions: int) -> Path:
    """A failed measurement's run logs, copied out of the scratch folder (benchmarks/out/)."""
    home = _home(work, engine, sessions)
    kept = REPO / "benchmarks" / "out" / home.name
    shutil.rmtree(kept, ignore_errors=True)
    if (home / "logs").is_dir():
        shutil.copytree(home / "logs", kept)
    return kept


def measure(engine: str, sessions: int, work: Path, cluster_env: dict | None) -> dict:
    home = _home(work, engine, sessions)
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    seed = day - dt.timedelta(days=1)
    with duckdb.connect() as con:
        write_day(con, home / "events", seed, SEED_SESSIONS)
        _, lines = write_day(con, home / "events", day, sessions)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))}
    env |= {"COSTWATCH_HOME": str(home), "COSTWATCH_START_DATE": seed.isoformat()}
    if engine.startswith("spark"):
        env["COSTWATCH_ENGINE"] = "spark"
        env |= cluster_env if engine.startswith("spark cluster") else {}
        env.setdefault("COSTWATCH_SPARK_MASTER", "local[2]")
        # read by Spark tasks at any size (the product's default reads these days in the run's
        # process): the scale model divides that part among workers
        env["COSTWATCH_SPARK_INGEST_MIN_MB"] = "0"
    print(f"  {engine}, {sessions:,} sessions: seed day", flush=True)
    timed_run(env, seed, seed, cwd=home, timeout_s=RUN_TIMEOUT_S)
    print(f"  {engine}, {sessions:,} sessions: measured day", flush=True)
    # in the home: Spark and Derby write their logs to the working folder
    wall_s, peak_mib = timed_run(env, day, day, cwd=home, timeout_s=RUN_TIMEOUT_S)
    profile = run_profile(home / "dagster")
    if profile["run_s"] > wall_s:  # seen once (2026-12-04 09:50): its parts would not add up
        raise RuntimeError(
            f"the Dagster run took {profile['run_s']:.1f} s by the instance, longer than the "
            f"{wall_s:.1f} s measured around `costwatch run`: not a measurement to model"
        )
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (interactions,) = con.execute(
            "select count(*) from marts.interactions where interaction_day = ?", [day]
        ).fetchone()
    shutil.rmtree(home)
    return {
        "engine": engine,
        "sessions_per_day": sessions,
        "lines": lines,
        "interactions": interactions,
        "wall_s": wall_s,
        "peak_mib": peak_mib,
        "dbt_sql_s": profile["dbt_sql_s"],
        "parts_s": _parts(wall_s, profile),
    }


def scale_model(measured: list[dict]) -> list[dict]:
    """Per engine, each part's time as fixed + per-session cost, fitted on the two measured sizes
    (negative fits clipped to 0), projected to PROJECTED_SESSIONS: on this machine for DuckDB and
    Spark local[2]; on N one-core workers for the cluster, where only the dbt SQL's per-session
    part divides by the workers (N / MEASURED_CORES times the measured cores), the driver's parts
    do not."""
    out = []
    for engine in dict.fromkeys(m["engine"] for m in measured):
        runs = sorted((m for m in measured if m["engine"] == engine), key=lambda m: m["lines"])
        if len(runs) < 2:
            continue
        small, large = runs[0], runs[-1]
        fits = {}
        for part in large["parts_s"]:
            per = (large["parts_s"][part] - small["parts_s"][part]) / (
                large["sessions_per_day"] - small["sessions_per_day"]
            )
            per = max(per, 0.0)
            fixed = max(small["parts_s"][part] - per * small["sessions_per_day"], 0.0)
            fits[part] = (fixed, per)
        cluster = engine.startswith("spark cluster")  # local[2] and DuckDB: one machine
        for sessions in PROJECTED_SESSIONS:
            for n in PROJECTED_WORKERS if cluster else (MEASURED_CORES,):
                parts = {}
                for part, (fixed, per) in fits.items():
                    variable = per * sessions
                    if part in DISTRIBUTED:
                        variable *= MEASURED_CORES / n
                    parts[part] = fixed + variable
                driver = sum(v for p, v in parts.items() if p not in DISTRIBUTED)
                out.append(
                    {
                        "engine": engine,
                        "sessions_per_day": sessions,
                        "workers": n if cluster else None,
                        "projected_s": sum(parts.values()),
                        "driver_s": driver,
                        "largest_part": max(parts, key=parts.get),
                    }
                )
    return out


def engine_lines(e: dict, direct: list[dict]) -> list[str]:
    """BENCHMARKS.md's section (rendered by benchmarks/run.py); `direct`: the histories built
    directly, for the warehouse's size per year."""
    parts = list(e["measured"][0]["parts_s"]) if e["measured"] else []
    out = [
        "",
        "## The same day on DuckDB and on Spark (`benchmarks/engines.py`)",
        "",
        f"Measured on {e['measured_at']} UTC ({e['cores']} cores): each run a fresh home, a "
        f"{SEED_SESSIONS}-session seed day, then the measured day through `costwatch run`. Peak "
        "memory is the largest process the run waited for (Dagster, dbt): it leaves out the "
        "Spark driver's JVM, which pyspark starts and does not wait for, and the cluster's "
        f"executors, the workers' processes, capped at `spark.executor.memory` "
        f"({e['executor_memory']}). Tasks per executor on the cluster: {e['cluster_tasks']}.",
        "",
        "| engine | sessions/day | interactions | wall | peak | " + " | ".join(parts) + " |",
        "|---|---|---|---|---|" + "---|" * len(parts),
    ]
    for f in e.get("failed", []):
        out.append(f"| {f['engine']} | {f['sessions_per_day']:,} | FAILED: {f['error']} |")
    for m in e["measured"]:
        cells = " | ".join(f"{m['parts_s'][p]:.1f}" for p in parts)
        out.append(
            f"| {m['engine']} | {m['sessions_per_day']:,} | {m['interactions']:,} | "
            f"{m['wall_s']:.1f} s | {m['peak_mib']:,.0f} MiB | {cells} |"
        )
    out += [
        "",
        "A scale model, not a measurement: each part's time fitted as fixed + per session on the "
        "two sizes above, projected to 1,000x and 10,000x the seed's day. On Spark the "
        "per-session parts of the dbt SQL and of the event files' reading and parsing (`ingest "
        "on Spark`, when measured) divide among workers; the ingestion's ranking of copies and "
        "writes, the copies between the warehouse and the lake (`dbt other`), archive, publish "
        "and report run in the driver's DuckDB (docs/spark.md) and do not get faster with "
        "workers; the ingestion's search of the lake for stored copies, a Spark query that "
        "starts with the driver's copy of the changed days to the lake, is counted with them.",
        "",
        "| engine | sessions/day | workers | projected daily run | of which in the driver "
        "| largest part |",
        "|---|---|---|---|---|---|",
    ]
    for p in e["model"]:
        workers = "-" if p["workers"] is None else str(p["workers"])
        out.append(
            f"| {p['engine']} | {p['sessions_per_day']:,} | {workers} | "
            f"{p['projected_s']:,.0f} s | {p['driver_s']:,.0f} s | {p['largest_part']} |"
        )
    out += [
        "",
        "What a 2-core machine cannot show: a speed-up beyond two cores (the cluster's two "
        "workers share this machine's two cores with the driver, Dagster and dbt), network "
        "shuffles between machines, object storage's latency, or executors with more memory "
        "than this machine has. The model's division of the dbt step among workers is the "
        "ideal; shuffles (sessions, dedup by id, the budget scopes) make it worse.",
    ]
    if e.get("history_search"):
        out += history_search_lines(e["history_search"])
    year = [d for d in direct if d["days"] == 365 and d["sessions_per_day"] == 10_000]
    if year:
        gb = year[0]["warehouse_mb"] / 1000
        out += [
            "",
            "Where DuckDB stops: one writer and one file on one machine. Its daily run grows with "
            f"the day's size (the model's DuckDB rows) and its warehouse by {gb:,.0f} GB a year "
            f"at 100x (measured above), so about {gb * 100 / 1000:,.1f} TB a year in one file "
            "at 10,000x, and each day ingested and built by one process.",
        ]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="1000,10000", help="sessions per day of the measured days")
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.json")
    args = p.parse_args()
    from sources.spark.cluster import executors_with_tasks, local_cluster

    engines = args.engines.split(",")
    measured: list[dict] = []
    failed: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="costwatch-engines-") as tmp:
        work = Path(tmp)
        with local_cluster(work / "cluster") as cluster:
            for sessions in (int(s) for s in args.sizes.split(",")):
                for engine in engines:
                    try:
                        measured.append(measure(engine, sessions, work, cluster.env()))
                    except RuntimeError as e:  # the others are still measured; the logs kept
                        kept = _keep_logs(work, engine, sessions)
                        failed.append({"engine": engine, "sessions_per_day": sessions,
                                       "error": f"{e} (logs copied to {kept})"})  # fmt: skip
                        print(f"  FAILED: {failed[-1]['error']}", flush=True)
                        continue
                    print(f"  {measured[-1]}", flush=True)
            tasks = executors_with_tasks(cluster.event_log)
            conf = (cluster.conf_dir / "spark-defaults.conf").read_text().splitlines()
        history_search = measure_history_search(work / "history-search")
        print(f"  {history_search}", flush=True)
    memory = [line.split()[1] for line in conf if line.startswith("spark.executor.memory")]
    results = {
        "measured_at": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
        "cores": os.cpu_count(),
        "executor_memory": memory[0] if memory else "Spark's default",
        "cluster_tasks": {k: v for k, v in sorted(tasks.items())},
        "measured": measured,
        "model": scale_model(measured),
        "history_search": history_search,
        "failed": failed,
    }
    save_section(args.out, "engines", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
