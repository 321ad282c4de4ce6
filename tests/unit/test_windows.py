"""The rebuilt day windows have one home: each model's YAML (issue 21)."""

import re
from pathlib import Path

from assets.dbt import WINDOWS, dbt_project
from sources.windows import Window, read_windows, widest

MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models"


def test_windows_are_read_from_the_manifest_and_widest_is_per_schema():
    manifest = {
        "nodes": {
            "model.x.a": {"resource_type": "model", "schema": "marts", "name": "a",
                          "config": {"meta": {"window": {"column": "day", "days_before": 2}}}},
            "model.x.b": {"resource_type": "model", "schema": "marts", "name": "b",
                          "config": {"meta": {"window": {"column": "d", "days_after": 1}}}},
            "model.x.c": {"resource_type": "model", "schema": "intermediate", "name": "c",
                          "config": {"meta": {"window": {"column": "p", "days_before": 9,
                                                         "whole_months": True}}}},
            "model.x.d": {"resource_type": "model", "schema": "marts", "name": "d",
                          "config": {"meta": {}}},
            "test.x.e": {"resource_type": "test", "schema": "marts", "name": "e",
                         "config": {"meta": {"window": {"column": "day"}}}},
        }
    }  # fmt: skip
    windows = read_windows(manifest)
    assert windows == {
        "marts.a": Window("marts.a", "day", 2, 0),
        "marts.b": Window("marts.b", "d", 0, 1),
        "intermediate.c": Window("intermediate.c", "p", 9, 0, True),
    }
    assert widest(windows) == (2, 1)
    assert widest(windows, "intermediate") == (9, 0)
    assert widest({}) == (0, 0)


def test_no_model_states_a_window_offset_of_its_own():
    """Offsets live in the YAML declaration only: a model writes its delete and filters with
    delete_window()/in_window(), never window_start(-N)/window_end(N) or a second meta."""
    for path in MODELS.rglob("*.sql"):
        text = path.read_text()
        assert not re.search(r"window_(start|end)\(\s*-?\d", text), path
        assert "delete_days" not in text and "window_column" not in text, path


def test_every_model_that_uses_its_window_declares_one():
    names = {w.relation.split(".")[1] for w in WINDOWS.values()}
    users = {
        p.stem
        for p in MODELS.rglob("*.sql")
        if re.search(r"\b(in_window|delete_window|model_window)\(", p.read_text())
    }
    assert users <= names, users - names
    assert dbt_project.manifest_path.exists()


def test_unit_tests_of_a_windowed_model_render_it_with_its_own_window():
    """A dbt unit test renders its model with a config of its own, so it passes the model's window
    as `overrides.vars.unit_test_window` (a YAML alias of the declaration): the same numbers."""
    import json

    manifest = json.loads(dbt_project.manifest_path.read_text())
    by_name = {w.relation.split(".")[1]: w for w in WINDOWS.values()}
    checked = 0
    for test in manifest["unit_tests"].values():
        window = by_name.get(test["model"])
        if window is None:
            continue
        passed = test["overrides"]["vars"]["unit_test_window"]
        assert passed["column"] == window.column, test["name"]
        assert passed.get("days_before", 0) == window.days_before, test["name"]
        assert passed.get("days_after", 0) == window.days_after, test["name"]
        checked += 1
    assert checked >= 4


def test_every_window_rebuilt_model_deletes_its_window_before_appending_it():
    """The models that declare a window are incremental appends whose pre-hook deletes the
    window's days (window_rebuilt() in macros/window.sql); views only declare it for tests."""
    import json

    manifest = json.loads(dbt_project.manifest_path.read_text())
    rebuilt = 0
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or not node["config"]["meta"].get("window"):
            continue
        config = node["config"]
        if config["materialized"] == "view":
            continue
        assert (config["materialized"], config["incremental_strategy"]) == ("incremental", "append")
        hooks = " ".join(h["sql"] for h in config["pre-hook"])
        # delete_session_days() (marts.sessions) deletes the window and the days of its sessions
        assert "delete_window()" in hooks or "delete_session_days()" in hooks, node["name"]
        rebuilt += 1
    assert rebuilt == len([w for w in WINDOWS.values() if not w.relation.startswith("staging.")])
    macros = (dbt_project.project_dir / "macros" / "window.sql").read_text()
    sessions_hook = macros.split("macro default__delete_session_days")[1].split("endmacro")[0]
    assert "where {{ in_window() }}" in sessions_hook
