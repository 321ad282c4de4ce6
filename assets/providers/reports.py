"""Provider usage and cost reports (OpenAI, Anthropic admin APIs) into raw tables.

Each run re-pulls its days and the two days before them (providers restate recent days) and
replaces exactly those days per provider in one transaction: reruns never duplicate, and a pull
that fails commits nothing. A provider without an admin key is skipped with one line; for OpenAI,
COSTWATCH_OPENAI_CSV_DIR (dashboard CSV exports) is read instead when set.
"""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.dbt import PROVIDER_MARTS_DAYS_BEFORE
from assets.partitions import daily_partitions, day_range, single_run
from assets.resources import ProviderApiResource
from sources.pricing.model_catalog import map_new_models
from sources.providers.openai_csv import load_openai_csv_folder
from sources.providers.reports import (
    anthropic_client,
    openai_client,
    pull_anthropic,
    pull_openai,
)
from sources.providers.rows import cost_gaps
from sources.providers.store import ensure_tables, replace_pull
from sources.settings import ENV, current

PROVIDER_USAGE = dg.AssetKey(["raw", "provider_usage"])
PROVIDER_COSTS = dg.AssetKey(["raw", "provider_costs"])

PROVIDERS = {
    # name: (key setting, client factory, pull function, base url attribute)
    "openai": ("openai_admin_key", openai_client, pull_openai, "openai_base_url"),
    "anthropic": ("anthropic_admin_key", anthropic_client, pull_anthropic, "anthropic_base_url"),
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            PROVIDER_USAGE,
            kinds={"duckdb", "python"},
            description="Daily usage buckets from the providers' admin usage APIs.",
        ),
        dg.AssetSpec(
            PROVIDER_COSTS,
            kinds={"duckdb"},
            description="Daily billed cost line items from the providers' cost APIs (USD).",
        ),
    ],
    name="pull_provider_reports",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool="warehouse",
    group_name="providers",
)
def pull_provider_reports(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, providers: ProviderApiResource
):
    start, end = day_range(context)
    # providers revise recent days: re-pull as far back as the provider marts rebuild
    first = start - dt.timedelta(days=PROVIDER_MARTS_DAYS_BEFORE)
    pulled: dict[str, dict] = {}
    pulls = []
    s = current()
    for name, (key_field, make_client, pull, url_attr) in PROVIDERS.items():
        secret = getattr(s, key_field)
        key, key_var = (secret.get_secret_value() if secret else ""), ENV[key_field]
        if name == "openai" and not key and s.openai_csv_dir:
            result = load_openai_csv_folder(s.openai_csv_dir, first, end)
            context.log.info(f"openai: {key_var} is not set; read dashboard CSV exports")
            pulls.append(result)
            pulled[name] = {
                "status": "csv exports",
                "days": f"{first}..{end}",
                "usage_rows": len(result.usage),
                "cost_rows": len(result.costs),
            }
            continue
        if not key:
            context.log.info(f"{name}: {key_var} is not set; provider skipped")
            pulled[name] = {"status": f"skipped ({key_var} not set)"}
            continue
        context.log.info(f"{name}: pulling {first}..{end}")
        with make_client(getattr(providers, url_attr), key) as client:
            result = pull(client, first, end, providers.retry_policy(), progress=context.log.info)
        pulls.append(result)
        pulled[name] = {
            "status": "pulled",
            "days": f"{first}..{end}",
            "usage_rows": len(result.usage),
            "cost_rows": len(result.costs),
            "requests": result.requests_made,
        }
    for result in pulls:
        gaps = cost_gaps(result.costs)
        if gaps:
            # kept in raw.provider_costs (amount, currency), never summed as USD
            pulled[result.provider]["cost_gaps"] = gaps
            context.log.warning(
                f"{result.provider}: cost rows not summed as USD (a gap in cost parity): {gaps}"
            )
    with duckdb.get_connection() as con:
        ensure_tables(con)
        for result in pulls:  # every pull succeeded before anything is written
            replace_pull(con, result)
        unknown = map_new_models(  # the pulled days: other days' models were mapped then
            con,
            "select provider, model from raw.provider_usage "
            "where model is not null and day between $s and $e",
            {"s": first, "e": end},
        )
    metadata = {"providers": dg.MetadataValue.json(pulled), "days": f"{first}..{end}"}
    yield dg.MaterializeResult(
        asset_key=PROVIDER_USAGE,
        metadata={**metadata, "unknown_models": dg.MetadataValue.json([list(u) for u in unknown])},
    )
    yield dg.MaterializeResult(asset_key=PROVIDER_COSTS, metadata=metadata)
