"""`costwatch export` and `costwatch report` on the published copy of a built warehouse."""

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main
from tests.conftest import Home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"  # kept after the run (gitignored)
# The README front page shows these: `make screenshots` retakes them (this test with
# COSTWATCH_FRONT_PAGE_IMAGES=1); a plain test run writes them to tests/artifacts, so that it never
# leaves the checkout changed.
FRONT_PAGE_IMAGES = (
    REPO / "docs" / "images" if os.environ.get("COSTWATCH_FRONT_PAGE_IMAGES") == "1" else ARTIFACTS
)


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_each_format_with_a_day_range(built_home: Home, tmp_path, fmt):
    day = built_home.days[1]
    out = tmp_path / f"interactions.{fmt}"
    with built_home.active():
        code = main(
            [
                "export",
                "marts.interactions",
                "--format",
                fmt,
                "--start",
                str(day),
                "--end",
                str(day),
                "--out",
                str(out),
            ]
        )
    assert code == 0
    expected = sum(
        1
        for e in built_home.ledger.events.values()
        if e["day"] == day
        and e["type"] in ("llm_call", "db_op", "api_call", "compute", "cost_event")
    )
    if fmt == "csv":
        with out.open() as fh:
            rows = list(csv.DictReader(fh))
        assert {r["interaction_day"] for r in rows} == {str(day)}
    elif fmt == "json":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    else:
        with duckdb.connect() as con:  # not DuckDB's module-wide connection, which stays open
            rows = con.read_parquet(str(out)).fetchall()
    assert len(rows) == expected
    # row for row what the typed query of the published copy gives (issue 23)
    typed = built_home.query(
        "select * from marts.interactions where interaction_day = ? order by event_id",
        [day],
        published=True,
    )
    if fmt == "parquet":
        with duckdb.connect() as con:
            sql = f"select * from read_parquet('{out}') order by event_id"  # noqa: S608
            exported = con.sql(sql).fetchall()
        assert exported == typed  # every column, with its type
    else:
        ids = [r["event_id"] for r in rows]
        assert sorted(ids) == [r[0] for r in typed]
        tokens = [int(r["input_tokens"]) for r in rows if r["input_tokens"] not in ("", None)]
        columns = built_home.query(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = 'interactions' order by ordinal_position",
            published=True,
        )
        at = [c for (c,) in columns].index("input_tokens")
        assert sum(tokens) == sum(r[at] or 0 for r in typed)


def test_export_names_what_exists_when_the_relation_does_not(built_home: Home, capsys):
    with built_home.active():
        assert main(["export", "marts.nope"]) == 2
    err = capsys.readouterr().err
    assert "no relation 'marts.nope'" in err and "marts.sessions" in err


def test_report_is_written_with_the_warehouse_totals(built_home: Home, tmp_path):
    out = tmp_path / "report.html"
    with built_home.active():
        assert main(["report", "--out", str(out)]) == 0
    text = out.read_text()
    total = built_home.query("select sum(total_cost_usd) from marts.daily_totals", published=True)
    assert f"Total cost: <b>${total[0][0]:,.2f}</b>" in text  # USD with cents (issue 22)
    for title in (
        "Daily cost by category",
        "AI token cost by model",
        "Top users by cost",
        "Top sessions by cost",
        "Parity: app vs provider",
        "LLM latency percentiles",
        "What prompt caching saved",
        "Budgets, current period",
        "spend against limit",
    ):
        assert title in text
    assert re.search(r"<script>.{100000,}</script>", text[:6_000_000], re.S)  # plotly.js inline
    # The Dagster asset wrote the same report during the run.
    assert (built_home.root / "reports" / "costwatch-report.html").exists()


def test_focus_export_adds_up_to_the_daily_totals(built_home: Home, tmp_path):
    out = tmp_path / "focus.csv"
    with built_home.active():
        assert main(["export", "focus_costs", "--out", str(out)]) == 0
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert {
        "BilledCost",
        "EffectiveCost",
        "ChargePeriodStart",
        "ServiceName",
        "SkuId",
        "x_user_id",
        "x_session_id",
    } <= set(rows[0])
    from decimal import Decimal

    total = sum(Decimal(r["BilledCost"]) for r in rows)
    expected = built_home.query("select sum(total_cost_usd) from marts.daily_totals")[0][0]
    assert abs(total - expected) <= Decimal("1e-9") * len(rows)


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]


def _chromium(*args: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium")
    assert browser, "headless Chromium is needed: `make test` installs the Debian package"
    return subprocess.run(
        [browser, *CHROMIUM_FLAGS, "--virtual-time-budget=15000", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def test_report_renders_in_headless_chromium(built_home: Home):
    """Every plotly figure of the report is drawn by the browser; a screenshot is kept."""
    report = built_home.root / "reports" / "costwatch-report.html"
    figures = report.read_text().count('class="plotly-graph-div"')
    assert figures > 0
    dom = _chromium("--dump-dom", report.as_uri()).stdout
    assert dom.count('class="plot-container plotly"') == figures  # drawn by plotly.js
    assert dom.count('class="main-svg"') >= figures
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-full.png"
    shot.unlink(missing_ok=True)
    _chromium(f"--screenshot={shot}", "--window-size=1400,5200", report.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    front = FRONT_PAGE_IMAGES / "report.png"  # the first screen, for the README
    _chromium(f"--screenshot={front}", "--window-size=1400,1100", report.as_uri())
    assert front.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and front.stat().st_size > 50_000


def test_the_analyst_notebook_runs_on_the_published_copy(built_home: Home, monkeypatch):
    """Every code cell of notebooks/analyst.ipynb, in order, against the published copy (the
    notebook is plain JSON; its cells are run as a kernel would, without Jupyter)."""
    notebook = json.loads((REPO / "notebooks" / "analyst.ipynb").read_text())
    monkeypatch.setenv("COSTWATCH_PUBLISHED", str(built_home.published))
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "analyst.ipynb", "exec"), namespace)
    expected = built_home.query(
        "select count(*) from marts.cost_breakdown where user_id = ? "
        "and interaction_day between ? - 6 and ?",
        [namespace["user"], namespace["last_day"], namespace["last_day"]],
        published=True,
    )[0][0]
    assert int(namespace["by_category"]["interactions"].sum()) == expected > 0
    assert len(namespace["per_answer"]) > 0 and len(namespace["daily"]) == len(built_home.days)
    namespace["con"].close()


def test_costwatch_sql_prints_the_published_rows_and_writes_nothing(built_home: Home):
    """`costwatch sql` (issue 22: the suggested `duckdb` program is not installed): a table or
    CSV of the published copy, equal to the typed query; writes and file access refused."""
    import io
    import sys

    costwatch = str(Path(sys.executable).parent / "costwatch")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))}
    env["COSTWATCH_HOME"] = str(built_home.root)
    sql = "select day, total_cost_usd, session_count from marts.daily_totals order by day"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [costwatch, "sql", *args], env=env, capture_output=True, text=True, timeout=60
        )

    table = run(sql)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["day", "total_cost_usd", "session_count"]
    assert lines[-1] == f"({len(built_home.days)} rows)"
    as_csv = list(csv.reader(io.StringIO(run("--csv", sql).stdout)))
    expected = built_home.query(sql, published=True)
    assert as_csv[1:] == [[str(d), str(c), str(n)] for d, c, n in expected]
    for forbidden in ("delete from marts.daily_totals", "copy marts.daily_totals to 'x.csv'"):
        refused = run(forbidden)
        assert refused.returncode == 2 and refused.stderr.startswith("costwatch sql: ")
    assert built_home.query(sql, published=True) == expected
