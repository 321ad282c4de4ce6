"""README: "custom prices override genai-prices for a provider and model from a date" and "costs
already built never change as a side effect: only a rebuild of their days re-prices them;
`pricing_version` on each row says which prices were used" (issue 23: untested). Real runs on a
copy of the built home; the re-priced cost is computed here from the negotiated price."""

from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import Home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
COSTS = (
    "select event_id, interaction_day, canonical_model, exact_ai_tokens_cost_usd, pricing_version "
    "from marts.cost_breakdown where interaction_type = 'llm_call' order by event_id"
)


def test_a_new_price_reprices_only_the_days_rebuilt_from_its_date(built_copy: Home, tmp_path):
    from orchestration.runs import run_range
    from sources.demo.fake_provider import fake_providers
    from sources.demo.provider_sample import provider_reports

    home = built_copy
    d1, d2 = home.days[-2:]  # (and an earlier day: no price of its changes either)
    before = {r[0]: r for r in home.query(COSTS)}
    model = home.query(
        "select canonical_model from marts.cost_breakdown where provider = 'openai' "
        "and interaction_type = 'llm_call' and interaction_day = ? "
        "group by 1 order by count(*) desc, 1 limit 1",
        [d2],
    )[0][0]
    prices = tmp_path / "negotiated.yaml"
    prices.write_text(
        (REPO / "custom_prices.yaml").read_text()
        + f"  - provider: openai\n    model: {model}\n    effective_from: {d2}\n"
        + '    input_mtok: "1000"\n    output_mtok: "1000"\n'
    )
    env = {"COSTWATCH_CUSTOM_PRICES": str(prices)}

    # the new prices are loaded, nothing is rebuilt: no built cost changes
    selection = [dg.AssetKey(["raw", "llm_prices"]), dg.AssetKey(["raw", "rate_card"])]
    with home.active(env), fake_providers(provider_reports(home.ledger)):
        assert [o.success for o in run_range(d1, d2, asset_selection=selection)] == [True]
    assert {r[0]: r for r in home.query(COSTS)} == before

    # the second day is rebuilt: its calls of that model carry the negotiated price
    assert [o.success for o in home.run(d2, d2, env=env)] == [True]
    after = {r[0]: r for r in home.query(COSTS)}
    tokens = dict(
        (e, (i, o))
        for e, i, o in home.query(
            "select event_id, input_tokens, output_tokens from marts.interactions "
            "where interaction_type = 'llm_call'"
        )
    )
    repriced = [e for e, r in after.items() if r[1] == d2 and r[2] == model]
    assert repriced
    for event_id, row in after.items():
        if event_id in repriced:
            inp, out = tokens[event_id]
            # every input and output token at $1000 per million (no cache or reasoning price)
            assert row[3] == Decimal(inp + out) / 1000, event_id
            assert row[4] != before[event_id][4]  # the row says which prices it used
        elif row[1] == d2:  # rebuilt with the new table: same cost, the new version
            assert row[:4] == before[event_id][:4] and row[4] != before[event_id][4], event_id
        else:
            assert row == before[event_id], event_id  # day 1 was not rebuilt: untouched
