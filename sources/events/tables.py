"""The ingestion tables of the warehouse: accepted events, quarantine and the file manifest."""

from __future__ import annotations

import duckdb

from sources.events.contract_sql import TYPED_COLUMNS
from sources.warehouse import transaction

# raw.app_events.event_source: which intake a row came through
FROM_EVENT_LOG = "event_log"  # JSON Lines of the contract
FROM_OPENTELEMETRY = "opentelemetry"  # OTLP trace files (sources/otel)


def event_id_hash_sql(event_id: str) -> str:
    """The 64-bit key by which a run finds stored copies of its events (`raw.app_events.
    event_id_hash`): scanning it costs a fraction of scanning the ids. md5, so that it is the same
    on every DuckDB version and on Spark; a match is confirmed on the id itself."""
    return f"md5_number_lower({event_id})"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and tables if they do not exist (idempotent)."""
    typed = ",\n  ".join(f"{f.column} {f.sql_type}" for f in TYPED_COLUMNS)
    con.execute("create schema if not exists raw")
    con.execute(
        f"""
        create table if not exists raw.app_events (
          event_id VARCHAR not null,
          event_type VARCHAR not null,
          occurred_at TIMESTAMP not null,
          event_day DATE not null,
          ts_raw VARCHAR not null,
          user_id VARCHAR not null,
          {typed},
          metadata JSON,
          source_file VARCHAR not null,
          line_no BIGINT not null,
          ingested_at TIMESTAMP not null
        )"""
    )
    # added in v2: warehouses of v1 get the column, their rows came from event logs
    con.execute(
        "alter table raw.app_events add column if not exists event_source VARCHAR "
        f"default '{FROM_EVENT_LOG}'"
    )
    _add_event_id_hash(con)
    con.execute(
        """
        create table if not exists raw.event_quarantine (
          source_file VARCHAR not null,
          line_no BIGINT not null,
          raw_line VARCHAR not null,
          reason VARCHAR not null,
          ingested_at TIMESTAMP not null,
          event_day DATE not null
        )"""
    )
    con.execute(
        """
        create table if not exists raw.event_file_stats (
          source_file VARCHAR not null,
          event_day DATE not null,
          lines_read BIGINT not null,
          accepted BIGINT not null,
          duplicates BIGINT not null,
          quarantined BIGINT not null,
          blank BIGINT not null,
          ingested_at TIMESTAMP not null
        )"""
    )
    con.execute(
        """
        create table if not exists raw.event_files (
          source_file VARCHAR not null,
          size_bytes BIGINT not null,
          mtime_ns BIGINT not null,
          event_day DATE not null
        )"""
    )


def _add_event_id_hash(con: duckdb.DuckDBPyConnection) -> None:
    """Added in v2 (after `event_source`): the column and its values for every stored row, in one
    transaction, so that the column never exists without them."""
    (present,) = con.execute(
        "select count(*) from information_schema.columns where table_schema = 'raw' "
        "and table_name = 'app_events' and column_name = 'event_id_hash'"
    ).fetchone()
    if present:
        return
    with transaction(con):
        con.execute("alter table raw.app_events add column event_id_hash UBIGINT")
        con.execute(
            f"update raw.app_events set event_id_hash = {event_id_hash_sql('event_id')}"  # noqa: S608
        )
