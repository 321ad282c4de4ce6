"""The analysts' read-only copy of the marts, replaced atomically after each successful build."""

from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.dbt import MART_KEYS
from assets.events.app_events import APP_EVENTS, QUARANTINE
from assets.partitions import daily_partitions, day_range, single_run
from assets.publishing.archive import ARCHIVE_KEYS, HISTORY_KEYS
from assets.resources import PublishedWarehouseResource
from sources.publishing.publish import publish_copy, publish_method
from sources.publishing.report import write_report
from sources.settings import current


@dg.asset(
    key=["published", "analytics_warehouse"],
    deps=[APP_EVENTS, QUARANTINE, *MART_KEYS, *ARCHIVE_KEYS.values(), *HISTORY_KEYS.values()],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool="warehouse",
    group_name="published",
    kinds={"duckdb"},
    description=(
        "Read-only DuckDB file for analysts ($COSTWATCH_PUBLISHED): every marts and archive "
        "table, the history views and raw.event_quarantine, from one build, swapped in "
        "atomically. Open this file, never the warehouse the runs write."
    ),
)
def analytics_warehouse(
    context: dg.AssetExecutionContext,
    duckdb: DuckDBResource,
    published: PublishedWarehouseResource,
) -> dg.MaterializeResult:
    start, end = day_range(context)
    s = current()
    with duckdb.get_connection() as con:
        counts = publish_copy(
            con,
            published.path,
            {"run_id": context.run.run_id, "start_day": str(start), "end_day": str(end)},
            pii_key=s.pii_key.get_secret_value() if s.pii_key else None,
            metadata_keys=s.published_metadata_keys,
        )
    method = publish_method(Path(published.path))
    context.log.info(f"published {published.path} by {method}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(published.path),
            "method": method,
            "row_counts": dg.MetadataValue.json(counts),
            "user_ids_pseudonymised": s.pii_key is not None,
        }
    )


@dg.asset(
    key=["published", "html_report"],
    deps=[analytics_warehouse],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    group_name="published",
    kinds={"html", "plotly"},
    description=(
        "Self-contained HTML report (plotly) of the published warehouse: daily cost by category, "
        "cost by model, top users and sessions, parity, latency and cache hit rate. "
        "`costwatch report` writes the same file."
    ),
)
def html_report(published: PublishedWarehouseResource) -> dg.MaterializeResult:
    with duckdb.connect(published.path, read_only=True) as con:
        path = write_report(con, Path(published.report_path))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "open": dg.MetadataValue.url(path.resolve().as_uri()),
            "size_kb": dg.MetadataValue.int(path.stat().st_size // 1024),
        }
    )
