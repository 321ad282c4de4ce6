"""Daily refresh of yesterday's partition (UTC), at COSTWATCH_SCHEDULE_TIME (default 00:30 UTC)."""

from __future__ import annotations

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
daily_refresh_schedule = dg.build_schedule_from_partitioned_job(
    daily_refresh_job,
    hour_of_day=_hour,
    minute_of_hour=_minute,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
