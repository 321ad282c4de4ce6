"""Checks on the cost marts that dbt tests cannot express (lists in their metadata)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.partitions import CheckEvents, daily_partitions, day_results
from sources.settings import current

COST_BREAKDOWN = dg.AssetKey(["marts", "cost_breakdown"])
SEVERITIES = {"warn": dg.AssetCheckSeverity.WARN, "fail": dg.AssetCheckSeverity.ERROR}


def unpriced_severity() -> dg.AssetCheckSeverity:
    """COSTWATCH_UNPRICED_MODELS=warn (default) or fail."""
    return SEVERITIES[current().unpriced_models]


@dg.asset_check(
    asset=COST_BREAKDOWN,
    partitions_def=daily_partitions,
    pool="warehouse",
    description=(
        "Every llm call has a price (genai-prices or custom prices). Unpriced models are listed "
        "with their calls and tokens; their AI cost counts as 0 until a price is added. Warns by "
        "default; COSTWATCH_UNPRICED_MODELS=fail makes it an error."
    ),
)
def llm_calls_priced(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> CheckEvents:
    keys = context.partition_key_range
    with duckdb.get_connection() as con:
        rows = con.execute(
            """
            select c.provider, c.model, count(*) as calls,
                   sum(i.input_tokens)::BIGINT as input_tokens,
                   sum(i.output_tokens)::BIGINT as output_tokens
            from marts.cost_breakdown c
            join marts.interactions i using (event_id)
            where c.is_unpriced_llm_call
              and c.interaction_day between $start::DATE and $end::DATE
            group by all order by calls desc, c.provider, c.model
            """,
            {"start": keys.start, "end": keys.end},
        ).fetchall()
        days = con.execute(
            "select distinct interaction_day::VARCHAR from marts.cost_breakdown "
            "where is_unpriced_llm_call and interaction_day between $start::DATE and $end::DATE",
            {"start": keys.start, "end": keys.end},
        ).fetchall()
    unpriced = [
        {"provider": p, "model": m, "calls": n, "input_tokens": i, "output_tokens": o}
        for p, m, n, i, o in rows
    ]
    result = dg.AssetCheckResult(
        passed=not unpriced,
        severity=unpriced_severity(),
        metadata={
            "unpriced_models": dg.MetadataValue.json(unpriced),
            "unpriced_calls": sum(u["calls"] for u in unpriced),
        },
    )
    yield from day_results(context, result, {d for (d,) in days})
