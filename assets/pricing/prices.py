"""Price tables: genai-prices (bundled data) + custom prices, and the non-LLM rate card.

Not partitioned: prices are reference data. Every run refreshes them (about 0.5 s) from the data
bundled with the pinned genai-prices, or, when COSTWATCH_PRICES_URL is set, from genai-prices' own
online update (falling back to the last update's prices, then the bundled ones); the dbt snapshot
`snapshots/llm_prices_snapshot` records which prices changed and when. Costs already built do not
change when prices do: only a rebuild of their days re-prices them.
"""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.partitions import day_results
from assets.resources import ConfigFilesResource
from sources.pricing.files import load_custom_prices, load_rate_card, rates_digest
from sources.pricing.genai import genai_rows_digest
from sources.pricing.refresh import genai_prices_for_refresh
from sources.pricing.store import write_llm_prices, write_rate_card

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
        ),
        dg.AssetCheckSpec(
            "price_update_succeeded",
            asset=LLM_PRICES,
            description=(
                "When COSTWATCH_PRICES_URL is set, genai-prices' online update worked (warns when "
                "the last update's or the bundled prices were used instead)."
            ),
        ),
    ],
)
def load_prices(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, config_files: ConfigFilesResource
):
    custom_version, custom_rows = load_custom_prices(Path(config_files.custom_prices))
    card_version, rates = load_rate_card(Path(config_files.rate_card))
    with duckdb.get_connection() as con:
        genai = genai_prices_for_refresh(con, config_files.prices_url)
        # versioned by content too: an edit without a new `version` still tells rows apart
        version = f"{genai.version};custom={custom_version}+{genai_rows_digest(custom_rows)[:8]}"
        card = f"{card_version}+{rates_digest(rates)}"
        n_prices = write_llm_prices(con, genai.rows + custom_rows, version)
        n_rates = write_rate_card(con, rates, card)
    if genai.update_error:
        context.log.warning(
            f"{genai.update_error}; using the {genai.origin} prices. Check the URL and the "
            "network, or unset COSTWATCH_PRICES_URL to use the bundled data."
        )
    context.log.info(
        f"{n_prices} price rows ({len(custom_rows)} custom, genai-prices {genai.origin}), "
        f"{n_rates} rates"
    )
    yield dg.MaterializeResult(
        asset_key=LLM_PRICES,
        metadata={
            "rows": n_prices,
            "custom_rows": len(custom_rows),
            "pricing_version": version,
            "genai_prices_data": genai.origin,
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
    yield from day_results(
        context,
        dg.AssetCheckResult(
            check_name="every_genai_price_flattened",
            passed=not genai.problems,
            metadata={"problems": dg.MetadataValue.json(genai.problems)},
        ),
    )
    yield from day_results(
        context,
        dg.AssetCheckResult(
            check_name="price_update_succeeded",
            passed=genai.update_error is None,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "genai_prices_data": genai.origin,
                "error": genai.update_error or "",
                "update_configured": bool(config_files.prices_url),
            },
        ),
    )
