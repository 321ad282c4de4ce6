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
def resolve_model(provider: str, model: str) -> tuple[str, str, bool]:
    """(price provider id, canonical model id, known to genai-prices?) for a logged model.

    Unknown names keep the logged provider and model, so custom prices can still match them.
    """
    try:
        prov, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return provider, model, False
    return prov.id, info.id, True


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute(
        """
        create table if not exists raw.model_aliases (
          provider VARCHAR not null,
          model VARCHAR not null,
          canonical_model VARCHAR not null,
          is_priced_model BOOLEAN not null,
          price_provider_id VARCHAR not null,
          genai_prices_version VARCHAR not null,
          mapped_at TIMESTAMP not null
        )"""
    )


def map_new_models(
    con: duckdb.DuckDBPyConnection, pairs_sql: str, params: dict | None = None
) -> list[tuple[str, str]]:
    """Add a mapping for every (provider, model) the query yields that has none yet.

    `pairs_sql` is a constant query of this project returning (provider, model), with `params`.
    Returns the pairs genai-prices does not know.
    """
    ensure_table(con)
    new = con.execute(
        f"""
        select distinct provider, model from ({pairs_sql}) p
        where provider is not null and model is not null
          and not exists (select 1 from raw.model_aliases a
                          where a.provider = p.provider and a.model = p.model)
        order by 1, 2
        """,  # noqa: S608 (pairs_sql is a constant query of this project)
        params or {},
    ).fetchall()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = []
    for p, m in new:
        price_provider, canonical, known = resolve_model(p, m)
        rows.append((p, m, canonical, known, price_provider, genai_prices.__version__, now))
    if rows:
        con.executemany("insert into raw.model_aliases values (?, ?, ?, ?, ?, ?, ?)", rows)
    return [
        (p, m)
        for p, m in con.execute(
            "select provider, model from raw.model_aliases where not is_priced_model order by 1, 2"
        ).fetchall()
    ]
