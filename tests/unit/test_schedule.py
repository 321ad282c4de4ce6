"""The daily schedule refreshes yesterday's whole day, not today's first minutes (the day
partitions reach to today)."""

import datetime as dt

import dagster as dg

from orchestration.schedules import daily_refresh_schedule


def _requested(at: dt.datetime) -> list[str]:
    context = dg.build_schedule_context(scheduled_execution_time=at)
    request = daily_refresh_schedule(context)  # the schedule's own function, invoked directly
    return [request.partition_key]


def test_a_tick_runs_the_utc_day_before_it():
    assert _requested(dt.datetime(2026, 11, 30, 0, 30, tzinfo=dt.UTC)) == ["2026-11-29"]
    assert _requested(dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.UTC)) == ["2026-11-30"]
    # a tick given in another zone is still dated by UTC
    east = dt.timezone(dt.timedelta(hours=5))
    assert _requested(dt.datetime(2026, 11, 30, 3, 0, tzinfo=east)) == ["2026-11-28"]


def test_it_ticks_once_a_day_at_the_configured_utc_time():
    assert daily_refresh_schedule.cron_schedule == "30 0 * * *"
    assert daily_refresh_schedule.execution_timezone == "UTC"
    assert daily_refresh_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
