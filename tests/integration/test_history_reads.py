"""The steps of a daily run that write raw tables read what their days need, not the whole
history (issue 20: a daily run that does not grow with history).

A warehouse with many days of a raw table (several of DuckDB's row groups), then the real asset
materialized for a new day (and run again for it), each query it sends to the warehouse profiled
by DuckDB: every scan of the table reads the row groups of the run's days only. One exception:
the ingestion's deduplication reads the narrow event id hash column of `raw.app_events` whole (an
event's copies can be on any day, app-events.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.events.app_events import ingest_app_events
from assets.providers.reports import pull_provider_reports
from assets.resources import (
    EngineResource,
    EventLogResource,
    ProviderApiResource,
    WarehouseResource,
)
from benchmarks.scale import write_day
from sources.events.tables import EVENT_ID_HASH, event_id_hash_sql
from sources.providers.store import ensure_tables as ensure_provider_tables
from sources.warehouse import table_columns

pytestmark = pytest.mark.slow

SEED = dt.date(2025, 6, 2)
NEW_DAY = dt.date(2025, 7, 1)
HISTORY_DAYS = 8
ROWS_PER_DAY = 130_000  # more than a row group (122,880 rows): every day has row groups of its own
DEDUP_COLUMNS = {EVENT_ID_HASH, "event_day"}


class Profiled:
    """A DuckDB connection whose every query is profiled: `scans` gets each table scan. DuckDB
    writes a query's profile when its result has been read: it is collected at the next query,
    and by `finish` for the last one."""

    def __init__(self, con: duckdb.DuckDBPyConnection, profile: Path, scans: list[dict]) -> None:
        self._con, self._profile, self._scans, self._sql = con, profile, scans, ""
        con.execute("pragma enable_profiling='json'")
        con.execute(f"pragma profiling_output='{profile}'")

    def finish(self) -> None:
        if not self._profile.exists():
            return
        tree = json.loads(self._profile.read_text())
        self._profile.unlink()
        stack = list(tree.get("operator", []))
        while stack:
            node = stack.pop()
            stack.extend(node.get("children", []))
            if node.get("type") == "TABLE_SCAN":
                self._scans.append({"sql": self._sql, **node, **node.get("extra_info", {})})

    def execute(self, sql: str, *args, **kwargs):
        self.finish()
        self._sql = sql
        return self._con.execute(sql, *args, **kwargs)

    def executemany(self, sql: str, *args, **kwargs):
        self.finish()
        self._sql = sql
        return self._con.executemany(sql, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


SCANS: list[dict] = []


class ProfiledWarehouse(WarehouseResource):
    profile: str

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as con:
            profiled = Profiled(con, Path(self.profile), SCANS)
            yield profiled  # type: ignore[misc]
            profiled.finish()


def _history(warehouse: Path) -> None:
    """The seed day's rows copied to HISTORY_DAYS days before NEW_DAY, ROWS_PER_DAY a day, event
    ids made unique per copy (as benchmarks/history.py does), written day after day."""
    with duckdb.connect(str(warehouse)) as con:
        rows = con.execute("select count(*) from raw.app_events").fetchall()[0][0]
        copies = -(-ROWS_PER_DAY // rows)
        columns = table_columns(con, "raw", "app_events")
        replaced = {
            "event_id": "event_id || '-' || $day || '-' || k",
            "event_day": "$new_day::DATE",
            "occurred_at": "occurred_at + ($new_day::DATE - $seed::DATE) * interval 1 day",
            EVENT_ID_HASH: event_id_hash_sql("(event_id || '-' || $day || '-' || k)"),
        }
        select = ", ".join(replaced.get(c, c) for c in columns)
        for i in range(HISTORY_DAYS, 0, -1):
            day = NEW_DAY - dt.timedelta(days=i)
            con.execute(
                f"insert into raw.app_events select {select} from raw.app_events "  # noqa: S608
                "cross join range($copies) r(k) where event_day = $seed",
                {"day": str(day), "new_day": day, "seed": SEED, "copies": copies},
            )
        con.execute("delete from raw.app_events where event_day = $seed", {"seed": SEED})
        con.execute("checkpoint")


def _materialize(asset, warehouse: Path, profile: Path, day: dt.date, **resources) -> None:
    SCANS.clear()
    result = dg.materialize(
        [asset],
        partition_key=day.isoformat(),
        resources={
            "duckdb": ProfiledWarehouse(database=str(warehouse), profile=str(profile)),
            **resources,
        },
    )
    assert result.success


def _whole_history_scans(table: str, allowed: set[str] = frozenset()) -> list[tuple]:
    """Scans of `table` that read more row groups than the run's days can hold, except those that
    read only the `allowed` columns: (projected columns, query, row groups read, of)."""
    out = []
    for s in SCANS:
        if not str(s.get("Table", "")).endswith(f".{table}"):
            continue
        projected = s.get("Projections", [])
        projected = set(projected.split("\n") if isinstance(projected, str) else projected)
        read, of = int(s.get("row_groups_scanned", 0)), int(s.get("total_row_groups_to_scan", 0))
        if read > 3 and not projected <= allowed:
            out.append((", ".join(sorted(projected)), " ".join(s["sql"].split())[:200], read, of))
    return out


def _row_groups(warehouse: Path, table: str) -> int:
    """How many row groups `table` has: a query of the whole table would read them all."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select count(distinct row_group_id) from pragma_storage_info($t)", {"t": table}
        ).fetchall()[0][0]


def test_a_new_day_and_its_rerun_read_the_day_not_the_history(tmp_path):
    events, warehouse = tmp_path / "events", tmp_path / "warehouse.duckdb"
    profile = tmp_path / "profile.json"
    resources = {
        "event_logs": EventLogResource(root=str(events)),
        "engine": EngineResource(
            engine="duckdb",
            lake=str(tmp_path / "lake"),
            spark_master="local[1]",
            spark_ingest_min_mb=512,
        ),
    }
    with duckdb.connect() as con:
        write_day(con, events, SEED, sessions_per_day=40)
    _materialize(ingest_app_events, warehouse, profile, SEED, **resources)
    _history(warehouse)
    (events / f"{SEED:%Y/%m/%d}.jsonl").unlink()  # the seed's days are history now
    with duckdb.connect() as con:
        write_day(con, events, NEW_DAY, sessions_per_day=40)

    for run in ("new day", "rerun"):
        _materialize(ingest_app_events, warehouse, profile, NEW_DAY, **resources)
        assert _row_groups(warehouse, "raw.app_events") >= HISTORY_DAYS, run
        assert _whole_history_scans("raw.app_events", DEDUP_COLUMNS) == [], run


def test_the_provider_pull_reads_its_days_not_the_history(tmp_path):
    """No admin key is set (the providers are skipped): the step still maps the models of what
    raw.provider_usage holds, and reads the days it pulls only."""
    warehouse, profile = tmp_path / "warehouse.duckdb", tmp_path / "profile.json"
    with duckdb.connect(str(warehouse)) as con:
        ensure_provider_tables(con)
        for i in range(HISTORY_DAYS, 0, -1):
            con.execute(
                "insert into raw.provider_usage (provider, day, endpoint, model, input_tokens, "
                "cached_input_tokens, cache_write_tokens, output_tokens, web_search_requests, "
                "pulled_at) select 'openai', $day, 'completions', 'model-' || (range % 7), 1, 0, "
                "0, 1, 0, now()::TIMESTAMP from range($rows)",
                {"day": NEW_DAY - dt.timedelta(days=i), "rows": ROWS_PER_DAY},
            )
    closed = "http://127.0.0.1:9"  # never asked: no key is set
    providers = ProviderApiResource(
        openai_base_url=closed, anthropic_base_url=closed, max_attempts=1
    )
    _materialize(pull_provider_reports, warehouse, profile, NEW_DAY, providers=providers)
    assert _row_groups(warehouse, "raw.provider_usage") >= HISTORY_DAYS
    assert _whole_history_scans("raw.provider_usage") == []
