"""Daily refresh of yesterday's partition (UTC), at COSTWATCH_SCHEDULE_TIME (default 00:30 UTC).

The day partitions reach to today (`end_offset=1`, so today can be run by hand or by the new-files
sensor), so the schedule names its partition itself: the UTC day before the scheduled time, the
last whole day. (Dagster's partitioned-schedule builder would pick the latest partition, today.)
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from assets.partitions import daily_partitions
from sources.settings import current

daily_refresh_job = dg.define_asset_job(
    "daily_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Every asset and check for the selected day(s): ingest, dbt build, publish.",
)

_hour, _minute = (int(part) for part in current().schedule_time.split(":"))


def refreshed_day(scheduled: dt.datetime) -> str:
    """The partition a tick at `scheduled` refreshes: the UTC day before it."""
    return (scheduled.astimezone(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


@dg.schedule(
    name="daily_refresh_schedule",
    job=daily_refresh_job,
    cron_schedule=f"{_minute} {_hour} * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Yesterday's partition (UTC), every day at COSTWATCH_SCHEDULE_TIME.",
)
def daily_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = refreshed_day(context.scheduled_execution_time)
    return dg.RunRequest(run_key=day, partition_key=day)
