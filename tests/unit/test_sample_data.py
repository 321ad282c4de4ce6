"""The sample-data generator: deterministic, and covering every hard case the contract names."""

import datetime as dt
import hashlib
from pathlib import Path

from sources.demo.invalid_lines import INVALID_KINDS
from sources.demo.sample_data import generate
from sources.events.contract import INTERACTION_TYPES


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_write_the_same_bytes(tmp_path: Path):
    a = generate(tmp_path / "a", days=3, users=8)
    b = generate(tmp_path / "b", days=3, users=8)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a.lines == b.lines
    generate(tmp_path / "c", days=3, users=8, seed=8)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_ledger_covers_the_hard_cases(tmp_path: Path):
    ledger = generate(tmp_path, days=3, users=10)
    files = {r.source_file for r in ledger.lines}
    assert any(f.endswith(".jsonl.gz") for f in files)
    assert any(f.startswith("redelivered/") for f in files)
    assert set(ledger.quarantine_reasons()) == {*INVALID_KINDS, "truncated_gzip"}
    assert sum(1 for r in ledger.lines if r.kind == "blank") >= 3
    assert sum(1 for r in ledger.lines if r.kind == "duplicate") >= 5
    sessions = ledger.sessions().values()
    crossing = [s for s in sessions if s["ended_at"].date() != s["started_at"].date()]
    assert {s["is_derived"] for s in crossing} == {True, False}
    assert any(s["user_id"] == "anonymous" for s in sessions)
    assert {e["type"] for e in ledger.events.values()} >= set(INTERACTION_TYPES)
    text = "".join(p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*.jsonl"))
    assert "+05:30" in text and "-05:00" in text


def test_every_line_of_every_file_is_in_the_ledger(tmp_path: Path):
    ledger = generate(tmp_path, days=2, users=5)
    per_file: dict[str, int] = {}
    for r in ledger.lines:
        per_file[r.source_file] = max(per_file.get(r.source_file, 0), r.line_no)
    assert per_file.keys() == {
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.rglob("*")
        if p.name.endswith((".jsonl", ".jsonl.gz"))
    }
    assert len(ledger.lines) == sum(per_file.values())
    assert ledger.day_list == [dt.date(2026, 11, 1), dt.date(2026, 11, 2)]
