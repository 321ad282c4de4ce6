"""Rerunnable benchmarks; writes BENCHMARKS.md. Run with `make bench`.

Measured here (medians of --repeat runs):
1. ingestion of generated llm_call logs by the project's reader (validation, dedup, quarantine
   included) vs DuckDB reading the same files with a plain `read_json` into a table (the floor);
2. pricing the same calls in SQL (the dbt model marts.cost_breakdown, its execution time as dbt
   reports it) vs `genai_prices.calc_price` called once per call in Python.

3. generated history (`benchmarks/scale.py`; default the seed's size, 100 sessions a day, and
   10x, for a year): full rebuild and the daily run of one new day on top, wall time and peak
   memory; analyst queries p50/p95 on the published copy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from benchmarks.targets import (  # noqa: E402
    PUBLISH_STEP,
    REFERENCE_SESSIONS,
    direct_peak_mib,
    rebuilt_histories,
    target_table,
    targets,
)
from orchestration.runs import DEFAULT_CHUNK_DAYS  # noqa: E402
from sources.dbt_process import DBT_EXECUTABLE  # noqa: E402
from sources.demo.pricing_calls import PRICING_DAYS, write_pricing_calls  # noqa: E402
from sources.demo.reference_prices import calc_price_per_call  # noqa: E402
from sources.events.contract import ENVELOPE_OPTIONAL, ENVELOPE_REQUIRED, FIELDS  # noqa: E402
from sources.events.files import discover_files  # noqa: E402
from sources.events.log import ingest_range  # noqa: E402
from sources.settings import Settings  # noqa: E402

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

# every field of the contract, typed as its column: what `read_json` parses and types in one pass
# (the next step's bound, see `ingest_next_step_note`)
CONTRACT_COLUMNS = {
    **dict.fromkeys(ENVELOPE_REQUIRED, "VARCHAR"),
    **{f.name: f.sql_type for f in ENVELOPE_OPTIONAL},
    **{f.name: f.sql_type for f in FIELDS.values()},
}

# the retention a team has out of the box (`COSTWATCH_RETENTION_DAYS` unset)
DEFAULT_RETENTION_DAYS: int = Settings.model_fields["retention_days"].default


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

    def in_fresh_db(name: str, load, threads: int | None = None) -> Callable[[], None]:
        """A timed step: `load(con)` on a new database file `name` (DuckDB on `threads`
        threads, else on as many as it takes)."""

        def step() -> None:
            db = work / name
            db.unlink(missing_ok=True)
            with duckdb.connect(str(db)) as con:
                if threads:
                    con.execute(f"set threads = {int(threads)}")
                load(con)

        return step

    stages: list[dict[str, float]] = []  # where each run of the project's reader went

    def load(con: duckdb.DuckDBPyConnection) -> None:
        stages.append(ingest_range(con, events_dir, start, end).stage_seconds)

    project = in_fresh_db("ingest.duckdb", load)

    def read_json(columns: dict[str, str]) -> Callable[[duckdb.DuckDBPyConnection], None]:
        """A plain `read_json` of the files into a table, `columns` typed as given."""

        def load_json(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(
                "create table t as select * from "
                "read_json(?, columns = ?, format = 'newline_delimited')",
                [files, columns],
            )

        return load_json

    load_floor, load_typed = read_json(READ_JSON_COLUMNS), read_json(CONTRACT_COLUMNS)
    floor = in_fresh_db("floor.duckdb", load_floor)

    lines = in_fresh_db(
        "lines.duckdb",
        lambda con: con.execute(
            "create table t as select filename, unnest(parts) as line, "
            "generate_subscripts(parts, 1) as line_no from "
            "(select filename, string_split(content, chr(10)) as parts from read_text(?))",
            [files],
        ),
    )
    measured = {
        "project_s": _median_time(project, repeat),
        "floor_s": _median_time(floor, repeat),
        "lines_s": _median_time(lines, repeat),
        "typed_s": _median_time(in_fresh_db("typed.duckdb", load_typed), repeat),
        "project_stages_s": {k: statistics.median(s[k] for s in stages) for k in stages[0]},
    }
    # both again with DuckDB on one thread: how much of the ratio is the use of the cores
    measured["project_1t_s"] = _median_time(in_fresh_db("ingest.duckdb", load, 1), repeat)
    measured["floor_1t_s"] = _median_time(in_fresh_db("floor.duckdb", load_floor, 1), repeat)
    return measured


def ingest_stage_note(ingest: dict) -> str:
    """The project reader's stages in units of the floor, largest first (older results, without
    stages: empty)."""
    stages = ingest.get("project_stages_s", {})
    ranked = sorted(stages.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{name} {s / ingest['floor_s']:.2f}x" for name, s in ranked)


def ingest_next_step_note(ingest: dict) -> str:
    """The next step for the ingestion and what it would reach, from the same run's times (older
    results, without `typed_s`: ''). A reader that types every field as it parses, as `read_json`
    does over the contract's columns, and keeps each line's number and text: the typed pass plus
    reading and numbering the lines, against the floor."""
    if not ingest.get("typed_s"):
        return ""
    typed = ingest["typed_s"] / ingest["floor_s"]
    lines = ingest["lines_s"] / ingest["floor_s"]
    return (
        f"Next step: a reader that types each field as it parses. DuckDB's `read_json` does, "
        f"over all {len(CONTRACT_COLUMNS)} contract fields in {typed:.2f}x the floor, but it "
        "gives neither a line's number and text nor a field's JSON type (it reads \"12\" and "
        "1.5 as the counts 12 and 2 where the contract quarantines both), and a typed Python "
        "decoder does not reach 3x either (msgspec, docs/performance.md). One pass that did both "
        f"would cost about that pass plus the lines ({lines:.2f}x): {typed + lines:.2f}x the "
        "floor, against "
        f"{ingest['project_s'] / ingest['floor_s']:.2f}x today: a DuckDB extension (C++), not "
        "SQL over `json_*` functions, each of which parses the line again"
    )


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
                DBT_EXECUTABLE,
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


TIMED_CHILD = (
    "import resource, subprocess, sys, time; t0 = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)"
)


def timed_run(
    env: dict,
    start: dt.date,
    end: dt.date,
    chunk_days: int = 100_000,
    cwd: Path = REPO,
    timeout_s: float | None = None,
) -> tuple[float, float]:
    """`costwatch run` for [start, end], one run per `chunk_days` days, in `cwd`: (wall seconds,
    peak RSS of the process tree in MiB: the largest process, dbt's or Dagster's). A run that has
    not ended after `timeout_s` is stopped with its whole process group."""
    cli = [sys.executable, "-m", "orchestration.cli", "run", "--chunk-days", str(chunk_days)]
    child = subprocess.Popen(
        [sys.executable, "-c", TIMED_CHILD, *cli, "--start", str(start), "--end", str(end)],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        raise RuntimeError(
            f"costwatch run {start}..{end} did not end within {timeout_s:.0f} s: stopped; its log "
            "is under the home's logs/ (a Spark driver short of memory stalls: free some)"
        ) from None
    wall, rss_kib, rc = out.split()[-3:]
    if int(rc) != 0:
        raise RuntimeError(
            f"costwatch run {start}..{end} failed (exit {rc}); its log is under the home's "
            f"logs/. stderr ends: {err[-2000:]}"
        )
    return float(wall), int(rss_kib) / 1024


def run_profile(dagster_home: Path) -> dict:
    """Where the last run's time went (`run_profiles` of that run alone)."""
    return run_profiles(dagster_home, limit=1)[0]


def run_profiles(dagster_home: Path, limit: int | None = None) -> list[dict]:
    """Where each run's time went, oldest first (the last `limit` runs, or all), from the Dagster
    instance: the days it ran (its partition range tags), each step's wall time, the dbt step
    split into SQL (dbt's own execution time of every model, snapshot and test) and the rest (dbt
    start-up, per-node overhead, Dagster handling dbt's events), the SQL per dbt node, and the
    event reader's stages (its materialization's `stage_seconds`)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    try:
        runs = instance.get_runs(limit=limit) if limit else instance.get_runs()
        return [_profile(dg, instance, run) for run in reversed(runs)]
    finally:
        instance.dispose()
        os.environ.pop("DAGSTER_HOME", None)


def _profile(dg, instance, run) -> dict:
    stats = instance.get_run_stats(run.run_id)
    steps = {
        s.step_key: s.end_time - s.start_time
        for s in instance.get_run_step_stats(run.run_id)
        if s.end_time and s.start_time
    }
    nodes: dict[str, float] = {}
    ingest_stages: dict[str, float] = {}
    for event_type in (
        dg.DagsterEventType.ASSET_MATERIALIZATION,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    ):
        for record in instance.all_logs(run.run_id, of_type=event_type):
            data = record.dagster_event.event_specific_data
            materialization = getattr(data, "materialization", None)
            if materialization is None and data.partition is not None:
                continue  # a multi-day run's per-day copy of a check (assets/partitions.py)
            meta = (materialization or data).metadata
            name = node_name(data)
            if "Execution Duration" in meta:
                # once per node: a multi-day run records a model's materialization per day,
                # each with the same duration of its one build
                nodes[name] = float(meta["Execution Duration"].value)
            if name == "raw/app_events" and "stage_seconds" in meta:
                ingest_stages = dict(meta["stage_seconds"].value)
    tags = run.tags
    start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    return {
        "start": start,
        "end": tags.get("dagster/asset_partition_range_end") or start,
        "run_s": stats.end_time - stats.start_time,
        "steps": steps,
        "dbt_sql_s": sum(nodes.values()),
        "dbt_nodes": dict(sorted(nodes.items(), key=lambda kv: -kv[1])),
        "ingest_stages": ingest_stages,
    }


def node_name(data) -> str:
    """'marts/sessions' for a materialization, 'marts/sessions:<test>' for a check evaluation."""
    materialization = getattr(data, "materialization", None)
    if materialization is not None:
        return materialization.asset_key.to_user_string()
    key = data.asset_check_key
    return f"{key.asset_key.to_user_string()}:{key.name}"


PROFILE_PARTS = {
    "ingest": ("ingest_app_events",),
    "prices, budgets, providers": ("load_prices", "load_budgets", "pull_provider_reports"),
    "dbt": ("dbt_models",),
    "archive": ("archive_old_days",),
    "publish": ("published__analytics_warehouse",),
    "report": ("published__html_report",),
}


def profile_cells(wall_s: float, profile: dict) -> list[str]:
    """Start-up (the command's wall time less its run's), then `step_cells`."""
    return [f"{wall_s - profile['run_s']:.1f}", *step_cells(profile)]


def step_cells(profile: dict) -> list[str]:
    """One run's seconds per part of PROFILE_PARTS, its Python checks, Dagster between steps."""
    steps = dict(profile["steps"])
    cells = []
    for part, keys in PROFILE_PARTS.items():
        t = sum(steps.pop(k, 0.0) for k in keys)
        if part == "dbt":
            cells.append(f"{t:.1f} ({profile['dbt_sql_s']:.1f} SQL)")
        else:
            cells.append(f"{t:.1f}")
    cells.append(f"{sum(steps.values()):.1f}")  # Python asset checks
    other = profile["run_s"] - sum(profile["steps"].values())
    cells.append(f"{other:.1f}")
    return cells


# The two processes every run starts, with nothing to do: Python + Dagster importing and loading the
# definitions (dbt manifest included), and dbt starting with nothing to build.
STARTUP_COMMANDS = {
    "definitions_s": [sys.executable, "-c", "import orchestration.definitions"],
    "dbt_s": [
        DBT_EXECUTABLE,
        "build",
        "--quiet",
        "--select",
        "path:no/such/path",
        "--project-dir",
        "dbt_project",
        "--profiles-dir",
        "dbt_project",
    ],
}


def bench_startup(repeat: int) -> dict[str, float]:
    """Fixed costs paid once per run, whatever the data: each of STARTUP_COMMANDS' median wall
    time over `repeat` runs, in a scratch home."""
    with tempfile.TemporaryDirectory(prefix="costwatch-startup-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))}
        env |= {"COSTWATCH_HOME": tmp, "COSTWATCH_WAREHOUSE": f"{tmp}/w.duckdb"}

        def run(cmd: list[str]) -> None:
            subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)

        return {
            name: _median_time(lambda c=cmd: run(c), repeat)
            for name, cmd in STARTUP_COMMANDS.items()
        }


WARM_CODE_NOTE = (
    "Before each measured daily run the code is read once (`warm_code`: the run's two processes "
    "started with nothing to do), as a deployment's code server and daemon keep it in memory; "
    "it reads neither the warehouse nor the logs (on a history built directly the run of the day "
    "before does, as yesterday's run does for a daily run). Before 2026-12-01 the start-up was "
    "measured cold right after the bench wrote the history (5.7 to 11.6 s from one run to the "
    "next, against 3.4 s warm); BENCHMARKS.json keeps that cold start-up of each run "
    "(`cold_startup_s`)."
)


def startup_note(results: list[dict]) -> list[str]:
    """How the daily runs of `results` started: code warmed (WARM_CODE_NOTE) or cold (older)."""
    if all("cold_startup_s" in r for r in results):
        return [WARM_CODE_NOTE, ""]
    return ["These daily runs started with the code cold (measured before 2026-12-01).", ""]


def warm_code() -> dict[str, float]:
    """Start both processes once, so that the measured run reads the code from memory, not disk
    (why: WARM_CODE_NOTE); the warehouse is not touched. Returns the cold times, which the
    results keep."""
    return bench_startup(1)


ANALYST_QUERIES = {
    "daily totals, last 30 days": (
        "select * from marts.daily_totals where day > $last - 30 order by day"
    ),
    "one user's last week by category": (
        "select interaction_type, sum(ai_tokens_cost_usd), sum(db_ops_cost_usd), "
        "sum(api_calls_cost_usd), sum(compute_cost_usd), sum(total_cost_usd) "
        "from marts.cost_breakdown where user_id = $user "
        "and interaction_day between $last - 6 and $last group by 1"
    ),
    "top 20 users this month": (
        "select user_id, sum(total_cost_usd) as cost from marts.daily_stats "
        "where day >= date_trunc('month', $last) group by 1 order by cost desc limit 20"
    ),
    "model comparison for a month": (
        "select canonical_model, sum(calls), sum(cost_usd), avg(latency_p95_ms) "
        "from marts.model_daily where day > $last - 30 group by 1 order by 3 desc"
    ),
    "archived range: one user's month, active + archive": (
        "select date_trunc('day', interaction_day), sum(total_cost_usd) "
        "from history.cost_breakdown where user_id = $user "
        "and interaction_day between $first and $first + 30 group by 1"
    ),
}


def bench_queries(published: Path, first: dt.date, last: dt.date, repeat: int) -> dict:
    """p50/p95 in ms of each analyst query on the published copy (a fresh connection, warm)."""
    out = {}
    with duckdb.connect(str(published), read_only=True) as con:
        user = con.execute(
            "select user_id from marts.daily_stats group by 1 order by sum(total_cost_usd) desc "
            "limit 1"
        ).fetchall()[0][0]
        params = {"first": first, "last": last, "user": user}
        for name, sql in ANALYST_QUERIES.items():
            used = {k: v for k, v in params.items() if f"${k}" in sql}
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                con.execute(sql, used).fetchall()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            out[name] = (statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)])
    return out


def bench_history(
    sessions_per_day: int, days: int, work: Path, query_repeat: int, chunk_days: int
) -> dict:
    """A year (or `days`) of generated history: full rebuild (`costwatch run` over every day, one
    run per `chunk_days` days), then the daily run of one new day on top of it, then analyst
    queries; half of the history is beyond the retention window."""
    from benchmarks.scale import write_day, write_scale_logs

    home = work / f"history-{sessions_per_day}"
    first = dt.date(2025, 1, 1)
    last = first + dt.timedelta(days=days - 1)
    lines = write_scale_logs(home / "events", first, days, sessions_per_day)
    size_mb = sum(f.size_bytes for f in discover_files(home / "events")) / 1e6
    today = dt.datetime.now(dt.UTC).date()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))}
    env |= {
        "COSTWATCH_HOME": str(home),
        "COSTWATCH_START_DATE": first.isoformat(),
        "COSTWATCH_RETENTION_DAYS": str((today - (first + dt.timedelta(days=days // 2))).days),
    }
    full_s, full_mib = timed_run(env, first, last, chunk_days)
    full_profiles = run_profiles(home / "dagster")
    new_day = last + dt.timedelta(days=1)
    with duckdb.connect() as con:
        write_day(con, home / "events", new_day, sessions_per_day)
    cold_startup = warm_code()
    daily_s, daily_mib = timed_run(env, new_day, new_day)
    profile = run_profile(home / "dagster")
    queries = bench_queries(home / "analytics.duckdb", first, new_day, query_repeat)
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as con:
        interactions = con.execute("select count(*) from history.interactions").fetchall()[0][0]
    warehouse_mb = (home / "warehouse.duckdb").stat().st_size / 1e6
    published_mb = (home / "analytics.duckdb").stat().st_size / 1e6
    shutil.rmtree(home)  # a year at 10x is gigabytes; the next size needs the room
    return {
        "sessions_per_day": sessions_per_day,
        "days": days,
        "full_runs": -(-days // chunk_days),
        "lines": lines,
        "size_mb": size_mb,
        "interactions": interactions,
        "warehouse_mb": warehouse_mb,
        "published_mb": published_mb,
        "full_s": full_s,
        "full_mib": full_mib,
        "full_profiles": full_profiles,
        "daily_s": daily_s,
        "daily_mib": daily_mib,
        "daily_profile": profile,
        "cold_startup_s": cold_startup,
        "queries": queries,
    }


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# Disk a history built directly takes at its peak (warehouse, published copy and DuckDB's temporary
# files while building and publishing), per year at 100x the seed: a year measured 11.4 GB + 4.8 GB
# when built; three years (30.9 GB + 13.3 GB when built) ran out of 50 GB, and on 2026-12-01 of
# 62 GB, in their full publish: so more than 21 GB a year, 25 with a margin.
GB_PER_100X_YEAR = 25.0


def disk_needed_gb(sessions_per_day: int, days: int) -> float:
    return GB_PER_100X_YEAR * sessions_per_day / REFERENCE_SESSIONS * days / 365


def disk_short_gb(sessions_per_day: int, days: int, free_bytes: int) -> float:
    """How many GB a history of that size lacks on a disk with `free_bytes` free (0 if none)."""
    return max(0.0, disk_needed_gb(sessions_per_day, days) - free_bytes / 1e9)


def history_specs(text: str) -> list[tuple[str, int, int]]:
    """'10000x365,10000x1095' -> [('10000x365', 10000, 365), ('10000x1095', 10000, 1095)]."""
    out = []
    for spec in filter(None, text.split(",")):
        sessions, days = (int(x) for x in spec.split("x"))
        out.append((spec, sessions, days))
    return out


def disk_warning(direct: str, free_bytes: int, where: Path) -> str | None:
    """Said at the start of a run: the histories built directly (`--direct`) that the disk cannot
    hold now would be skipped when their turn comes, after the rest of the run (an hour or more;
    each is built and removed in turn, so it is each history's own need that counts)."""
    short = []
    for spec, sessions, days in history_specs(direct):
        if gb := disk_short_gb(sessions, days, free_bytes):
            short.append(
                f"{spec} needs about {disk_needed_gb(sessions, days):.0f} GB ({gb:.1f} more)"
            )
    if not short:
        return None
    return (
        f"Disk: {where} has {free_bytes / 1e9:.1f} GB free; the history built directly "
        f"{'; '.join(short)}: it would be skipped when its turn comes, after the other stages. "
        "Stop now (Ctrl-C), free some and start again, or run `--direct` with fewer days."
    )


def bench_daily_on_history(
    sessions_per_day: int, days: int, work: Path, query_repeat: int, keep: bool = False
) -> dict:
    """The daily run of one real new day on `days` days of history built directly in the
    warehouse (`benchmarks/history.py`): a seed day through `costwatch run`, copied to every
    other day but the last two, a full publish, then the day before the new one through
    `costwatch run` (its time is `first_run_s`), then the new day (`daily_s`); analyst queries.

    The day before is the run a daily run follows: the first run after the build finds in the
    page cache what the build wrote last, not what a run reads (the hash column of every stored
    event, the session-day index, the active marts): a history larger than the machine's memory
    reads them from disk, one that fits does not (docs/performance.md, "Long histories")."""
    from benchmarks.history import rebuild_rollups, replicate, seed_day
    from benchmarks.scale import write_day
    from sources.publishing.day_files import parts_root
    from sources.publishing.publish import publish_copy

    home = work / f"direct-{sessions_per_day}x{days}"
    today = dt.datetime.now(dt.UTC).date()
    new_day = today - dt.timedelta(days=1)
    day_before = new_day - dt.timedelta(days=1)
    first, span = seed_day(new_day, days)
    # the product's default retention on every history: what a team has out of the box, and the
    # same active marts on one year and three (the older days are archived), so the comparison
    # measures the history, not a retention that grows with it (before 2026-12-01: half of each
    # history was active, a year and a half of marts at three years)
    cutoff = today - dt.timedelta(days=DEFAULT_RETENTION_DAYS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))}
    env |= {"COSTWATCH_HOME": str(home), "COSTWATCH_START_DATE": first.isoformat()}
    with duckdb.connect() as con:
        write_day(con, home / "events", first, sessions_per_day)
    seed_s, _ = timed_run(env, first, first)
    print(f"  seed day {first} run in {seed_s:.0f} s; copying it to {span - 2} days", flush=True)
    warehouse, published = home / "warehouse.duckdb", home / "analytics.duckdb"
    t0 = time.perf_counter()
    with duckdb.connect(str(warehouse)) as con:
        # the copies end two days before the new day: the day before it is a real run
        rows = replicate(con, first, span - 1, cutoff, progress=lambda m: print(m, flush=True))
    rebuild_rollups(warehouse, env, REPO)
    with duckdb.connect(str(warehouse)) as con:
        build_s = time.perf_counter() - t0
        published.unlink()
        shutil.rmtree(parts_root(published))
        con.execute("delete from meta.unpublished_windows")
        t0 = time.perf_counter()
        publish_copy(con, published, {"run_id": "history"})
        full_publish_s = time.perf_counter() - t0
    print(f"  built in {build_s:.0f} s, published in {full_publish_s:.0f} s", flush=True)
    with duckdb.connect() as con:
        write_day(con, home / "events", day_before, sessions_per_day)
        write_day(con, home / "events", new_day, sessions_per_day)
    cold_startup = warm_code()
    first_run_s, first_run_mib = timed_run(env, day_before, day_before)
    print(f"  first run after the build ({day_before}) in {first_run_s:.1f} s", flush=True)
    daily_s, daily_mib = timed_run(env, new_day, new_day)
    profile = run_profile(home / "dagster")
    queries = bench_queries(published, first, new_day, query_repeat)
    with duckdb.connect(str(published), read_only=True) as con:
        interactions = con.execute("select count(*) from history.interactions").fetchall()[0][0]
    out = {
        "sessions_per_day": sessions_per_day,
        "days": days,
        "interactions": interactions,
        "rows": rows,
        "build_s": build_s,
        "full_publish_s": full_publish_s,
        "warehouse_mb": _size_mb(warehouse),
        "published_mb": _size_mb(published) + _size_mb(parts_root(published)),
        "first_run_s": first_run_s,
        "first_run_mib": first_run_mib,
        "daily_s": daily_s,
        "daily_mib": daily_mib,
        "daily_profile": profile,
        "cold_startup_s": cold_startup,
        "queries": queries,
    }
    if not keep:
        shutil.rmtree(home)  # three years at 100x are tens of gigabytes
    return out


def query_lines(results: list[dict]) -> list[str]:
    """Analyst queries of each measured history, p50 / p95."""
    names = list(ANALYST_QUERIES)
    out = ["", "Analyst queries on the published copy, ms (p50 / p95):", ""]
    out.append("| sessions/day x days | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))
    for r in results:
        cells = [f"{r['queries'][n][0]:.1f} / {r['queries'][n][1]:.1f}" for n in names]
        out.append(f"| {r['sessions_per_day']:,} x {r['days']} | " + " | ".join(cells) + " |")
    return [*out, ""]


def history_lines(results: list[dict]) -> list[str]:
    out = [
        "## A year of history: full rebuild, daily run, analyst queries",
        "",
        "Generated by `benchmarks/scale.py` (contract-valid logs written by DuckDB; 17 events per "
        "session: start, 15 interactions, end). Provider reports are not pulled (no admin key): "
        "the figures are ingestion + dbt + checks + archive + publish + report. Half of each "
        "history is beyond the retention window (archived). The full rebuild is `costwatch run` "
        "over every day, as an operator runs it: one Dagster run per chunk of days (`--chunk-days`,"
        " the CLI's default unless `--full-chunk-days` says otherwise; runs column). Peak memory "
        "is the largest process of any run (Dagster or dbt).",
        "",
        *startup_note(results),
        "| sessions/day | days | interactions | JSON | full rebuild | runs | peak "
        "| daily run (1 new day) | peak | daily / full |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        out.append(
            f"| {r['sessions_per_day']:,} | {r['days']} | {r['interactions']:,} | "
            f"{r['size_mb']:,.0f} MB | {r['full_s']:.1f} s | {r.get('full_runs', 1)} | "
            f"{r['full_mib']:,.0f} MiB | "
            f"{r['daily_s']:.1f} s | {r['daily_mib']:,.0f} MiB | "
            f"{100 * r['daily_s'] / r['full_s']:.0f}% |"
        )
    out += [
        "",
        "Where the daily run's time goes, seconds (from the Dagster instance: each step's wall "
        "time; dbt's SQL is the sum of dbt's own execution times of its models, snapshots and "
        "tests; start-up is the process starting and loading the definitions, before the run):",
        "",
        "| sessions/day x days | warehouse / published | start-up | "
        + " | ".join(PROFILE_PARTS)
        + " | Python checks | Dagster between steps |",
        "|---|---|" + "---|" * (len(PROFILE_PARTS) + 3),
    ]
    for r in results:
        cells = profile_cells(r["daily_s"], r["daily_profile"])
        out.append(
            f"| {r['sessions_per_day']:,} x {r['days']} | {r['warehouse_mb']:,.0f} MB / "
            f"{r['published_mb']:,.0f} MB | " + " | ".join(cells) + " |"
        )
    for r in results:
        out += rebuild_lines(r)
    return [*out, *query_lines(results)]


def rebuild_total(runs: list[dict]) -> dict:
    """The runs of a rebuild as one profile: their wall times, dbt SQL and steps summed."""
    total: dict = {
        "start": "",
        "run_s": sum(p["run_s"] for p in runs),
        "dbt_sql_s": sum(p["dbt_sql_s"] for p in runs),
        "steps": {},
    }
    for p in runs:
        for k, v in p["steps"].items():
            total["steps"][k] = total["steps"].get(k, 0.0) + v
    return total


def rebuild_note(r: dict) -> str:
    """Where a full rebuild's time went, for its target's "what blocks it": the parts of its runs
    summed as in the daily run's note, the command's own time first (results from before
    2026-12-03 19:00 kept no per-run profile: '')."""
    runs = r.get("full_profiles")
    if not runs:
        return ""
    cells = profile_cells(r["full_s"], rebuild_total(runs))
    parts = ["outside the runs", *PROFILE_PARTS]
    return (
        f"{r['full_s']:,.1f} s for {r['days']} days in {len(runs)} runs, of which (s): "
        + ", ".join(f"{k} {v}" for k, v in zip(parts, cells, strict=False))
    )


def rebuild_lines(r: dict, top: int = 6) -> list[str]:
    """Where one history's full rebuild went, run by run (results from before 2026-12-03 19:00
    kept no per-run profile: nothing): each run's parts as in the daily run's table, a total row,
    then the `top` dbt nodes of the whole rebuild (SQL seconds summed over its runs) per run."""
    runs = r.get("full_profiles")
    if not runs:
        return []
    label = f"{r['sessions_per_day']:,} x {r['days']}"
    total = rebuild_total(runs)
    out = [
        "",
        f"The full rebuild of {label}, run by run, seconds (each run's wall time in the Dagster "
        "instance; outside the runs, the command's start-up and the time between its runs: "
        f"{r['full_s'] - total['run_s']:.1f} s):",
        "",
        "| run | days | run | " + " | ".join(PROFILE_PARTS) + " | Python checks "
        "| Dagster between steps |",
        "|---|---|---|" + "---|" * (len(PROFILE_PARTS) + 2),
    ]
    for i, p in enumerate(runs, 1):
        out.append(
            f"| {i} | {p['start']}..{p['end']} | {p['run_s']:.1f} | "
            + " | ".join(step_cells(p))
            + " |"
        )
    out.append(f"| all | | {total['run_s']:.1f} | " + " | ".join(step_cells(total)) + " |")
    sums: dict[str, float] = {}
    for p in runs:
        for name, t in p["dbt_nodes"].items():
            sums[name] = sums.get(name, 0.0) + t
    names = sorted(sums, key=lambda n: -sums[n])[:top]
    out += [
        "",
        f"dbt's {top} largest nodes over the rebuild, SQL seconds per run:",
        "",
        "| run | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for i, p in enumerate(runs, 1):
        cells = [p["dbt_nodes"].get(n) for n in names]
        out.append(f"| {i} | " + " | ".join("-" if c is None else f"{c:.1f}" for c in cells) + " |")
    out.append("| all | " + " | ".join(f"{sums[n]:.1f}" for n in names) + " |")
    return out


def direct_lines(results: list[dict]) -> list[str]:
    """The daily run on long histories built directly (benchmarks/history.py)."""
    out = [
        "## The daily run on one and three years of history",
        "",
        "History built directly in the warehouse by `benchmarks/history.py`: one real day of "
        "`benchmarks/scale.py` logs through `costwatch run`, its rows copied to every other day "
        "(days and times shifted, event/session/interaction ids made unique per day, the same "
        "50,000 users), the days beyond the default retention window (COSTWATCH_RETENTION_DAYS, "
        f"{DEFAULT_RETENTION_DAYS} days: the same active marts on every history) in `archive`, "
        "then a full publish; then two real days through `costwatch run`: the day before the "
        "new one (the first run after the build: it reads from disk what the build pushed out "
        "of the page cache) and the new day, measured (a daily run after the day before's, as "
        "every day but the first). Tables that do not hold one day's rows (prices, budgets, "
        "monthly tables, per-user totals) keep the seed run's rows.",
        "",
        *startup_note(results),
        "| sessions/day x days | interactions | warehouse / published | built / full publish "
        "| first run after the build | daily run | peak | start-up | "
        + " | ".join(PROFILE_PARTS)
        + " | Python checks | Dagster between steps |",
        "|---|---|---|---|---|---|---|---|" + "---|" * (len(PROFILE_PARTS) + 2),
    ]
    for r in results:
        cells = profile_cells(r["daily_s"], r["daily_profile"])
        # results before 2026-12-03 07:56 measured the first run after the build only, as `daily_s`
        first = f"{r['first_run_s']:.1f} s" if "first_run_s" in r else "the daily run"
        out.append(
            f"| {r['sessions_per_day']:,} x {r['days']} | {r['interactions']:,} | "
            f"{r['warehouse_mb']:,.0f} MB / {r['published_mb']:,.0f} MB | "
            f"{r['build_s']:.0f} s / {r['full_publish_s']:.0f} s | {first} | "
            f"{r['daily_s']:.1f} s | {direct_peak_mib(r):,.0f} MiB | " + " | ".join(cells) + " |"
        )
    return [*out, *growth_lines(results), *query_lines(results)]


def growth_lines(results: list[dict], top: int = 8) -> list[str]:
    """Per dbt node (SQL seconds) and per stage of the event reader, the same new day on each
    history: what grows with history and what does not. The `top` largest nodes of each run."""
    runs = [r for r in results if r["daily_profile"].get("dbt_nodes")]
    if not runs:
        return []
    names: list[str] = []
    for r in runs:
        for name in list(r["daily_profile"]["dbt_nodes"])[:top]:
            if name not in names:
                names.append(name)
    stages = sorted({k for r in runs for k in r["daily_profile"].get("ingest_stages", {})})
    heads = [f"{r['sessions_per_day']:,} x {r['days']}" for r in runs]
    out = [
        "",
        "Where the new day's time goes on each history (s): dbt's SQL per node (the largest "
        f"{top} of each run) and the event reader's stages:",
        "",
        "| | " + " | ".join(heads) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for label, key, rows in (
        *((f"dbt `{n}`", n, "dbt_nodes") for n in names),
        *((f"reader: {s}", s, "ingest_stages") for s in stages),
    ):
        cells = [r["daily_profile"].get(rows, {}).get(key) for r in runs]
        out.append(
            f"| {label} | " + " | ".join("-" if c is None else f"{c:.2f}" for c in cells) + " |"
        )
    return out


def _by_status(rows: list[dict]) -> str:
    """'met: `a`, `b`; missed: `c`; not measured: `d`.'"""
    parts = []
    for status in ("met", "missed", "not measured"):
        ids = [f"`{t['id']}`" for t in rows if t["status"] == status]
        if ids:
            parts.append(f"{status}: {', '.join(ids)}")
    return "; ".join(parts) + "."


def has_one_thread_times(ingest: dict) -> bool:
    """Whether a run timed the reader and the floor on one thread (none before 2026-12-03)."""
    return bool(ingest.get("project_1t_s") and ingest.get("floor_1t_s"))


def ingest_cores_note(ingest: dict) -> str:
    """What the cores do for the reader and for the floor, from the same run's one-thread times
    (older results, without them: '')."""
    if not has_one_thread_times(ingest):
        return ""
    return (
        f"With DuckDB on one thread the reader takes {ingest['project_1t_s']:.2f} s "
        f"({ingest['project_1t_s'] / ingest['project_s']:.2f}x its time on every core) and the "
        f"floor {ingest['floor_1t_s']:.2f} s ({ingest['floor_1t_s'] / ingest['floor_s']:.2f}x): "
        f"on one core each, the reader is {ingest['project_1t_s'] / ingest['floor_1t_s']:.2f}x "
        "the floor"
    )


def target_lines(results: dict) -> list[str]:
    """The issue's targets against what this run measured (benchmarks/targets.py), and what
    blocks a missed one (from the same run's numbers)."""
    rows = targets(results)
    results["targets"] = rows
    notes: dict[str, str] = {}
    ingest = results["ingest"]
    lines_ratio = ingest["lines_s"] / ingest["floor_s"]
    ratio = ingest["project_s"] / ingest["floor_s"]
    notes["ingest_vs_floor"] = (
        "the contract keeps each invalid line's text and number (quarantine, per-file "
        "accounting), so the reader reads lines, not records: reading and numbering them alone "
        f"is {lines_ratio:.2f}x the floor before any parsing; parsing every contract field with "
        f"its JSON type, validating, dedup and load are the other {ratio - lines_ratio:.2f}x"
    )
    if by_stage := ingest_stage_note(ingest):
        notes["ingest_vs_floor"] += f". Per stage of the reader, in floors: {by_stage}"
    if cores := ingest_cores_note(ingest):
        notes["ingest_vs_floor"] += f". {cores}"
    if step := ingest_next_step_note(ingest):
        notes["ingest_vs_floor"] += f". {step}"
    direct = {
        r["days"]: r
        for r in results.get("direct", [])
        if r["sessions_per_day"] >= REFERENCE_SESSIONS
    }
    parts = ["start-up", *PROFILE_PARTS]
    for days, target in ((365, "daily_100x_1y_s"), (1095, "daily_100x_3y_over_1y")):
        if days in direct:
            r = direct[days]
            cells = profile_cells(r["daily_s"], r["daily_profile"])
            notes[target] = f"{r['daily_s']:.1f} s at {days} days, of which (s): " + ", ".join(
                f"{k} {v}" for k, v in zip(parts, cells, strict=False)
            )
    if 365 in direct and 1095 in direct:
        one, three = (direct[d]["daily_profile"]["steps"][PUBLISH_STEP] for d in (365, 1095))
        notes["publish_growth"] = f"publish {one:.1f} s at a year, {three:.1f} s at three years"
    if results.get("history"):
        rebuilt = rebuilt_histories(results)
        where = rebuild_note(max(rebuilt, key=lambda r: r["full_s"])) if rebuilt else ""
        notes["full_rebuild_100x_1y_s"] = (
            (f"{where}; " if where else "")
            + f"measured {results.get('history_measured_at', results['measured_at'])}"
            + (" and kept (`--keep-history`)" if results.get("history_measured_at") else "")
        )
    kept = {t["id"]: t for t in rows}
    out = [
        "## Targets",
        "",
        _by_status(rows),
        "",
        *target_table([kept[k] for k in kept], notes),
    ]
    return [*out, ""]


def guard_lines(g: dict) -> list[str]:
    """The pre-call guard's section (measured by benchmarks/guard.py)."""
    o, c, p = g["open_loop"], g["closed_loop"], g["in_process"]
    met = o["p99_ms"] < g["target"]["p99_ms"] and o["achieved_per_s"] >= 0.99 * o["rate_per_s"]
    return [
        "",
        "## Pre-call guard (`costwatch guard`)",
        "",
        f"Measured by `benchmarks/guard.py` on {g['measured_at']} UTC ({g['cores']} cores): the "
        "guard as its own process, the load from a second process over loopback (keep-alive "
        f"connections), {g['users']:,} users' monthly budgets plus organisation, project and "
        "session budgets; every check a real decision that reserves. Latency is from the "
        "scheduled send time, so a slow answer delays the ones queued behind it.",
        "",
        "| measurement | value | target |",
        "|---|---|---|",
        f"| open loop: {o['rate_per_s']} checks/s for {o['requests'] // o['rate_per_s']} s, "
        f"achieved | {o['achieved_per_s']:,.0f}/s, {o['errors']} errors | 500/s |",
        f"| latency p50 / p99 / max at that rate | {o['p50_ms']:.2f} / {o['p99_ms']:.2f} / "
        f"{o['max_ms']:.1f} ms | p99 < {g['target']['p99_ms']:.0f} ms: "
        f"{'met' if met else 'NOT met'} |",
        f"| closed loop: throughput with {c['clients']} clients | {c['requests_per_s']:,}/s | |",
        f"| the decision alone (`Guard.check` in process) p50 / p99 | {p['p50_ms']:.2f} / "
        f"{p['p99_ms']:.2f} ms | |",
        f"| the guard's peak memory | {g['guard_peak_rss_mib']:.0f} MiB | |",
    ]


# A page's times compare with the page before's only on a machine about as fast. The `read_json`
# floor measures that: the same query on the same data in every run. This much slower (a busy
# or throttled machine: 2.0-2.7x on 2026-12-02) and the console says so while there is time to
# stop; the page says it either way.
SLOWER_THAN_BEFORE = 1.5


def floor_before(previous: dict | None) -> dict | None:
    """The floor and date of the page before (its BENCHMARKS.json), if it measured one."""
    if not previous:
        return None
    results = previous.get("results", {})
    floor_s = (results.get("ingest") or {}).get("floor_s")
    if not floor_s:
        return None
    return {"floor_s": floor_s, "measured_at": results.get("measured_at", "?")}


def machine_speed(floor_s: float, before: dict | None) -> tuple[str, bool]:
    """A sentence comparing this run's floor with the page before's, and whether this machine
    ran SLOWER_THAN_BEFORE or more (absolute times then say more about the machine)."""
    if before is None:
        return f"Machine speed: the `read_json` floor took {floor_s:.2f} s (no page before).", False
    ratio = round(floor_s / before["floor_s"], 2)  # as the page prints it
    slower = ratio >= SLOWER_THAN_BEFORE
    text = (
        f"Machine speed: the `read_json` floor took {floor_s:.2f} s, {ratio:.2f}x the "
        f"{before['floor_s']:.2f} s of the page before ({before['measured_at']} UTC)"
    )
    if slower:
        text += (
            ": this machine ran slower, so this page's times are not comparable with that "
            "page's (ratios to the floor are)"
        )
    return text + ".", slower


def write_report(args: argparse.Namespace, n: int, size_mb: float, results: dict) -> None:
    """BENCHMARKS.md from what has been measured so far (rewritten after each stage)."""
    from benchmarks.engines import engine_lines  # it imports this module

    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ingest, pricing, startup = results["ingest"], results["pricing"], results["startup"]
    history = results["history"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `benchmarks/run.py --calls {args.calls} --repeat {args.repeat} "
        f"--history '{args.history}' --direct '{args.direct}' "
        + ("--keep-history " if results.get("history_measured_at") else "")
        + f"--full-chunk-days {args.full_chunk_days}` on "
        f"{results['measured_at']} UTC. Rerun with `make bench`"
        + (
            ""
            if results["complete"]
            else " (incomplete: written before the run's last stage, which it has not reached)"
        )
        + ".",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {mem_gb:.0f} GiB; Python "
        f"{platform.python_version()}; duckdb {version('duckdb')}, dbt-core {version('dbt-core')}, "
        f"dbt-duckdb {version('dbt-duckdb')}, dagster {version('dagster')}, genai-prices "
        f"{version('genai-prices')}. DuckDB memory limit of runs: "
        f"{os.environ.get('COSTWATCH_MEMORY_LIMIT', '3GB')} (`COSTWATCH_MEMORY_LIMIT`)."
        + (
            " " + machine_speed(ingest["floor_s"], results["floor_before"])[0]
            if "floor_before" in results  # pages before 2026-12-03 did not keep it
            else ""
        ),
        "",
        f"Data: {n:,} llm_call events over {len(PRICING_DAYS)} days, {size_mb:.1f} MB of JSON "
        "Lines, every price feature (see `sources/demo/pricing_calls.py::write_pricing_calls`).",
        "",
        "| measurement | time (median) | rate | ratio |",
        "|---|---|---|---|",
        "| ingestion, project reader (validate, dedup, quarantine, load) | "
        f"{ingest['project_s']:.2f} s | {n / ingest['project_s']:,.0f} rows/s | "
        f"{ingest['project_s'] / ingest['floor_s']:.2f}x the floor |",
        f"| ingestion floor: plain `read_json` into a table | {ingest['floor_s']:.2f} s "
        f"| {n / ingest['floor_s']:,.0f} rows/s | 1 |",
        "| part of the floor the reader pays before parsing: `read_text`, lines split and numbered "
        f"(kept for quarantine) | {ingest['lines_s']:.2f} s | {n / ingest['lines_s']:,.0f} rows/s "
        f"| {ingest['lines_s'] / ingest['floor_s']:.2f}x the floor |",
        *(
            [
                "| ingestion, project reader, DuckDB on one thread | "
                f"{ingest['project_1t_s']:.2f} s | {n / ingest['project_1t_s']:,.0f} rows/s | "
                f"{ingest['project_1t_s'] / ingest['floor_1t_s']:.2f}x the floor on one thread |",
                "| ingestion floor, DuckDB on one thread | "
                f"{ingest['floor_1t_s']:.2f} s | {n / ingest['floor_1t_s']:,.0f} rows/s | "
                f"{ingest['floor_1t_s'] / ingest['floor_s']:.2f}x the floor |",
            ]
            if has_one_thread_times(ingest)
            else []
        ),
        *(
            f"| project reader, stage `{name}` (median) "
            f"| {sec:.2f} s | | {sec / ingest['floor_s']:.2f}x the floor |"
            for name, sec in ingest.get("project_stages_s", {}).items()
        ),
        f"| pricing in SQL (`marts.cost_breakdown`, dbt execution time) | {pricing['sql_s']:.2f} s "
        f"| {n / pricing['sql_s']:,.0f} calls/s | 1 |",
        "| pricing with `genai_prices.calc_price`, one call at a time | "
        f"{pricing['calc_price_s']:.2f} s "
        f"| {n / pricing['calc_price_s']:,.0f} calls/s "
        f"| {pricing['calc_price_s'] / pricing['sql_s']:.0f}x slower than SQL |",
        f"| whole pipeline once (`costwatch run`, Dagster + dbt + publish) | "
        f"{pricing['pipeline_s']:.1f} s | | |",
        "",
        "## Start-up, paid once per run whatever the data",
        "",
        "| what | time (median) |",
        "|---|---|",
        "| Python + Dagster: import and load the definitions (dbt manifest included) | "
        f"{startup['definitions_s']:.1f} s |",
        f"| dbt: start, load the project, connect, nothing to build | {startup['dbt_s']:.1f} s |",
        "",
        *target_lines(results),
        *(direct_lines(results["direct"]) if results.get("direct") else []),
        *(
            [
                f"(The full-rebuild histories below were measured on "
                f"{results['history_measured_at']} UTC and kept: `--keep-history`.)",
                "",
            ]
            if history and results.get("history_measured_at")
            else []
        ),
        *(history_lines(history) if history else []),
        *(guard_lines(results["guard"]) if results.get("guard") else []),
        *(
            engine_lines(results["engines"], results.get("direct", []))
            if results.get("engines")
            else []
        ),
    ]
    args.out.write_text("\n".join(lines))
    # the numbers behind the page, so that it can be rendered again (--render) without rerunning
    args.out.with_suffix(".json").write_text(
        json.dumps(
            {
                "args": {
                    "calls": args.calls,
                    "repeat": args.repeat,
                    "history": args.history,
                    "direct": args.direct,
                    "full_chunk_days": args.full_chunk_days,
                },
                "n": n,
                "size_mb": size_mb,
                "results": results,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    p.add_argument(
        "--history",
        default="100x365,1000x365,10000x365",
        help="sessions-per-day x days of generated history to measure ('' to skip)",
    )
    p.add_argument(
        "--direct",
        default="10000x365,10000x1095",
        help="sessions-per-day x days of history built directly, daily run on top ('' to skip)",
    )
    p.add_argument(
        "--keep-history",
        action="store_true",
        help="keep the full-rebuild histories of the last run (BENCHMARKS.json) instead",
    )
    p.add_argument("--query-repeat", type=int, default=30)
    p.add_argument(
        "--full-chunk-days",
        type=int,
        default=DEFAULT_CHUNK_DAYS,
        help="days per Dagster run of the full rebuild (default: the CLI's, %(default)s)",
    )
    p.add_argument(
        "--render",
        action="store_true",
        help="only rewrite the page from the numbers of the last run (BENCHMARKS.json)",
    )
    args = p.parse_args()
    if args.render:
        saved = json.loads(args.out.with_suffix(".json").read_text())
        vars(args).update(saved["args"])
        write_report(args, saved["n"], saved["size_mb"], saved["results"])
        return 0
    with tempfile.TemporaryDirectory(prefix="costwatch-bench-") as tmp:
        home = Path(tmp)
        events = write_pricing_calls(home / "events", n=args.calls)
        size_mb = sum(f.size_bytes for f in discover_files(home / "events")) / 1e6
        print(f"{len(events)} calls, {size_mb:.1f} MB of JSON Lines", flush=True)
        last = args.out.with_suffix(".json")
        # the page before, read once, before this run's first write
        previous = json.loads(last.read_text()) if last.exists() else None
        results: dict = {
            # measured by benchmarks/guard.py and benchmarks/engines.py (run after this by
            # `make bench`): kept meanwhile
            **{k: previous["results"].get(k) if previous else None for k in ("guard", "engines")},
            "complete": False,
            "history": [],
            "direct": [],
            "query_names": list(ANALYST_QUERIES),
            "measured_at": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
        }
        results["floor_before"] = floor_before(previous)
        if warning := disk_warning(args.direct, shutil.disk_usage(home).free, home):
            print(warning, flush=True)
        if args.keep_history and previous:
            results["history"] = previous["results"].get("history", [])
            results["history_measured_at"] = previous["results"].get(
                "history_measured_at", previous["results"].get("measured_at")
            )
            args.history = previous["args"]["history"]
        results["startup"] = bench_startup(args.repeat)
        print(f"startup: {results['startup']}", flush=True)
        results["ingest"] = bench_ingest(home / "events", home, args.repeat)
        print(f"ingest: {results['ingest']}", flush=True)
        speed, slower = machine_speed(results["ingest"]["floor_s"], results["floor_before"])
        print(speed, flush=True)
        if slower:
            print(
                "  The remaining stages take hours: stop now (Ctrl-C) and run `make bench` again "
                "when the machine is quieter, or let it finish and read the page with that in "
                "mind.",
                flush=True,
            )
        results["pricing"] = bench_pricing(events, home, args.repeat)
        print(f"pricing: {results['pricing']}", flush=True)
        write_report(args, len(events), size_mb, results)
        for spec, sessions, days in history_specs("" if args.keep_history else args.history):
            print(f"history {spec}: generating and running", flush=True)
            results["history"].append(
                bench_history(sessions, days, home, args.query_repeat, args.full_chunk_days)
            )
            print(f"history {spec}: {results['history'][-1]}", flush=True)
            write_report(args, len(events), size_mb, results)
        for spec, sessions, days in history_specs(args.direct):
            short = disk_short_gb(sessions, days, shutil.disk_usage(home).free)
            if short:
                print(
                    f"history built directly {spec}: skipped, it needs about "
                    f"{disk_needed_gb(sessions, days):.0f} GB of free disk and {short:.0f} GB "
                    f"more than {home} has: free some, or run `--direct` with fewer days",
                    flush=True,
                )
                results.setdefault("skipped", {})[spec] = "not enough free disk"
                continue
            print(f"history built directly {spec}: building and running", flush=True)
            results["direct"].append(
                bench_daily_on_history(sessions, days, home, args.query_repeat)
            )
            print(f"direct {spec}: {results['direct'][-1]}", flush=True)
            write_report(args, len(events), size_mb, results)
        results["complete"] = True
        write_report(args, len(events), size_mb, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
