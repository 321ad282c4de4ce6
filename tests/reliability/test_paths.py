"""Paths from configuration stay inside their folders; odd file names are read like any other; an
unwritable warehouse folder or a full disk stops a run before it starts, saying what to fix."""

import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import pytest

from sources.events.log import ingest_range

DAY = dt.date(2026, 11, 21)


def _line(event_id: str) -> str:
    return json.dumps(
        {"event_id": event_id, "type": "compute", "ts": "2026-11-21T09:00:00Z", "duration_ms": 5}
    )


def test_a_link_out_of_the_events_folder_is_quarantined_not_followed(tmp_path):
    events = tmp_path / "events"
    events.mkdir()
    secret = tmp_path / "elsewhere" / "private.jsonl"
    secret.parent.mkdir()
    secret.write_text(_line("from-outside") + "\n")
    noon = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC).timestamp()
    os.utime(secret, (noon, noon))  # an undatable problem line counts on its file's mtime day
    (events / "app.jsonl").write_text(_line("inside") + "\n")
    (events / "leak.jsonl").symlink_to(secret)
    (events / "linked-dir").symlink_to(secret.parent, target_is_directory=True)
    con = duckdb.connect()
    result = ingest_range(con, events, DAY, DAY)
    assert con.execute("select event_id from raw.app_events").fetchall() == [("inside",)]
    assert con.execute(
        "select source_file, line_no, reason, raw_line from raw.event_quarantine"
    ).fetchall() == [
        ("leak.jsonl", 1, "unreadable_file", "a link that leads outside the events folder")
    ]
    totals = result.totals()
    assert (totals["lines_read"], totals["accepted"], totals["quarantined"]) == (2, 1, 1)


def test_a_link_inside_the_events_folder_is_read(tmp_path):
    events = tmp_path / "events"
    (events / "2026").mkdir(parents=True)
    (events / "2026" / "a.jsonl").write_text(_line("a") + "\n")
    (events / "alias.jsonl").symlink_to(events / "2026" / "a.jsonl")
    con = duckdb.connect()
    ingest_range(con, events, DAY, DAY)
    # the same event twice: the second copy is a duplicate, not a second row
    assert con.execute("select event_id from raw.app_events").fetchall() == [("a",)]


def test_file_names_with_glob_characters_are_read_exactly(tmp_path):
    """DuckDB's read_text() takes a glob: `a[1].jsonl` would match `a1.jsonl` and miss itself."""
    events = tmp_path / "events"
    events.mkdir()
    names = {"a[1].jsonl": "bracket", "a1.jsonl": "plain", "b*.jsonl": "star", "c?{x}.jsonl": "q"}
    for name, event_id in names.items():
        (events / name).write_text(_line(event_id) + "\n")
    con = duckdb.connect()
    ingest_range(con, events, DAY, DAY)
    rows = con.execute("select source_file, event_id from raw.app_events order by 1").fetchall()
    assert rows == sorted(names.items())


def test_preflight_says_what_to_fix(tmp_path: Path, monkeypatch, capsys):
    from orchestration.cli import main
    from sources.warehouse import WarehouseUnavailable, preflight

    preflight(tmp_path / "w.duckdb", min_free_mb=1)  # a writable folder passes
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(
        WarehouseUnavailable, match=r"cannot write the warehouse folder .*COSTWATCH_WAREHOUSE"
    ):
        preflight(blocker / "w.duckdb")
    with pytest.raises(WarehouseUnavailable, match=r"MB free .*COSTWATCH_MIN_FREE_MB"):
        preflight(tmp_path / "w.duckdb", min_free_mb=10**12)
    from sources import settings

    env = {"COSTWATCH_HOME": str(tmp_path), "COSTWATCH_WAREHOUSE": str(blocker / "w.duckdb")}
    with settings.temporary_env(env):  # the CLI exports what it resolves: restored after
        assert main(["run", "--start", "2026-11-01", "--end", "2026-11-01"]) == 2
    assert "cannot write the warehouse folder" in capsys.readouterr().err


@pytest.mark.parametrize(("free_bytes", "passes"), [(512 * 2**20, True), (512 * 2**20 - 1, False)])
def test_preflight_free_space_edge(tmp_path: Path, monkeypatch, free_bytes: int, passes: bool):
    """At least COSTWATCH_MIN_FREE_MB whole MiB free passes; a byte less does not."""
    import shutil

    from sources import warehouse

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(warehouse.shutil, "disk_usage", lambda _p: usage._replace(free=free_bytes))
    target = tmp_path / "new" / "deeper" / "w.duckdb"
    if passes:
        warehouse.preflight(target, min_free_mb=512)
        assert target.parent.is_dir() and list(target.parent.iterdir()) == []  # probe removed
        return
    with pytest.raises(warehouse.WarehouseUnavailable) as err:
        warehouse.preflight(target, min_free_mb=512)
    assert str(err.value) == (
        f"only 511 MB free on the disk of {target.parent} (at least 512 MB needed); free some "
        "space, or move COSTWATCH_HOME, or lower COSTWATCH_MIN_FREE_MB"
    )
