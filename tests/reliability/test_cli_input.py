"""Careless input to the command line and the configuration files (issue 14, item 8): every
mistake exits 2 with one line saying what to fix, before any run starts."""

import datetime as dt
import os
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main
from sources.budgets.config import load_budgets
from sources.publishing.export import export_relation
from sources.yaml_lines import ConfigFileError

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def home(tmp_path: Path):
    """A home of its own; the whole environment is restored afterwards (the CLI exports the
    settings it resolves, which must not leak into later tests)."""
    from sources import settings

    cleared = {k: None for k in os.environ if k.startswith(("COSTWATCH_", "DAGSTER_"))}
    env = {**cleared, "COSTWATCH_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster")}
    with settings.temporary_env(env):
        yield tmp_path


def _fails_fast(argv: list[str], capsys, expected: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        # any attempt to start a run is a failure of this test
        mp.setattr("orchestration.cli.run_range", _no_run)
        code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert expected in err, err


def _no_run(*args, **kwargs):
    raise AssertionError("a run was started")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["run", "--start", "2026-11-01", "--end", "2026-11-01", "--chunk-days", "0"],
            "--chunk-days",
        ),
        (
            ["run", "--start", "2026-11-01", "--end", "2026-11-01", "--chunk-days", "-3"],
            "--chunk-days",
        ),
        (["run", "--start", "9999-12-31", "--end", "9999-12-31"], "after today"),
        (["run", "--start", "2026-11-01", "--end", "9999-12-31"], "after today"),
        (["run", "--start", "2024-06-01", "--end", "2024-06-02"], "COSTWATCH_START_DATE"),
        (["run", "--start", "2026-11-02", "--end", "2026-11-01"], "before --start"),
        (["run", "--start", "2026-02-30", "--end", "2026-03-01"], "is not a date"),
        (
            ["export", "interactions", "--start", "2026-11-05", "--end", "2026-11-01"],
            "before --start",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(home, capsys, argv, expected):
    if "is not a date" in expected or "--chunk-days" in expected:
        with pytest.raises(SystemExit) as exit_:  # argparse's own error for a bad type
            main(argv)
        assert exit_.value.code == 2
        assert expected in capsys.readouterr().err
    else:
        _fails_fast(argv, capsys, expected)


def test_a_start_date_setting_that_is_not_a_date_exits_2(home, capsys, monkeypatch):
    monkeypatch.setenv("COSTWATCH_START_DATE", "yesterday")
    _fails_fast(
        ["run", "--start", "2026-11-01", "--end", "2026-11-01"], capsys, "COSTWATCH_START_DATE"
    )


@pytest.mark.parametrize(
    "variable",
    ["COSTWATCH_MAX_FILE_MB", "COSTWATCH_MAX_LINE_BYTES", "COSTWATCH_CLOCK_SKEW_MINUTES"],
)
def test_reader_limits_that_are_not_numbers_exit_2(home, capsys, monkeypatch, variable):
    monkeypatch.setenv(variable, "lots")
    _fails_fast(["run", "--start", "2026-11-01", "--end", "2026-11-01"], capsys, variable)


BUDGET = """version: "1"
budgets:
  - id: ok
    scope: organisation
    period: month
    limit_usd: "60"
  - id: bad
    scope: user
    period: month
{limit}
"""


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ('    limit_usd: "1e12"', "limit_usd must be at most 999,999,999"),
        ("    limit_usd: 1000000000", "limit_usd must be at most 999,999,999"),
        ('    limit_usd: "0.0000000001"', "more than 9 decimal places"),
        (f"    limit_tokens: {2**70}", "limit_tokens must be a whole number from 1 to"),
        ("    limit_tokens: 0", "limit_tokens must be a whole number from 1 to"),
    ],
)
def test_budget_limits_beyond_the_warehouse_types_name_the_line(
    home, capsys, monkeypatch, limit, expected
):
    path = home / "budgets.yaml"
    path.write_text(BUDGET.format(limit=limit))
    with pytest.raises(ConfigFileError, match=r"budgets\[1\] \(line 7\)"):
        load_budgets(path)
    monkeypatch.setenv("COSTWATCH_BUDGETS", str(path))
    _fails_fast(["run", "--start", "2026-11-01", "--end", "2026-11-01"], capsys, expected)


def test_the_largest_allowed_budget_limits_load(home):
    path = home / "budgets.yaml"
    path.write_text(BUDGET.format(limit=f"    limit_tokens: {2**63 - 1}"))
    assert load_budgets(path)[1][1].limit_tokens == 2**63 - 1
    path.write_text(BUDGET.format(limit='    limit_usd: "999999999.000000001"'))
    with pytest.raises(ConfigFileError):
        load_budgets(path)
    path.write_text(BUDGET.format(limit='    limit_usd: "999999999"'))
    assert str(load_budgets(path)[1][1].limit_usd) == "999999999"


def test_export_of_budget_periods_by_day_range_keeps_the_periods_that_overlap(tmp_path):
    published = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(published)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.budget_status as select * from (values "
            "('org-monthly', 'month', date '2026-11-01'), "
            "('daily', 'day', date '2026-11-05'), "
            "('daily', 'day', date '2026-11-06'), "
            "('org-monthly', 'month', date '2026-10-01'), "
            "('per-session', 'session', date '2026-11-05')"
            ") t(budget_id, period, period_start)"
        )
    out = tmp_path / "out.csv"
    rows = export_relation(
        published, "budget_status", "csv", out, dt.date(2026, 11, 5), dt.date(2026, 11, 5)
    )
    assert rows == 3
    assert sorted(out.read_text().splitlines()[1:]) == [
        "daily,day,2026-11-05",
        "org-monthly,month,2026-11-01",
        "per-session,session,2026-11-05",
    ]
