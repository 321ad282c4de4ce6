"""Real clients, real instrumentations, real exporter, one real `costwatch run`.

Four applications (tests/otel/app.py), each instrumented by one library, call the fake provider
with the real openai / anthropic SDKs and export their spans over OTLP/HTTP (protobuf) to
`costwatch collect`. Every batch is then sent again (OTLP JSON this time, as an exporter retrying
after a lost answer would), a Collector-format file lands in the events folder, and one
`costwatch run` builds the day. The marts hold exactly the calls made, with the tokens each
instrumentation reports, the session and user of the parent span, priced like any event.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from sources.demo.fake_inference import Reply
from sources.demo.fake_provider import FakeProviderData, FakeProviderServer
from sources.demo.reference_prices import calc_price_per_call
from tests.conftest import Home
from tests.otel.conftest import JS, T0, collector, otlp_json, request, span, spool_lines

pytestmark = [pytest.mark.xdist_group("otel"), pytest.mark.slow]

APP = Path(__file__).with_name("app.py")
TOLERANCE = Decimal("1e-9")


# instrumentation -> (provider, requested model, replies); each reply is one call
CALLS: dict[str, tuple[str, str, list[Reply]]] = {
    "openai-v2": (
        "openai",
        "gpt-4o-mini",
        [Reply("gpt-4o-mini-2024-07-18", 1200, 300, cached_input_tokens=1024),
         Reply("gpt-4o-mini-2024-07-18", 50, 7)],
    ),
    "openinference": (
        "openai",
        "gpt-4o",
        [Reply("gpt-4o-2024-08-06", 2000, 150, cached_input_tokens=1536),
         Reply("gpt-4o-2024-08-06", 10, 1)],
    ),
    "traceloop-openai": (
        "openai",
        "o4-mini",
        [Reply("o4-mini-2025-04-16", 500, 800, reasoning_tokens=640),
         Reply("o4-mini-2025-04-16", 64, 32, cached_input_tokens=0, reasoning_tokens=16)],
    ),
    "traceloop-anthropic": (
        "anthropic",
        "claude-sonnet-4-5",
        [Reply("claude-sonnet-4-5-20250929", 3000, 200, cached_input_tokens=2000,
               cache_write_tokens=500),
         Reply("claude-sonnet-4-5-20250929", 40, 4)],
    ),
}  # fmt: skip


def expected_tokens(instrumentation: str, reply: Reply) -> dict[str, int | None]:
    """What each instrumentation reports of a reply (their documented gaps included)."""
    tokens = {
        "input_tokens": reply.input_tokens,
        "cached_input_tokens": reply.cached_input_tokens,
        "cache_write_tokens": reply.cache_write_tokens if reply.cache_write_tokens else None,
        "output_tokens": reply.output_tokens,
        "reasoning_tokens": reply.reasoning_tokens,
    }
    if instrumentation == "openai-v2":
        # 2.4b0 records neither cached nor reasoning tokens (docs/opentelemetry.md)
        tokens["cached_input_tokens"] = tokens["reasoning_tokens"] = None
    if instrumentation == "traceloop-anthropic":
        tokens["reasoning_tokens"] = None
        tokens["cache_write_tokens"] = reply.cache_write_tokens
    return tokens


@pytest.fixture(scope="session")  # once per worker, even if other tests run between
def otel_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    root = tmp_path_factory.mktemp("otel-home")
    events = root / "events"
    events.mkdir()
    home = Home(root, ledger=None)  # type: ignore[arg-type]
    # the collector's spans a minute ago, on the day the run starts from (conftest's T0 is a fixed
    # instant: spans at it fell outside the run's days on any day but 2026-11-30)
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    first_day = started.date()
    with FakeProviderServer(FakeProviderData()) as fake, collector(events) as c:
        for name, (provider, model, replies) in CALLS.items():
            fake.replies = list(replies)
            calls = [{"provider": provider, "model": model} for _ in replies]
            subprocess.run(
                [sys.executable, str(APP), name, str(c.base_url), fake.base_url,
                 f"session-{name}", f"user-{name}", json.dumps(calls)],
                check=True,
                timeout=120,
            )  # fmt: skip
            assert fake.replies == []  # every scripted call was made
        for line in spool_lines(events):  # an exporter retrying every batch, as OTLP JSON
            assert c.post("/v1/traces", content=line, headers=JS).status_code == 200
    collector_file = events / "collector" / "traces.otlp.jsonl"
    collector_file.parent.mkdir()
    spans = collector_spans(int((started.timestamp() * 1e9 - T0) // 1_000_000))
    collector_file.write_text(otlp_json(request(*spans)) + "\n")
    outcomes = home.run(first_day, dt.datetime.now(dt.UTC).date(), providers=FakeProviderData())
    assert [o.success for o in outcomes] == [True]
    return home


def collector_spans(start_ms: int) -> list:
    """An agent turn and its chat call, `start_ms` after conftest's T0."""
    return [
        span(0x51, trace=0xC0, name="agent turn", session__id="session-collector",
             user__id="user-collector", start_ms=start_ms),
        span(0x52, parent=0x51, trace=0xC0, name="chat", gen_ai__operation__name="chat",
             gen_ai__provider__name="openai", gen_ai__request__model="gpt-4o-mini",
             gen_ai__usage__input_tokens=321, gen_ai__usage__output_tokens=12,
             start_ms=start_ms),
    ]  # fmt: skip


def test_the_marts_hold_exactly_the_calls_made_with_their_tokens_session_and_user(otel_home):
    rows = otel_home.query(
        "select session_id, user_id, provider, model, input_tokens, cached_input_tokens, "
        "cache_write_tokens, output_tokens, reasoning_tokens, event_source "
        "from marts.interactions where interaction_type = 'llm_call' "
        "order by session_id, input_tokens desc"
    )
    expected = []
    for name, (provider, _, replies) in sorted(CALLS.items()):
        for reply in sorted(replies, key=lambda r: -r.input_tokens):
            t = expected_tokens(name, reply)
            expected.append(
                (f"session-{name}", f"user-{name}", provider, reply.model, t["input_tokens"],
                 t["cached_input_tokens"], t["cache_write_tokens"], t["output_tokens"],
                 t["reasoning_tokens"], "opentelemetry")
            )  # fmt: skip
    expected.append(
        ("session-collector", "user-collector", "openai", "gpt-4o-mini", 321, None, None, 12,
         None, "opentelemetry")
    )  # fmt: skip
    assert sorted(rows, key=lambda r: (r[0], -r[4])) == sorted(
        expected, key=lambda r: (r[0], -r[4])
    )


def test_every_call_is_priced_like_any_event(otel_home):
    rows = otel_home.query(
        "select i.provider, i.model, i.occurred_at, i.input_tokens, i.cached_input_tokens, "
        "i.cache_write_tokens, i.output_tokens, i.reasoning_tokens, i.service_tier, "
        "c.ai_tokens_cost_usd "
        "from marts.interactions i join marts.cost_breakdown c using (event_id) "
        "where i.interaction_type = 'llm_call'"
    )
    assert len(rows) == 9
    for provider, model, at, inp, cached, write, out, reasoning, tier, cost in rows:
        reference = calc_price_per_call(
            {"provider": provider, "model": model, "occurred_at": at, "input_tokens": inp,
             "cached_input_tokens": cached, "cache_write_tokens": write, "output_tokens": out,
             "reasoning_tokens": reasoning, "service_tier": tier}
        )  # fmt: skip
        assert reference is not None and reference > 0, model
        assert abs(cost - reference) <= TOLERANCE, (model, cost, reference)


def test_resent_batches_are_duplicates_and_every_file_accounts_for_its_lines(otel_home):
    stats = otel_home.query(
        "select sum(lines_read), sum(accepted), sum(duplicates), sum(quarantined), sum(blank) "
        "from raw.event_file_stats"
    )
    # 8 calls made through the receiver, seen as 10 LLM spans (the Anthropic SDK's own span of
    # each call shares its event id with OpenLLMetry's: 2 duplicates), every batch sent twice
    # (10 more duplicates), plus the Collector file's one call
    assert stats == [(21, 9, 12, 0, 0)]
    per_file = otel_home.query(
        "select count(*) from raw.event_file_stats "
        "where lines_read <> accepted + duplicates + quarantined + blank"
    )
    assert per_file == [(0,)]
    assert otel_home.query("select count(*) from raw.event_quarantine") == [(0,)]
