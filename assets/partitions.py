"""The one partition definition: UTC days. Today is included (end_offset=1) so intraday refreshes
can keep spend current."""

import datetime as dt

import dagster as dg

from orchestration.settings import start_date

START_DATE = start_date().isoformat()

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=START_DATE, end_offset=1, timezone="UTC", fmt="%Y-%m-%d"
)

# Ranges of days run as one run (one dbt invocation), not one run per day.
single_run = dg.BackfillPolicy.single_run()


def day_range(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """Inclusive UTC day range the run covers (one day, or a single-run backfill range)."""
    keys = context.partition_key_range
    return dt.date.fromisoformat(keys.start), dt.date.fromisoformat(keys.end)
