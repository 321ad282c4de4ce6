# ruff: noqa: E501  (CSV fixtures are kept as exported, one row per line)
"""OpenAI dashboard CSV exports: float-rendered integers, empty buckets, both kinds of file."""

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path

import pytest

from sources.providers.openai_csv import load_openai_csv_folder
from sources.providers.rows import CostRow, ProviderDataError, UsageRow

USAGE = """start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,service_tier,input_tokens,output_tokens,input_cached_tokens,input_uncached_tokens
1761955200,1762041600,2025-11-01T00:00:00+00:00,2025-11-02T00:00:00+00:00,proj_a,12.0,,key_1,gpt-4o-mini-2024-07-18,False,default,1200.0,300.0,1024.0,176.0
1762041600,1762128000,2025-11-02T00:00:00+00:00,2025-11-03T00:00:00+00:00,,,,,,,,,,,
1762128000,1762214400,2025-11-03T00:00:00+00:00,2025-11-04T00:00:00+00:00,proj_a,3,,key_2,gpt-4.1-2025-04-14,True,,500,20,0,500
"""
COSTS = """start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,line_item,project_id,organization_id,organization_name
1761955200,1762041600,2025-11-01T00:00:00+00:00,2025-11-02T00:00:00+00:00,0.8958740000000000,usd,"gpt-4o-mini-2024-07-18, input",proj_a,org-x,Personal
1762041600,1762128000,2025-11-02T00:00:00+00:00,2025-11-03T00:00:00+00:00,,,,,,
"""


def test_usage_and_cost_exports(tmp_path: Path):
    (tmp_path / "nov").mkdir()
    (tmp_path / "nov" / "usage.csv").write_text(USAGE)
    (tmp_path / "costs.csv").write_text(COSTS)
    pull = load_openai_csv_folder(tmp_path, dt.date(2025, 11, 1), dt.date(2025, 11, 3))
    assert [
        (u.day, u.api_key_id, u.input_tokens, u.cached_input_tokens, u.requests, u.is_batch)
        for u in pull.usage
    ] == [
        (dt.date(2025, 11, 1), "key_1", 1200, 1024, 12, False),
        (dt.date(2025, 11, 3), "key_2", 500, 0, 3, True),
    ]
    assert [(c.day, c.line_item, c.amount_usd) for c in pull.costs] == [
        (dt.date(2025, 11, 1), "gpt-4o-mini-2024-07-18, input", Decimal("0.8958740000000000"))
    ]
    only_first = load_openai_csv_folder(tmp_path, dt.date(2025, 11, 1), dt.date(2025, 11, 1))
    assert len(only_first.usage) == 1


ISO_ONLY = (
    "\ufeffstart_time_iso,endpoint,model,batch,input_tokens,output_tokens,num_model_requests,"
    "input_audio_tokens,project_id,api_key_id,service_tier\r\n"
    "2025-11-01T23:30:00Z,,gpt-4o,1,10,2,1,,,,\r\n"
    "2025-11-02T00:00:00Z,,,,,,,,,,\r\n"
    "2025-11-02T01:00:00-05:00,embeddings,text-embedding-3-small,1.0,7,0,2,,proj_b,key_9,flex\r\n"
    "2025-11-03T00:00:00+00:00,responses,gpt-4o,,5,1,1,3,,,\r\n"
)


def test_every_field_of_a_usage_export_with_iso_days_a_bom_and_crlf(tmp_path: Path):
    (tmp_path / "export.csv").write_text(ISO_ONLY, encoding="utf-8")
    pull = load_openai_csv_folder(tmp_path, dt.date(2025, 11, 1), dt.date(2025, 11, 3))
    assert (pull.provider, pull.start, pull.end, pull.costs) == (
        "openai", dt.date(2025, 11, 1), dt.date(2025, 11, 3), [],
    )  # fmt: skip
    assert pull.usage == [
        UsageRow(
            provider="openai", day=dt.date(2025, 11, 1), endpoint="completions", model="gpt-4o",
            project_id=None, api_key_id=None, service_tier=None, is_batch=True,
            context_window=None, input_tokens=10, cached_input_tokens=0, cache_write_tokens=0,
            output_tokens=2, requests=1,
        ),
        # 01:00 at -05:00 is 06:00 UTC
        UsageRow(
            provider="openai", day=dt.date(2025, 11, 2), endpoint="embeddings",
            model="text-embedding-3-small", project_id="proj_b", api_key_id="key_9",
            service_tier="flex", is_batch=True, context_window=None, input_tokens=7,
            cached_input_tokens=0, cache_write_tokens=0, output_tokens=0, requests=2,
        ),
        # the older audio shape (no input_uncached_tokens): audio on top of the text tokens
        UsageRow(
            provider="openai", day=dt.date(2025, 11, 3), endpoint="responses", model="gpt-4o",
            project_id=None, api_key_id=None, service_tier=None, is_batch=None,
            context_window=None, input_tokens=8, cached_input_tokens=0, cache_write_tokens=0,
            output_tokens=1, requests=1, input_audio_tokens=3,
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(("cell", "batch"), [("True", True), (" true ", True), ("1", True),
                                             ("1.0", True), ("False", False), ("0", False)])  # fmt: skip
def test_the_batch_column(tmp_path: Path, cell: str, batch: bool):
    (tmp_path / "u.csv").write_text(f"start_time,input_tokens,batch\n1761955200,1,{cell}\n")
    (row,) = load_openai_csv_folder(tmp_path, dt.date(2025, 11, 1), dt.date(2025, 11, 1)).usage
    assert row.is_batch is batch


COSTS_MORE = (
    "start_time,amount_value,amount_currency,line_item,project_id\n"
    "1761955200,,,,\n"  # an empty bucket first: skipped, the rows after it are still read
    '1761955200,2.5,EUR,"web search,\nmultiline",proj_c\n'
    "1761955200,0.000000001,,,\n"
)


def test_every_field_of_a_cost_export(tmp_path: Path):
    (tmp_path / "c.csv").write_text(COSTS_MORE)
    pull = load_openai_csv_folder(tmp_path, dt.date(2025, 11, 1), dt.date(2025, 11, 1))
    day = dt.date(2025, 11, 1)
    assert pull.costs == [
        CostRow(provider="openai", day=day, project_id="proj_c", line_item="web search,\nmultiline",
                amount_usd=None, currency="eur", amount=Decimal("2.5")),
        CostRow(provider="openai", day=day, project_id=None, line_item=None,
                amount_usd=Decimal("1E-9"), currency="usd", amount=Decimal("1E-9")),
    ]  # fmt: skip


def test_a_bad_amount_names_the_file(tmp_path: Path):
    path = tmp_path / "c.csv"
    path.write_text("start_time,amount_value\n1761955200,1.2.3\n")
    with pytest.raises(ProviderDataError) as err:
        load_openai_csv_folder(tmp_path, dt.date(2025, 11, 1), dt.date(2025, 11, 1))
    assert str(err.value) == f"{path}: amount_value must be a decimal amount, got '1.2.3'"


@pytest.mark.parametrize("line", ["1761955200,12,5", "1761955200"])
def test_a_row_with_more_or_fewer_cells_than_the_header_is_an_error(tmp_path: Path, line: str):
    """`12,5` (a decimal comma, unquoted) must not be read as 12."""
    path = tmp_path / "c.csv"
    path.write_text(f"start_time,amount_value\n1761955200,1\n{line}\n")
    with pytest.raises(ProviderDataError) as err:
        load_openai_csv_folder(tmp_path, dt.date(2025, 11, 1), dt.date(2025, 11, 1))
    cells = len(line.split(","))
    assert str(err.value) == (
        f"{path} line 3: {cells} cells where the header has 2; re-export the file from the "
        "dashboard (a value with a comma must be quoted)"
    )


def test_days_from_unix_seconds_are_utc_whatever_the_local_zone(tmp_path: Path, monkeypatch):
    (tmp_path / "u.csv").write_text("start_time,input_tokens\n1761955200,1\n1762041599.0,2\n")
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        pull = load_openai_csv_folder(tmp_path, dt.date(2025, 10, 31), dt.date(2025, 11, 2))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert [(u.day, u.input_tokens) for u in pull.usage] == [
        (dt.date(2025, 11, 1), 1),
        (dt.date(2025, 11, 1), 2),
    ]
