"""dbt's unit tests (`unit_tests:` in the models' YAML: sessionization, parity status, tier
selection, budget share) check the models' SQL on fixed inputs. The daily runs leave them out
(assets/dbt.py, DAILY_EXCLUDE): they run here, once, against a copy of a built warehouse (a unit
test reads the columns of the relations its model selects from)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from assets.dbt import DAILY_EXCLUDE
from sources.dbt_process import DBT_EXECUTABLE
from sources.settings import DBT_PROJECT_DIR
from tests.conftest import Home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]


def test_every_dbt_unit_test_passes(built_home: Home, tmp_path: Path):
    assert DAILY_EXCLUDE == "resource_type:unit_test"
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_home.warehouse, warehouse)
    args = ["test", "--select", "resource_type:unit_test", "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target"),
            "--log-path", str(tmp_path / "logs")]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTWATCH_")}
    proc = subprocess.run(
        [DBT_EXECUTABLE, *args],
        env={**env, "COSTWATCH_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    statuses = {
        r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")
    }
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    assert set(statuses) == set(manifest["unit_tests"])
    assert len(statuses) >= 7
    assert set(statuses.values()) == {"pass"}
