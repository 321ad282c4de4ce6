"""The freshness sensor never stalls on a late day without a partition (issue 14, item 7)."""

import datetime as dt

import dagster as dg

from assets.events.app_events import APP_EVENTS
from tests.unit.test_new_files_sensor import _tick


def test_late_days_outside_the_partitions_are_reported_not_requested(tmp_path, monkeypatch):
    """Ingestion can report a late day that has no partition (tomorrow UTC, before the start
    date): requesting it made every tick raise and lost today's run request (issue 14)."""
    from assets.partitions import daily_partitions

    monkeypatch.setenv("COSTWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("COSTWATCH_EVENTS_DIR", raising=False)
    (tmp_path / "events").mkdir()
    today = dt.datetime.now(dt.UTC).date()
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    bogus = [tomorrow, "2024-06-01", "0001-01-01"]
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=APP_EVENTS,
                partition=today.isoformat(),
                metadata={"late_days": dg.MetadataValue.json([*bogus, "2026-11-01"])},
            )
        )
        (tmp_path / "events" / "a.jsonl").write_text("{}\n")
        result, cursor = _tick(instance, None)
        keys = sorted(r.partition_key for r in result)
        assert keys == sorted([today.isoformat(), "2026-11-01"])
        assert all(daily_partitions.has_partition_key(k) for k in keys)
        # the cursor moved on: the next tick neither raises nor asks again
        result, _ = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason)
        # with nothing else to run, the tick says which days it left out
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=APP_EVENTS,
                partition=today.isoformat(),
                metadata={"late_days": dg.MetadataValue.json(bogus)},
            )
        )
        result, _ = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason)
        assert all(day in result.skip_message for day in bogus)
