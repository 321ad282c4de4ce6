"""The one Definitions object of the code location (workspace.yaml points here)."""

from __future__ import annotations

from sources import settings

settings.apply()

import warnings  # noqa: E402

import dagster as dg  # noqa: E402

# single-run backfill policies and pools are beta, partitioned checks preview: noise for operators.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)  # partitioned asset checks

from assets import dbt  # noqa: E402
from assets.budgets import budgets  # noqa: E402
from assets.events import app_events  # noqa: E402
from assets.pricing import costs, prices  # noqa: E402
from assets.providers import parity, reports  # noqa: E402
from assets.publishing import archive, publish  # noqa: E402
from assets.resources import build_resources  # noqa: E402
from orchestration.schedules import daily_refresh_job, daily_refresh_schedule  # noqa: E402
from orchestration.sensors import budget_alerts_sensor, new_event_files_sensor  # noqa: E402

defs = dg.Definitions(
    assets=[
        app_events.ingest_app_events,
        prices.load_prices,
        budgets.load_budgets_asset,
        reports.pull_provider_reports,
        dbt.dbt_models,
        archive.archive_old_days,
        publish.analytics_warehouse,
        publish.html_report,
    ],
    asset_checks=[
        costs.llm_calls_priced,
        parity.token_parity,
        parity.requests_parity,
        parity.missing_windows,
        parity.cost_parity,
    ],
    jobs=[daily_refresh_job],
    schedules=[daily_refresh_schedule],
    sensors=[budget_alerts_sensor, new_event_files_sensor],
    resources=build_resources(),
    # One process per run: a dbt-duckdb build gains nothing from parallel steps (one writer),
    # and the multiprocess executor triples the run time (shared/stack-facts.md).
    executor=dg.in_process_executor,
)


def get_daily_refresh_job() -> dg.JobDefinition:
    """Module-level accessor so the CLI can launch a reconstructable job on the instance."""
    return defs.resolve_job_def("daily_refresh")
