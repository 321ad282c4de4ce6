"""The dbt step's note on dbt's parse of the project (assets/dbt.py::parse_note), read from the
logs of real `dbt parse` runs: no saved parse, a saved parse of the same profile, an unreadable
saved parse (dbt parses the whole project then, it does not fail)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from assets.dbt import REUSED_PARSE, parse_note
from sources.dbt_process import DBT_EXECUTABLE
from sources.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow


def _parse(tmp: Path, name: str, saved: bytes | None) -> str:
    """`dbt parse` into a target of its own, starting from `saved` as its saved parse."""
    target, logs = tmp / name / "target", tmp / name / "logs"
    target.mkdir(parents=True)
    if saved is not None:
        (target / "partial_parse.msgpack").write_bytes(saved)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTWATCH_")}
    env["COSTWATCH_WAREHOUSE"] = str(tmp / "warehouse.duckdb")
    subprocess.run(
        [DBT_EXECUTABLE, "parse", "--log-format", "json",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(target), "--log-path", str(logs)],
        env=env, capture_output=True, check=True, timeout=300,
    )  # fmt: skip
    shutil.copyfile(target / "partial_parse.msgpack", tmp / "kept.msgpack")
    return parse_note(logs / "dbt.log")


def test_the_note_says_whether_dbt_reused_its_saved_parse(tmp_path):
    assert _parse(tmp_path, "first", None) == (
        "dbt parsed the whole project (saved manifest not found. Starting full parse.)"
    )
    assert _parse(tmp_path, "same profile", (tmp_path / "kept.msgpack").read_bytes()) == (
        REUSED_PARSE
    )
    assert _parse(tmp_path, "unreadable", b"\x93not a parse" * 100) == (
        "dbt parsed the whole project (its saved parse could not be read)"
    )
