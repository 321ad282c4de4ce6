"""Provider report tables in the warehouse: replace the pulled days of one provider atomically."""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple

import duckdb

from sources.providers import ProviderPull
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
  amount_usd DECIMAL(38,18) not null, currency VARCHAR not null, cost_type VARCHAR,
  model VARCHAR, service_tier VARCHAR, pulled_at TIMESTAMP not null
)"""


USAGE_INSERT = "insert into raw.provider_usage values (" + ", ".join(["?"] * 16) + ")"  # noqa: S608
COSTS_INSERT = "insert into raw.provider_costs values (" + ", ".join(["?"] * 10) + ")"  # noqa: S608


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute(USAGE_DDL)
    con.execute(COSTS_DDL)


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
                USAGE_INSERT,
                [(*astuple(u), now) for u in pull.usage],
            )
        if pull.costs:
            con.executemany(
                COSTS_INSERT,
                [(*astuple(c), now) for c in pull.costs],
            )
    return len(pull.usage), len(pull.costs)
