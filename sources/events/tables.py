"""The ingestion tables of the warehouse: accepted events, quarantine and the file manifest."""

from __future__ import annotations

import duckdb

from sources.events.contract_sql import TYPED_COLUMNS
from sources.warehouse import table_columns, transaction

# raw.app_events.event_source: which intake a row came through
FROM_EVENT_LOG = "event_log"  # JSON Lines of the contract
FROM_OPENTELEMETRY = "opentelemetry"  # OTLP trace files (sources/otel)


# The column by which a run finds stored copies of its events on other days. Named by its width:
# a warehouse whose column is the 64-bit `event_id_hash` of before gets this one in its place.
EVENT_ID_HASH = "event_id_hash40"
_OLD_EVENT_ID_HASH = "event_id_hash"  # the low 64 bits of the id's md5 (until 2026-12)


def event_id_hash_sql(event_id: str) -> str:
    """The key by which a run finds stored copies of its events (`raw.app_events.
    event_id_hash40`): 40 bits of the id's md5 (the top 40 of its low 64), so that it is the same
    on every DuckDB version and on Spark. 40 bits because DuckDB bit-packs such a column into 5
    bytes a row where a 64-bit hash takes 8, and a daily run reads the column whole: 5/8 of the
    bytes. A hash only names candidates; each is confirmed on the id itself (at three years at
    100x, 186M stored ids, a day's 170,000 ids meet about 30 other ids' hashes by chance)."""
    return f"(md5_number_lower({event_id}) >> 24)"


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
          ingested_at TIMESTAMP not null,
          event_source VARCHAR default '{FROM_EVENT_LOG}',
          {EVENT_ID_HASH} UBIGINT
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


# The hash migration writes this many rows per transaction: an UPDATE holds each changed row in
# memory until it commits (about 50 bytes a row), so a warehouse of any size migrates in ~200 MB.
HASH_MIGRATION_BATCH_ROWS = 4_000_000
# A table of raw that exists from the transaction that adds the hash column until every stored
# row has its value: a process killed in between leaves it, and the next run goes on where that
# one stopped.
_HASH_MIGRATION_PENDING = "_event_id_hash40_pending"


def _add_event_id_hash(
    con: duckdb.DuckDBPyConnection, batch_rows: int = HASH_MIGRATION_BATCH_ROWS
) -> None:
    """For a warehouse from before the column (a new one is created with it): the column and
    every stored row's value, from the 64-bit hash of before when the warehouse has it (its top
    40 bits), then that column dropped.

    In batches of `batch_rows` rows, one transaction each, so that memory does not grow with the
    history (one UPDATE of every row held 3.1 GB at 61M rows until it committed). The column is
    added in one transaction with a marker table, which goes once the last rows are filled:
    until then every run starts by finishing the migration (rows still without a value), so no
    run reads the column before it is whole, and a killed migration resumes.

    By UPDATE, not `alter column ... type ... using`: DuckDB's write-ahead log keeps an ALTER's
    expression and replays it before the functions it calls are loaded, so a process killed
    before the next checkpoint left a warehouse that would not open (it asked to install the
    `core_functions` extension)."""
    present = set(table_columns(con, "raw", "app_events"))
    if EVENT_ID_HASH not in present:
        with transaction(con):
            con.execute(f"alter table raw.app_events add column {EVENT_ID_HASH} UBIGINT")
            con.execute(f"create table raw.{_HASH_MIGRATION_PENDING} (since TIMESTAMP)")
    if table_columns(con, "raw", _HASH_MIGRATION_PENDING):
        source = (
            f"{_OLD_EVENT_ID_HASH} >> 24"
            if _OLD_EVENT_ID_HASH in present
            else event_id_hash_sql("event_id")
        )
        _fill_event_id_hash(con, source, batch_rows)
    if _OLD_EVENT_ID_HASH in present:
        con.execute(f"alter table raw.app_events drop column {_OLD_EVENT_ID_HASH}")


def _fill_event_id_hash(con: duckdb.DuckDBPyConnection, source: str, batch_rows: int) -> None:
    """Every row without a hash gets it, `batch_rows` row ids per transaction, then the marker
    goes (a process killed before that only makes the next run look for NULLs again)."""
    (last,) = con.execute("select coalesce(max(rowid), -1) from raw.app_events").fetchone()
    for start in range(0, last + 1, batch_rows):
        with transaction(con):
            con.execute(
                f"update raw.app_events set {EVENT_ID_HASH} = {source} "  # noqa: S608
                f"where rowid >= ? and rowid < ? and {EVENT_ID_HASH} is null",
                [start, start + batch_rows],
            )
    con.execute(f"drop table raw.{_HASH_MIGRATION_PENDING}")
