"""Price tables: genai-prices (bundled data) + custom prices, and the non-LLM rate card.

Not partitioned: prices are reference data. Every run refreshes them (about 0.5 s); the dbt snapshot
`snapshots/llm_prices_snapshot` records which prices changed and when. Costs already built do not
change when prices do: only a rebuild of their days re-prices them.
"""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.resources import ConfigFilesResource
from sources.pricing import (
    flatten_genai_prices,
    genai_prices_version,
    load_custom_prices,
    load_rate_card,
    write_llm_prices,
    write_rate_card,
)

LLM_PRICES = dg.AssetKey(["raw", "llm_prices"])
RATE_CARD = dg.AssetKey(["raw", "rate_card"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            LLM_PRICES,
            kinds={"duckdb", "python"},
            description=(
                "LLM prices per provider, model, period, time of day and request context "
                "(service tier, batch), per token: genai-prices' bundled data plus custom prices."
            ),
        ),
        dg.AssetSpec(
            RATE_CARD,
            kinds={"duckdb"},
            description="Rates for DB operations, external API calls and compute, by date.",
        ),
    ],
    name="load_prices",
    pool="warehouse",
    group_name="pricing",
    check_specs=[
        dg.AssetCheckSpec(
            "every_genai_price_flattened",
            asset=LLM_PRICES,
            description="Every genai-prices model could be represented in the SQL price table.",
        )
    ],
)
def load_prices(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, config_files: ConfigFilesResource
):
    genai_rows, problems = flatten_genai_prices()
    custom_version, custom_rows = load_custom_prices(Path(config_files.custom_prices))
    card_version, rates = load_rate_card(Path(config_files.rate_card))
    version = f"{genai_prices_version()};custom={custom_version}"
    with duckdb.get_connection() as con:
        n_prices = write_llm_prices(con, genai_rows + custom_rows, version)
        n_rates = write_rate_card(con, rates, card_version)
    context.log.info(f"{n_prices} price rows ({len(custom_rows)} custom), {n_rates} rates")
    yield dg.MaterializeResult(
        asset_key=LLM_PRICES,
        metadata={
            "rows": n_prices,
            "custom_rows": len(custom_rows),
            "pricing_version": version,
            "custom_prices_file": dg.MetadataValue.path(config_files.custom_prices),
        },
    )
    yield dg.MaterializeResult(
        asset_key=RATE_CARD,
        metadata={
            "rows": n_rates,
            "rate_card_version": card_version,
            "rate_card_file": dg.MetadataValue.path(config_files.rate_card),
        },
    )
    yield dg.AssetCheckResult(
        check_name="every_genai_price_flattened",
        passed=not problems,
        metadata={"problems": dg.MetadataValue.json(problems)},
    )
