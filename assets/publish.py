"""The analysts' read-only copy of the marts, replaced atomically after each successful build."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.app_events import APP_EVENTS, QUARANTINE
from assets.dbt import MART_KEYS
from assets.partitions import daily_partitions, day_range, single_run
from orchestration.resources import PublishedWarehouseResource
from sources.warehouse import publish_copy


@dg.asset(
    key=["published", "analytics_warehouse"],
    deps=[APP_EVENTS, QUARANTINE, *MART_KEYS],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool="warehouse",
    group_name="published",
    kinds={"duckdb"},
    description=(
        "Read-only DuckDB file for analysts ($COSTWATCH_PUBLISHED): every marts table and "
        "raw.event_quarantine, from one build, swapped in atomically. Open this file, never the "
        "warehouse the runs write."
    ),
)
def analytics_warehouse(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    published: PublishedWarehouseResource,
) -> dg.MaterializeResult:
    start, end = day_range(context)
    with duckdb.get_connection() as con:
        counts = publish_copy(
            con,
            published.path,
            {"run_id": context.run.run_id, "start_day": str(start), "end_day": str(end)},
        )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(published.path),
            "row_counts": dg.MetadataValue.json(counts),
        }
    )
