"""The new-event-files sensor: a run for today on new files, a run per late day, each once."""

import datetime as dt
import os

import dagster as dg

from assets.app_events import APP_EVENTS
from orchestration.sensors import new_event_files_sensor


def _tick(instance, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = new_event_files_sensor(context)
    return result, context.cursor


def test_new_files_and_late_days(tmp_path, monkeypatch):
    monkeypatch.setenv("COSTWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("COSTWATCH_EVENTS_DIR", raising=False)
    events = tmp_path / "events"
    events.mkdir()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    with dg.instance_for_test() as instance:
        result, cursor = _tick(instance, None)
        assert isinstance(result, dg.SkipReason)
        (events / "a.jsonl").write_text("{}\n")
        result, cursor = _tick(instance, cursor)
        assert [(r.partition_key, r.run_key.split("-")[0]) for r in result] == [(today, "files")]
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason)
        later = (events / "a.jsonl").stat().st_mtime + 5
        (events / "sub").mkdir()
        (events / "sub" / "b.jsonl.gz").write_bytes(b"")
        os.utime(events / "sub" / "b.jsonl.gz", (later, later))
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=APP_EVENTS,
                partition=today,
                metadata={"late_days": dg.MetadataValue.json(["2026-11-01", "2026-11-03"])},
            )
        )
        result, cursor = _tick(instance, cursor)
        assert sorted(r.partition_key for r in result) == sorted(
            [today, "2026-11-01", "2026-11-03"]
        )
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, dg.SkipReason)


def test_files_read_by_the_last_ingestion_do_not_trigger_a_first_tick(tmp_path, monkeypatch):
    """Without a cursor (a fresh daemon after `costwatch demo`), files older than the start of the
    run that last ingested events raise no run; a file changed after it does."""
    monkeypatch.setenv("COSTWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("COSTWATCH_EVENTS_DIR", raising=False)
    events = tmp_path / "events"
    events.mkdir()
    (events / "old.jsonl").write_text("{}\n")
    old = (events / "old.jsonl").stat().st_mtime - 60
    os.utime(events / "old.jsonl", (old, old))

    @dg.asset(key=APP_EVENTS)
    def ingest() -> None:
        return None

    with dg.instance_for_test() as instance:
        assert dg.materialize([ingest], instance=instance).success
        result, cursor = _tick(instance, None)
        assert isinstance(result, dg.SkipReason)
        (events / "new.jsonl").write_text("{}\n")
        result, cursor = _tick(instance, cursor)
        assert [r.run_key.split("-")[0] for r in result] == ["files"]


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
