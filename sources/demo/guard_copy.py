"""A published copy with chosen spend, for the guard's tests and benchmark (no pipeline run).

It holds exactly the relations and columns the guard reads from a real publish
(sources/guard/published.py), with the price table written by the pipeline's own code from a
custom price file.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import duckdb

from sources.pricing.files import load_custom_prices
from sources.pricing.model_catalog import ensure_table
from sources.pricing.store import write_llm_prices


def write_copy(
    path: Path,
    prices_file: Path,
    spend: Iterable[tuple[str, str, str, str, dt.date, Decimal, int]] = (),
    sessions: Iterable[tuple[str, dt.date, Decimal, int, int]] = (),
    event_ids: Iterable[str] = (),
    as_of_day: dt.date | None = None,
    pii_fingerprint: str = "",
) -> Path:
    """Write a copy at `path` atomically (as the publish does).

    spend: (budget_id, scope, scope_id, period, period_start, spent_usd, spent_tokens);
    sessions: (session_id, session_day, total_cost_usd, input_tokens, output_tokens);
    event_ids: calls the copy includes (marts.interactions)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    spend, sessions, event_ids = list(spend), list(sessions), list(event_ids)
    as_of_day = as_of_day or max((s[4] for s in spend), default=dt.date(2026, 11, 1))
    with duckdb.connect(str(tmp)) as con:
        for schema in ("meta", "marts", "raw"):
            con.execute(f"create schema {schema}")
        con.execute(
            "create table meta.publish_info as select now()::TIMESTAMP as published_at, "
            "json_object('pii', $pii) as info",
            {"pii": pii_fingerprint},
        )
        con.execute(
            "create table marts.budget_status (budget_id VARCHAR, scope VARCHAR, "
            "scope_id VARCHAR, period VARCHAR, period_start DATE, spent_usd DECIMAL(18,9), "
            "spent_tokens BIGINT, as_of_day DATE)"
        )
        _insert(con, "marts.budget_status", [(*row, as_of_day) for row in spend])
        con.execute(
            "create table marts.sessions (session_id VARCHAR, session_day DATE, "
            "total_cost_usd DECIMAL(18,9), input_tokens BIGINT, output_tokens BIGINT)"
        )
        _insert(con, "marts.sessions", sessions)
        con.execute("create table marts.interactions (event_id VARCHAR)")
        _insert(con, "marts.interactions", [(e,) for e in event_ids])
        version, rows = load_custom_prices(prices_file)
        write_llm_prices(con, rows, version)
        ensure_table(con)
    os.replace(tmp, path)
    return path


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"insert into {table} values ({marks})", rows)  # noqa: S608 (constants)
