"""Faults from the provider APIs (fake provider server over real HTTP): bounded retries, errors
that name provider, request and days, never the key. That a failed pull commits nothing is
`tests/integration/test_providers.py::test_rerun_does_not_duplicate_and_failed_pull_commits_nothing`."""

import pytest

from sources.http_client import ProviderAPIError
from sources.providers.reports import anthropic_client, openai_client, pull_anthropic, pull_openai
from tests.unit.test_providers import D1, D2, D3, FAST, KEY


@pytest.mark.parametrize(
    "faults",
    [["429"], ["503", "503"], ["timeout"], ["truncate"], ["reset"], ["429-no-retry-after", "503"]],
)
def test_transient_faults_are_retried(server, faults):
    server.inject("/organization/costs", faults)
    with openai_client(server.openai_url, KEY) as client:
        pull = pull_openai(client, D1, D1, FAST, sleep=lambda s: None)
    assert len(pull.costs) == 2
    assert server.requests.count("/openai/v1/organization/costs") == len(faults) + 1


def test_gives_up_after_the_bound_with_a_clear_error(server):
    server.inject("/usage_report/messages", ["503"] * 10)
    with (
        anthropic_client(server.anthropic_url, KEY) as client,
        pytest.raises(ProviderAPIError) as err,
    ):
        pull_anthropic(client, D1, D2, FAST, sleep=lambda s: None)
    message = str(err.value)
    assert "Anthropic GET /organizations/usage_report/messages" in message
    assert "days 2026-11-01..2026-11-02" in message and "after 4 attempts" in message
    assert KEY not in message
    assert server.requests.count("/anthropic/v1/organizations/usage_report/messages") == 4


@pytest.mark.parametrize(
    ("fault", "words"), [("repeat_cursor", "repeated a page cursor"), ("endless", "more than")]
)
def test_bad_cursors_stop(server, fault, words):
    server.max_buckets_per_page = 1
    server.inject("/organization/usage/completions", [fault] * 2000)
    with (
        openai_client(server.openai_url, KEY) as client,
        pytest.raises(ProviderAPIError, match=words),
    ):
        pull_openai(client, D1, D3, FAST)
