"""Provider reports end to end: fake provider server over HTTP -> raw tables -> marts -> checks."""

import json
import os
from collections import defaultdict

import dagster as dg
import pytest

from sources.demo.provider_sample import DISCREPANCY, SNAPSHOT_NAMES, provider_reports
from tests.conftest import Home

pytestmark = [pytest.mark.xdist_group("built"), pytest.mark.slow]


def test_provider_usage_daily_is_what_the_providers_reported(built_home: Home):
    data = provider_reports(built_home.ledger)
    canonical = {v: k for k, v in SNAPSHOT_NAMES.items()}
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for u in data.usage:
        key = (u.day, u.provider, canonical.get(u.model, u.model), u.api_key_id)
        expected[key][0] += u.input_tokens
        expected[key][1] += u.output_tokens
        expected[key][2] += u.requests or 0
    got = built_home.query(
        "select day, provider, canonical_model, api_key_id, sum(input_tokens)::BIGINT, "
        "sum(output_tokens)::BIGINT, coalesce(sum(requests), 0)::BIGINT "
        "from marts.provider_usage_daily group by all"
    )
    assert {tuple(r[:4]): list(r[4:]) for r in got} == dict(expected)
    billed = built_home.query(
        "select provider, sum(exact_billed_cost_usd) from marts.provider_costs_daily group by 1"
    )
    by_provider = defaultdict(int)
    for c in data.costs:
        by_provider[c.provider] += c.amount_usd
    assert dict(billed) == dict(by_provider)


def test_parity_flags_exactly_the_deliberate_discrepancy(built_home: Home):
    rows = built_home.query(
        "select day, provider, canonical_model, api_key_id, status from marts.parity_daily"
    )
    bad_day = built_home.days[DISCREPANCY["day_index"]]
    assert [r[:4] for r in rows if r[4] == "fail"] == [
        (bad_day, "openai", DISCREPANCY["model"], DISCREPANCY["api_key_id"])
    ]
    assert {r[3] for r in rows if r[4] == "out_of_scope"} == {"key_other_app", None}
    assert {r[4] for r in rows} == {"ok", "fail", "out_of_scope"}


PROVIDER_ASSETS = [dg.AssetKey(["raw", "provider_usage"]), dg.AssetKey(["raw", "provider_costs"])]


def test_rerun_does_not_duplicate_and_failed_pull_commits_nothing(built_home: Home, capfd):
    """A pull that fails commits nothing; the next one replaces the days without doubling them.
    The successful pull runs with a recognisable admin key, which must reach neither the output,
    the Dagster event log, nor the run's config and tags."""
    before = built_home.query("select * from raw.provider_usage order by all")
    # pulled_at changes with every pull
    values_before = built_home.query(
        "select * exclude (pulled_at) from raw.provider_usage order by all"
    )
    costs_before = built_home.query("select count(*), sum(amount_usd) from raw.provider_costs")
    middle = built_home.days[1]
    data = provider_reports(built_home.ledger)
    from orchestration.runs import run_range
    from sources.demo.fake_provider import fake_providers

    with built_home.active(), fake_providers(data) as server:
        os.environ["COSTWATCH_PROVIDER_MAX_ATTEMPTS"] = "2"
        server.inject("/organizations/cost_report", ["503"] * 50)
        server.timeout_delay = 0.0
        failed = run_range(middle, middle, asset_selection=PROVIDER_ASSETS)
    assert [o.success for o in failed] == [False]
    assert built_home.query("select * from raw.provider_usage order by all") == before

    secret = "sk-admin-RECOGNISABLE-0xC0FFEE"
    with built_home.active(), fake_providers(data):
        os.environ["OPENAI_ADMIN_KEY"] = secret
        outcomes = run_range(middle, middle, asset_selection=PROVIDER_ASSETS)
    assert [o.success for o in outcomes] == [True]
    after = built_home.query("select * exclude (pulled_at) from raw.provider_usage order by all")
    assert after == values_before
    assert (
        built_home.query("select count(*), sum(amount_usd) from raw.provider_costs") == costs_before
    )

    captured = capfd.readouterr()
    assert secret not in captured.out + captured.err
    with built_home.active(), dg.DagsterInstance.get() as instance:
        records = instance.all_logs(outcomes[0].run_id)
        run = instance.get_run_by_id(outcomes[0].run_id)
    blob = json.dumps([str(r) for r in records]) + json.dumps(run.run_config) + str(run.tags)
    assert secret not in blob and "pull_provider_reports" in blob
