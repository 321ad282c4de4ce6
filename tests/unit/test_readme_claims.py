"""README claims that had no test (issue 23), the small ones: each test names its claim."""

import datetime as dt
import json
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from sources.events.log import ingest_range
from sources.providers.reports import openai_client, pull_openai
from tests.unit.test_providers import FAST, KEY, server  # noqa: F401 (fixture)


def test_long_ranges_are_pulled_in_31_day_windows_with_a_line_per_window(server):  # noqa: F811
    """README: "Long ranges are pulled in 31-day windows with a log line per window"."""
    lines: list[str] = []
    start = dt.date(2026, 10, 1)
    with openai_client(server.openai_url, KEY) as client:
        pull = pull_openai(
            client, start, start + dt.timedelta(days=39), FAST, progress=lines.append
        )
    assert lines == [
        "openai: window 1/2, days 2026-10-01..2026-10-31",
        "openai: window 2/2, days 2026-11-01..2026-11-09",
    ]
    assert pull.requests_made == 2 * 3  # two windows x (completions, embeddings, costs)
    assert sum(path.endswith("/organization/costs") for path in server.requests) == 2


@pytest.mark.parametrize(
    ("value", "severity"),
    [(None, dg.AssetCheckSeverity.WARN), ("warn", dg.AssetCheckSeverity.WARN),
     ("fail", dg.AssetCheckSeverity.ERROR), ("FAIL", dg.AssetCheckSeverity.ERROR)],
)  # fmt: skip
def test_unpriced_models_severity_follows_the_variable(monkeypatch, value, severity):
    """README: `COSTWATCH_UNPRICED_MODELS` `warn` or `fail` sets the check's severity."""
    from assets.pricing.costs import unpriced_severity

    if value is None:
        monkeypatch.delenv("COSTWATCH_UNPRICED_MODELS", raising=False)
    else:
        monkeypatch.setenv("COSTWATCH_UNPRICED_MODELS", value)
    assert unpriced_severity() == severity


def test_an_unknown_unpriced_models_value_is_an_error_naming_it(monkeypatch):
    from assets.pricing.costs import unpriced_severity

    monkeypatch.setenv("COSTWATCH_UNPRICED_MODELS", "sometimes")
    with pytest.raises(ValueError, match="COSTWATCH_UNPRICED_MODELS must be warn or fail"):
        unpriced_severity()


@pytest.mark.parametrize(
    ("amount", "stored"),
    [
        ("0.123456789", Decimal("0.123456789")),
        ("123456.000000001", Decimal("123456.000000001")),
        ("0.0000000001", Decimal("0E-9")),  # a tenth decimal is beyond the type: rounded away
        ("999999.999999999", Decimal("999999.999999999")),  # the maximum, to the last digit
    ],
)
def test_amount_usd_keeps_9_decimals(tmp_path, amount, stored):
    """README: "`amount_usd` keeps 9 decimals" (tested up to 4 before)."""
    line = (
        '{"event_id": "c", "type": "cost_event", "ts": "2026-11-21T09:00:00Z", '
        f'"amount_usd": {amount}}}'
    )
    (tmp_path / "a.jsonl").write_text(line + "\n")
    con = duckdb.connect()
    ingest_range(con, tmp_path, dt.date(2026, 11, 21), dt.date(2026, 11, 21))
    assert con.execute("select amount_usd from raw.app_events").fetchall() == [(stored,)]
    assert json.loads(line)  # the fixture line is JSON


def test_every_readme_picture_is_retaken_by_the_suite():
    """README: the front page's pictures are "taken by `make test` from a real run": each image
    the README shows exists and is written by an integration test, so none can go stale unseen."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (repo / "README.md").read_text())
    assert shown, "the README front page shows the report and the asset graph"
    tests = "\n".join(p.read_text() for p in (repo / "tests" / "integration").glob("test_*.py"))
    for image in shown:
        assert (repo / image).is_file(), image
        assert image.startswith("docs/images/"), image
        assert f'FRONT_PAGE_IMAGES / "{Path(image).name}"' in tests, image
