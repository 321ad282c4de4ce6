"""Provider report tables in the warehouse: replace the pulled days of one provider atomically."""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple, fields

import duckdb

from sources.providers.rows import CostRow, ProviderPull, UsageRow
from sources.warehouse import transaction

USAGE_DDL = """
create table if not exists raw.provider_usage (
  provider VARCHAR not null, day DATE not null, endpoint VARCHAR not null, model VARCHAR,
  project_id VARCHAR, api_key_id VARCHAR, service_tier VARCHAR, is_batch BOOLEAN,
  context_window VARCHAR, input_tokens BIGINT not null, cached_input_tokens BIGINT not null,
  cache_write_tokens BIGINT not null, output_tokens BIGINT not null, requests BIGINT,
  web_search_requests BIGINT not null, pulled_at TIMESTAMP not null
)"""
COSTS_DDL = """
create table if not exists raw.provider_costs (
  provider VARCHAR not null, day DATE not null, project_id VARCHAR, line_item VARCHAR,
  amount_usd DECIMAL(38,18), currency VARCHAR not null, cost_type VARCHAR,
  model VARCHAR, service_tier VARCHAR, pulled_at TIMESTAMP not null
)"""
# Columns added since the first release: warehouses built before get them on the next pull.
MIGRATIONS = (
    "alter table raw.provider_usage add column if not exists input_audio_tokens BIGINT default 0",
    "alter table raw.provider_usage add column if not exists output_audio_tokens BIGINT default 0",
    "alter table raw.provider_costs add column if not exists amount DECIMAL(38,18)",
    "alter table raw.provider_costs alter column amount_usd drop not null",
)
USAGE_COLUMNS = [f.name for f in fields(UsageRow)]
COSTS_COLUMNS = [f.name for f in fields(CostRow)]


def _insert(table: str, columns: list[str]) -> str:
    names = ", ".join([*columns, "pulled_at"])
    marks = ", ".join(["?"] * (len(columns) + 1))
    return f"insert into {table} ({names}) values ({marks})"  # noqa: S608 (dataclass fields)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute(USAGE_DDL)
    con.execute(COSTS_DDL)
    for statement in MIGRATIONS:
        con.execute(statement)


def replace_pull(con: duckdb.DuckDBPyConnection, pull: ProviderPull) -> tuple[int, int]:
    """Delete this provider's rows for the pulled days and insert the pull, in one transaction."""
    ensure_tables(con)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    where = "provider = $p and day between $s and $e"
    params = {"p": pull.provider, "s": pull.start, "e": pull.end}
    with transaction(con):
        con.execute(f"delete from raw.provider_usage where {where}", params)  # noqa: S608 (constant)
        con.execute(f"delete from raw.provider_costs where {where}", params)  # noqa: S608 (constant)
        if pull.usage:
            con.executemany(
                _insert("raw.provider_usage", USAGE_COLUMNS),
                [(*astuple(u), now) for u in pull.usage],
            )
        if pull.costs:
            con.executemany(
                _insert("raw.provider_costs", COSTS_COLUMNS),
                [(*astuple(c), now) for c in pull.costs],
            )
    return len(pull.usage), len(pull.costs)
