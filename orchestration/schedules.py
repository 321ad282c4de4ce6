"""Daily refresh of yesterday's partition (UTC), shortly after midnight."""

from __future__ import annotations

import dagster as dg

from assets.partitions import daily_partitions

daily_refresh_job = dg.define_asset_job(
    "daily_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Every asset and check for the selected day(s): ingest, dbt build, publish.",
)

daily_refresh_schedule = dg.build_schedule_from_partitioned_job(
    daily_refresh_job,
    hour_of_day=0,
    minute_of_hour=30,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
