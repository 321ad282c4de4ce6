"""Canonical model names from genai-prices' model match rules (the maintained source).

The application may log an alias (`gpt-4o-mini`) or a dated snapshot (`gpt-4o-mini-2024-07-18`);
both map to genai-prices' model id. Names genai-prices does not know keep their logged name and
are flagged (`is_priced_model = false`) so they are reported, never dropped.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import duckdb
import genai_prices
from genai_prices import data_snapshot


@cache
def canonical_model(provider: str, model: str) -> tuple[str, bool]:
    """(canonical model id, known to genai-prices?) for a provider and a logged model name."""
    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return model, False
    return info.id, True


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute(
        """
        create table if not exists raw.model_aliases (
          provider VARCHAR not null,
          model VARCHAR not null,
          canonical_model VARCHAR not null,
          is_priced_model BOOLEAN not null,
          genai_prices_version VARCHAR not null,
          mapped_at TIMESTAMP not null
        )"""
    )


def map_new_models(con: duckdb.DuckDBPyConnection, pairs_sql: str) -> list[tuple[str, str]]:
    """Add a mapping for every (provider, model) the query yields that has none yet.

    `pairs_sql` is a constant query of this project returning (provider, model). Returns the pairs
    genai-prices does not know.
    """
    ensure_table(con)
    new = con.execute(
        f"""
        select distinct provider, model from ({pairs_sql}) p
        where provider is not null and model is not null
          and not exists (select 1 from raw.model_aliases a
                          where a.provider = p.provider and a.model = p.model)
        order by 1, 2
        """  # noqa: S608 (pairs_sql is a constant query of this project)
    ).fetchall()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [(p, m, *canonical_model(p, m), genai_prices.__version__, now) for p, m in new]
    if rows:
        con.executemany("insert into raw.model_aliases values (?, ?, ?, ?, ?, ?)", rows)
    return [
        (p, m)
        for p, m in con.execute(
            "select provider, model from raw.model_aliases where not is_priced_model order by 1, 2"
        ).fetchall()
    ]
