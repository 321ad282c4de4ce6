"""The ingestion step of a daily run reads what its days need, not the whole history (issue 20: a
daily run that does not grow with history).

A warehouse with many days of `raw.app_events` (several of DuckDB's row groups), then the real
ingestion asset materialized for a new day and run again for it, each query it sends to the
warehouse profiled by DuckDB: every scan of `raw.app_events` reads the row groups of the run's days
only, except the one scan the deduplication needs (the narrow event id hash column, read whole:
an event's copies can be on any day, app-events.md).
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
from assets.resources import EngineResource, EventLogResource, WarehouseResource
from benchmarks.scale import write_day
from sources.events.tables import event_id_hash_sql
from sources.warehouse import table_columns

pytestmark = pytest.mark.slow

SEED = dt.date(2025, 6, 2)
NEW_DAY = dt.date(2025, 7, 1)
HISTORY_DAYS = 8
ROWS_PER_DAY = 130_000  # more than a row group (122,880 rows): every day has row groups of its own
DEDUP_COLUMNS = {"event_id_hash", "event_day"}


class Profiled:
    """A DuckDB connection whose every query is profiled: `scans` gets each table scan."""

    def __init__(self, con: duckdb.DuckDBPyConnection, profile: Path, scans: list[dict]) -> None:
        self._con, self._profile, self._scans = con, profile, scans
        con.execute("pragma enable_profiling='json'")
        con.execute(f"pragma profiling_output='{profile}'")

    def _collect(self, sql: str) -> None:
        if not self._profile.exists():
            return
        tree = json.loads(self._profile.read_text())
        self._profile.unlink()
        stack = list(tree.get("operator", []))
        while stack:
            node = stack.pop()
            stack.extend(node.get("children", []))
            if node.get("type") == "TABLE_SCAN":
                self._scans.append({"sql": sql, **node, **node.get("extra_info", {})})

    def execute(self, sql: str, *args, **kwargs):
        result = self._con.execute(sql, *args, **kwargs)
        self._collect(sql)
        return result

    def executemany(self, sql: str, *args, **kwargs):
        result = self._con.executemany(sql, *args, **kwargs)
        self._collect(sql)
        return result

    def __getattr__(self, name: str):
        return getattr(self._con, name)


SCANS: list[dict] = []


class ProfiledWarehouse(WarehouseResource):
    profile: str

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as con:
            yield Profiled(con, Path(self.profile), SCANS)  # type: ignore[misc]


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
            "event_id_hash": event_id_hash_sql("(event_id || '-' || $day || '-' || k)"),
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


def _materialize(warehouse: Path, events: Path, profile: Path, day: dt.date) -> None:
    SCANS.clear()
    result = dg.materialize(
        [ingest_app_events],
        partition_key=day.isoformat(),
        resources={
            "duckdb": ProfiledWarehouse(database=str(warehouse), profile=str(profile)),
            "event_logs": EventLogResource(root=str(events)),
            "engine": EngineResource(
                engine="duckdb",
                lake=str(events.parent / "lake"),
                spark_master="local[1]",
                spark_ingest_min_mb=512,
            ),
        },
    )
    assert result.success


def _whole_history_scans() -> list[tuple[str, str, int, int]]:
    """Scans of raw.app_events that read more row groups than the run's day can hold, except the
    dedup's scan of the id hashes: (projected columns, query, row groups read, of)."""
    out = []
    for s in SCANS:
        if not str(s.get("Table", "")).endswith(".raw.app_events"):
            continue
        projected = s.get("Projections", [])
        projected = set(projected.split("\n") if isinstance(projected, str) else projected)
        read, of = int(s.get("row_groups_scanned", 0)), int(s.get("total_row_groups_to_scan", 0))
        if read > 3 and not projected <= DEDUP_COLUMNS:
            out.append((", ".join(sorted(projected)), " ".join(s["sql"].split())[:200], read, of))
    return out


def test_a_new_day_and_its_rerun_read_the_day_not_the_history(tmp_path):
    events, warehouse = tmp_path / "events", tmp_path / "warehouse.duckdb"
    profile = tmp_path / "profile.json"
    with duckdb.connect() as con:
        write_day(con, events, SEED, sessions_per_day=40)
    _materialize(warehouse, events, profile, SEED)
    _history(warehouse)
    (events / f"{SEED:%Y/%m/%d}.jsonl").unlink()  # the seed's days are history now
    with duckdb.connect() as con:
        write_day(con, events, NEW_DAY, sessions_per_day=40)

    for run in ("new day", "rerun"):
        _materialize(warehouse, events, profile, NEW_DAY)
        history = [s for s in SCANS if str(s.get("Table", "")).endswith(".raw.app_events")]
        # the history is there to be read: a query of all of it would read every row group
        assert max(int(s["total_row_groups_to_scan"]) for s in history) >= HISTORY_DAYS, run
        assert _whole_history_scans() == [], run
