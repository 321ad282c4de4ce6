"""The one partition definition: UTC days. Today is included (end_offset=1) so intraday refreshes
can keep spend current."""

import datetime as dt
from collections.abc import Iterator

import dagster as dg

from sources.settings import start_date

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


def run_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[str]:
    """The day partitions of the run (one, or a single-run backfill's range), also for the
    unpartitioned assets of a partitioned run, whose checks Dagster plans per day as well."""
    tags = context.run.tags
    start = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    if not start:
        return []
    end = tags.get("dagster/asset_partition_range_end") or start
    return daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))


def _check_key(context, result: dg.AssetCheckResult) -> dg.AssetCheckKey:
    if isinstance(context, dg.AssetCheckExecutionContext):
        return context.check_specs[0].key
    specs = [s for s in context.assets_def.check_specs if s.name == result.check_name]
    if result.asset_key is not None:
        specs = [s for s in specs if s.asset_key == dg.AssetKey.from_coercible(result.asset_key)]
    return specs[0].key


CheckEvents = Iterator[dg.AssetCheckEvaluation | dg.AssetCheckResult]


def day_results(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    result: dg.AssetCheckResult,
    failing_days: set[str] | None = None,
) -> CheckEvents:
    """A check result as Dagster's UI can show it after a run of several days.

    Dagster plans a partitioned check once per day of a range, but an AssetCheckResult of a
    multi-day step has no partition, so the planned days stayed "planned" (shown as Skipped) even
    when the check failed. So each day gets its own evaluation (failed on `failing_days` when the
    check knows them, else the result's verdict), then the result itself, the latest overall."""
    days = run_days(context)
    if len(days) > 1:
        key = _check_key(context, result)
        for day in days:
            yield dg.AssetCheckEvaluation(
                asset_key=key.asset_key,
                check_name=key.name,
                passed=result.passed if failing_days is None else day not in failing_days,
                metadata=result.metadata,
                severity=result.severity,
                description=result.description,
                partition=day,
            )
    yield result
