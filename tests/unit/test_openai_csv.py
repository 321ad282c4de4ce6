# ruff: noqa: E501  (CSV fixtures are kept as exported, one row per line)
"""OpenAI dashboard CSV exports: float-rendered integers, empty buckets, both kinds of file."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

from sources.providers.openai_csv import load_openai_csv_folder

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
