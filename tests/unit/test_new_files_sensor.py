"""The new-event-files sensor: a run for today on new files, a run per late day, each once."""

import datetime as dt
import os

import dagster as dg

from assets.events.app_events import APP_EVENTS
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
