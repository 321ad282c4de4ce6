"""README claims about running without admin keys (issue 23): a provider without a key is skipped
with one log line and its parity rows are out of scope; with COSTWATCH_OPENAI_CSV_DIR, OpenAI's
dashboard CSV exports are read instead. One real run of one day."""

import dagster as dg
import pytest

from tests.conftest import make_home

pytestmark = pytest.mark.slow

USAGE_CSV = (
    "start_time,end_time,project_id,num_model_requests,api_key_id,model,batch,service_tier,"
    "input_tokens,output_tokens,input_cached_tokens\n"
    "{start},{end},proj_main,1,key_app_1,gpt-4o-mini-2024-07-18,False,default,1000,100,0\n"
)


def test_no_keys_skips_providers_and_csv_exports_stand_in_for_openai(tmp_path):
    from orchestration.runs import run_range

    home = make_home(tmp_path / "home", days=1, users=4)
    day = home.days[0]
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    start = int(dg.DailyPartitionsDefinition(start_date=str(day)).start.timestamp())
    (csv_dir / "completions_usage_export.csv").write_text(
        USAGE_CSV.format(start=start, end=start + 86400)
    )
    with home.active({"COSTWATCH_OPENAI_CSV_DIR": str(csv_dir)}):
        outcomes = run_range(day, day)
        assert [o.success for o in outcomes] == [True]
        with dg.DagsterInstance.get() as instance:
            logs = instance.all_logs(outcomes[0].run_id)
    messages = [r.user_message for r in logs]
    skipped = [m for m in messages if "ANTHROPIC_ADMIN_KEY is not set; provider skipped" in m]
    assert len(skipped) == 1
    assert any("OPENAI_ADMIN_KEY is not set; read dashboard CSV exports" in m for m in messages)
    # Anthropic: nothing reported, so every Anthropic parity row is out of scope
    statuses = home.query(
        "select provider, status, count(*) from marts.parity_daily group by all order by all"
    )
    assert {s for p, s, _ in statuses if p == "anthropic"} == {"out_of_scope"}
    # OpenAI: the CSV's one row is the provider side
    assert home.query(
        "select provider, endpoint, input_tokens, output_tokens from raw.provider_usage"
    ) == [("openai", "completions", 1000, 100)]
