"""A long history built directly in the warehouse, to measure the daily run on top of it.

Replaying a year of JSON through the pipeline takes 35 minutes at 100x the seed, three years
would take hours and 48 GB of JSON, and the daily run's cost depends on what the warehouse
holds, not on how it got there. So:

1. one real day (`benchmarks/scale.py`, the same generator as the other benchmarks) goes
   through `costwatch run`: every table the pipeline writes exists with real rows;
2. every warehouse table whose rows all belong to that day (a DATE, or a TIMESTAMP column cast
   to a date, equal to it in every row) gets a copy of those rows for every other day of the
   history: day and time columns shifted by whole days, the ids of events, sessions and
   interactions given a per-day suffix (unique, and still joining), users unchanged (the same
   50,000 users come back, as in the generator). Rows are written day after day, as the daily
   runs write them (so row groups keep days together, as in a warehouse built by runs);
3. the archived relations get the days beyond the retention window in `archive`, the others in
   `marts`, as the archive step leaves them;
4. models whose rows sum many days (ROLLUPS: a user's month) are built again by dbt from the
   copied days (a copy per day would be a row per day);
5. the published copy is written from scratch (a full publish, timed).

Tables that do not hold the seed day only (prices, budgets, snapshots of per-user totals,
monthly tables, file accounting) keep what the seed run wrote: their size does not grow with
days of history in the same way, and the report says so.

    python benchmarks/history.py WAREHOUSE --seed 2025-01-01 --days 365 --cutoff 2025-07-02

(`make bench` runs these steps and then the measured daily run:
`benchmarks/run.py::bench_daily_on_history`.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from sources.events.tables import EVENT_ID_HASH, event_id_hash_sql
from sources.publishing.archive import ARCHIVED
from sources.warehouse import ident

# id columns made unique per copied day; every other column keeps its value
REKEYED = (
    "event_id", "session_id", "interaction_id", "trace_id", "span_id", "request_id", "dbt_scd_id",
)  # fmt: skip
# columns computed from a rekeyed one: computed again from the copy's key
DERIVED = {EVENT_ID_HASH: ("event_id", event_id_hash_sql)}
SKIPPED_SCHEMAS = ("meta", "information_schema", "pg_catalog")
# one row per user or budget scope, rebuilt whole by every run: the seed run's rows stand
NOT_DAILY = ("marts.user_stats", "marts.budget_status", "marts.budget_alerts")
# models whose rows sum many days (a user's month): not copied (a copy per day would be a row per
# day), but built again by dbt from the copied days, as a warehouse of that age holds them
ROLLUPS = ("intermediate.int_user_months",)
DAYS_PER_STATEMENT = 16


def seed_day(new_day: dt.date, days: int) -> tuple[dt.date, int]:
    """The seed day of `days` days of history before `new_day`, and the days from it to
    `new_day`. Never the 1st of a month (then one day earlier, one day more): a month-keyed row (a
    monthly budget period of `int_budget_spend`) would carry the seed day, its table would pass
    for one of the seed day's rows and be copied to every day, 30 times the rows a real history
    has. (The three-year run of 2026-12-01 had that seed: 9.8M budget rows instead of 0.3M, and
    `budget_status`, rebuilt whole by every run, took 8.3 s of its 22 s of dbt SQL.)"""
    first = new_day - dt.timedelta(days=days)
    if first.day == 1:
        return first - dt.timedelta(days=1), days + 1
    return first, days


def seed_tables(con: duckdb.DuckDBPyConnection, seed: dt.date) -> dict[str, dict[str, str]]:
    """Tables holding rows of the seed day only: qualified name -> {column: type}."""
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() and table_type = 'BASE TABLE' "
        "and table_schema not in (select unnest($skip::VARCHAR[])) order by 1, 2",
        {"skip": list(SKIPPED_SCHEMAS)},
    ).fetchall()
    out = {}
    for schema, table in tables:
        if f"{schema}.{table}" in (*NOT_DAILY, *ROLLUPS):
            continue
        name = f"{ident(schema)}.{ident(table)}"
        columns = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = current_database() and table_schema = $s "
                "and table_name = $t order by ordinal_position",
                {"s": schema, "t": table},
            ).fetchall()
        )
        timed = [c for c, t in columns.items() if t == "DATE" or t.startswith("TIMESTAMP")]
        if not timed or not con.execute(f"select count(*) from {name}").fetchall()[0][0]:  # noqa: S608
            continue
        days = ", ".join(f"count(distinct {ident(c)}::DATE), min({ident(c)}::DATE)" for c in timed)
        row = con.execute(f"select {days} from {name}").fetchall()[0]  # noqa: S608
        pairs = list(zip(row[::2], row[1::2], strict=True))
        if any(n == 1 and d == seed for n, d in pairs):
            out[f"{schema}.{table}"] = columns
    return out


def shifted_select(columns: dict[str, str]) -> str:
    """The select list of a copy `k` days later. A snapshot's copies are earlier versions
    instead, each valid for one day (`k` is then negative), so the seed's rows stay current."""
    out = []
    for c, t in columns.items():
        q = ident(c)
        if c == "dbt_valid_to":
            out.append(f"dbt_valid_from + to_days(k::INTEGER + 1) as {q}")
        elif t == "DATE":
            out.append(f"{q} + k::INTEGER as {q}")
        elif t.startswith("TIMESTAMP"):
            out.append(f"{q} + to_days(k::INTEGER) as {q}")
        elif c in REKEYED and t == "VARCHAR":
            out.append(f"{_rekeyed(c)} as {q}")
        elif c in DERIVED:
            source, compute = DERIVED[c]
            out.append(f"{compute(_rekeyed(source))} as {q}")
        else:
            out.append(q)
    return ", ".join(out)


def _rekeyed(column: str) -> str:
    return f"{ident(column)} || '~' || k"


def _day_column(relation: str) -> str | None:
    _, table = relation.split(".")
    return ARCHIVED[table][0] if table in ARCHIVED else None


def replicate(
    con: duckdb.DuckDBPyConnection, seed: dt.date, days: int, cutoff: dt.date, progress=print
) -> dict[str, int]:
    """Copy the seed day's rows of every seed table to the `days - 1` days after it; archived
    relations get days before `cutoff` in `archive`, the rest in `marts`. Returns rows per
    table."""
    tables = seed_tables(con, seed)
    rows: dict[str, int] = {}
    t0 = time.perf_counter()
    for relation, columns in tables.items():
        schema, table = relation.split(".")
        src = f"{ident(schema)}.{ident(table)}"
        select = shifted_select(columns)
        day = _day_column(relation) if schema in ("marts", "archive") else None
        con.execute(f"create temp table seed as select * from {src}")  # noqa: S608
        snapshot = "dbt_valid_to" in columns
        for lo in range(1, days, DAYS_PER_STATEMENT):
            ks = range(lo, min(days, lo + DAYS_PER_STATEMENT))
            if snapshot:  # versions before the seed's, oldest first
                ks = range(lo - days, min(days, lo + DAYS_PER_STATEMENT) - days)
            for target, chosen in _targets(schema, table, day, seed, ks, cutoff):
                con.execute(
                    f"insert into {target} select {select} from seed, "  # noqa: S608
                    f"(select unnest($ks::INTEGER[]) as k) order by k",
                    {"ks": chosen},
                )
        con.execute("drop table seed")
        if day:  # the seed day itself belongs where the archive step would have left it
            _place_seed(con, table, day, seed, cutoff)
        rows[relation] = con.execute(f"select count(*) from {src}").fetchall()[0][0]  # noqa: S608
        progress(f"  {relation}: {rows[relation]:,} rows ({time.perf_counter() - t0:.0f} s)")
    con.execute("checkpoint")
    return rows


def rebuild_rollups(warehouse: Path, env: dict[str, str], repo: Path) -> None:
    """Build the ROLLUPS again from the copied days: `dbt run --full-refresh` of those models
    alone (their inputs stay as copied), with no day window set, so they read every day. Its
    target and log folders are scratch ones: the project's parse state (target/) stays the runs'
    own, so the measured run does not parse the project again."""
    models = [r.split(".", 1)[1] for r in ROLLUPS]
    project = repo / "dbt_project"
    window = ("COSTWATCH_WINDOW_START", "COSTWATCH_WINDOW_END")
    scratch = Path(tempfile.mkdtemp(prefix="costwatch-rollups-"))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dbt.cli.main", "run", "--full-refresh", "--select", *models,
             "--project-dir", str(project), "--profiles-dir", str(project),
             "--target-path", str(scratch / "target"), "--log-path", str(scratch / "logs")],
            env={k: v for k, v in env.items() if k not in window} | {
                "COSTWATCH_WAREHOUSE": str(warehouse)
            },
            cwd=project,
            capture_output=True,
            text=True,
        )  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if done.returncode:
        raise RuntimeError(f"dbt could not build {', '.join(models)} again:\n{done.stdout[-3000:]}")


def _targets(
    schema: str, table: str, day: str | None, seed: dt.date, ks: range, cutoff: dt.date
) -> list[tuple[str, list[int]]]:
    if not day:
        return [(f"{ident(schema)}.{ident(table)}", list(ks))]
    old = [k for k in ks if seed + dt.timedelta(days=k) < cutoff]
    new = [k for k in ks if seed + dt.timedelta(days=k) >= cutoff]
    out = []
    if old:
        out.append((f"archive.{ident(table)}", old))
    if new:
        out.append((f"marts.{ident(table)}", new))
    return out


def _place_seed(
    con: duckdb.DuckDBPyConnection, table: str, day: str, seed: dt.date, cutoff: dt.date
) -> None:
    src, dst = ("marts", "archive") if seed < cutoff else ("archive", "marts")
    q = f"{ident(day)} = $seed"
    con.execute(
        f"insert into {dst}.{ident(table)} select * from {src}.{ident(table)} where {q}",  # noqa: S608
        {"seed": seed},
    )
    con.execute(f"delete from {src}.{ident(table)} where {q}", {"seed": seed})  # noqa: S608


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("warehouse", type=Path)
    p.add_argument("--seed", type=dt.date.fromisoformat, required=True)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--cutoff", type=dt.date.fromisoformat, required=True)
    args = p.parse_args()
    if args.seed.day == 1:
        p.error("--seed on the 1st of a month would copy monthly rows to every day: see seed_day")
    with duckdb.connect(str(args.warehouse)) as con:
        replicate(con, args.seed, args.days, args.cutoff)
    rebuild_rollups(args.warehouse, dict(os.environ), Path(__file__).resolve().parents[1])


if __name__ == "__main__":
    main()
