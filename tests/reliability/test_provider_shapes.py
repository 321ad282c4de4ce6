"""Provider reports as they really come (issue 15, items 1-7): both OpenAI audio shapes, the
embeddings groupings of the spec, nulls, other currencies, fractional and negative counts,
repeated buckets, non-UTC bucket times, 200 responses with an error body, cost line items of every
kind, CSV exports of every endpoint, and servers that trickle bytes."""

import datetime as dt
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from sources.http_client import ProviderAPIError, RetryPolicy, get_json
from sources.providers.reports import OPENAI_ENDPOINTS, openai_client, pull_openai
from sources.providers.rows import (
    ProviderDataError,
    parse_anthropic_costs,
    parse_anthropic_usage,
    parse_openai_costs,
    parse_openai_usage,
)

D1 = dt.date(2026, 11, 1)
T1 = int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp())
FAST = RetryPolicy(max_attempts=3, max_total_seconds=10, base_delay=0.0, timeout_seconds=2)


def _page(results: list[dict], start: int = T1, **extra) -> dict:
    return {
        "object": "page",
        "data": [
            {"object": "bucket", "start_time": start, "end_time": start + 86400, "results": results}
        ],
        "has_more": False,
        "next_page": None,
        **extra,
    }


# --- 1. audio tokens in both OpenAI shapes --------------------------------------------------

# December 2024 - mid 2026: input_tokens and output_tokens are TEXT tokens; audio apart.
OLD_SHAPE = {
    "object": "organization.usage.completions.result",
    "input_tokens": 1000,
    "input_cached_tokens": 200,
    "output_tokens": 822,
    "input_audio_tokens": 500,
    "output_audio_tokens": 3103,
    "num_model_requests": 7,
    "model": "gpt-4o-audio-preview",
}
# The current spec: input_tokens is the total (it has input_uncached_tokens), input_audio_tokens
# the uncached audio part of it; output_tokens the total, output_audio_tokens part of it.
NEW_SHAPE = {
    "object": "organization.usage.completions.result",
    "input_tokens": 1500,
    "input_uncached_tokens": 1300,
    "input_cached_tokens": 200,
    "input_audio_tokens": 500,
    "output_tokens": 3925,
    "output_audio_tokens": 3103,
    "num_model_requests": 7,
    "model": "gpt-4o-audio-preview",
}


@pytest.mark.parametrize("shape", [OLD_SHAPE, NEW_SHAPE], ids=["2024-2026 text+audio", "total"])
def test_audio_tokens_counted_once_in_both_shapes(shape):
    (row,) = parse_openai_usage(_page([shape]), "completions")
    assert (row.input_tokens, row.output_tokens) == (1500, 3925)
    assert (row.input_audio_tokens, row.output_audio_tokens) == (500, 3103)
    assert row.cached_input_tokens == 200


def test_a_result_without_audio_fields_has_zero_audio():
    (row,) = parse_openai_usage(
        _page([{"input_tokens": 10, "output_tokens": 5, "num_model_requests": 1}]), "completions"
    )
    assert (row.input_tokens, row.output_tokens, row.input_audio_tokens) == (10, 5, 0)


# --- 2. per-endpoint groupings from the spec ------------------------------------------------

SPEC_GROUPS = {
    # openai-openapi: group_by enum of each usage endpoint
    "/organization/usage/completions": {
        "project_id",
        "user_id",
        "api_key_id",
        "model",
        "batch",
        "service_tier",
    },
    "/organization/usage/embeddings": {"project_id", "user_id", "api_key_id", "model"},
    "/organization/costs": {"project_id", "line_item", "api_key_id", "user_id", "api_source"},
}


def test_each_endpoint_asks_only_for_groupings_its_spec_offers():
    for ep in OPENAI_ENDPOINTS:
        assert set(ep.groups) <= SPEC_GROUPS[ep.path], ep.path
    embeddings = next(ep for ep in OPENAI_ENDPOINTS if ep.path.endswith("embeddings"))
    assert {"service_tier", "batch"}.isdisjoint(embeddings.groups)


class _Server:
    """A local HTTP server answering each path with a handler(query) -> (status, body)."""

    def __init__(self, routes):
        routes_ = routes
        self.seen: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                outer.seen.append((url.path, query))
                handler = routes_.get(url.path)
                status, body = handler(query) if handler else (404, {"error": "no route"})
                if callable(body):
                    body(self)
                    return
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _strict(path):
    """Answers like the API: 400 naming the parameter when a grouping is not offered."""

    def handler(query):
        bad = set(query.get("group_by[]", [])) - SPEC_GROUPS[path]
        if bad:
            return 400, {
                "error": {
                    "message": f"Invalid value for group_by: {sorted(bad)}",
                    "type": "invalid_request_error",
                    "param": "group_by",
                    "code": None,
                }
            }
        return 200, _page([])

    return handler


def test_a_pull_against_a_strict_server_succeeds():
    server = _Server({f"/v1{p}": _strict(p) for p in SPEC_GROUPS})
    try:
        with openai_client(server.url, "sk-admin-test") as client:
            pull = pull_openai(client, D1, D1, FAST)
        assert pull.requests_made == 3
    finally:
        server.close()


def test_a_4xx_names_the_parameter():
    server = _Server({"/v1/x": lambda q: (400, {"error": {"message": "bad", "param": "group_by"}})})
    try:
        with (
            openai_client(server.url, "sk-admin-test") as client,
            pytest.raises(ProviderAPIError, match=r"parameter group_by"),
        ):
            get_json(client, "OpenAI", "/x", {"group_by[]": ["batch"]}, FAST)
    finally:
        server.close()


# --- 3. money and counts from the wire ------------------------------------------------------


def test_a_null_amount_is_kept_apart_and_reported_not_a_crash():
    page = _page(
        [
            {"amount": {"value": None, "currency": "usd"}, "line_item": "gpt-4.1, input"},
            {
                "amount": {"value": Decimal("1.5"), "currency": "usd"},
                "line_item": "gpt-4.1, output",
            },
        ]
    )
    rows = parse_openai_costs(page)
    assert [r.amount_usd for r in rows] == [None, Decimal("1.5")]


def test_non_usd_amounts_are_never_summed_as_usd():
    rows = parse_openai_costs(
        _page([{"amount": {"value": Decimal("2"), "currency": "eur"}, "line_item": "x, input"}])
    )
    assert [(r.currency, r.amount_usd, r.amount) for r in rows] == [("eur", None, Decimal("2"))]
    rows = parse_anthropic_costs(
        {
            "data": [
                {
                    "starting_at": "2026-11-01T00:00:00Z",
                    "results": [{"amount": "250", "currency": "EUR", "cost_type": "tokens"}],
                }
            ]
        }
    )
    assert [(r.currency, r.amount_usd, r.amount) for r in rows] == [("eur", None, Decimal("2.5"))]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.9", "input_tokens"),
        (-5, "input_tokens"),
        (Decimal("2.5"), "input_tokens"),
        ("x", "input_tokens"),
    ],
)
def test_fractional_negative_or_garbled_counts_are_an_error_naming_the_field(value, message):
    with pytest.raises(ProviderDataError, match=message):
        parse_openai_usage(_page([{"input_tokens": value, "output_tokens": 1}]), "completions")


def test_integral_counts_in_any_spelling_are_counts():
    (row,) = parse_openai_usage(
        _page([{"input_tokens": Decimal("1200.0"), "output_tokens": "7", "num_model_requests": 1}]),
        "completions",
    )
    assert (row.input_tokens, row.output_tokens) == (1200, 7)


def test_a_bucket_is_dated_by_its_utc_start():
    page = {
        "data": [
            {
                "starting_at": "2026-10-31T20:00:00-04:00",  # 2026-11-01T00:00Z
                "results": [{"uncached_input_tokens": 5, "output_tokens": 1}],
            }
        ]
    }
    assert [r.day for r in parse_anthropic_usage(page)] == [D1]


def test_a_bucket_repeated_on_a_second_page_is_counted_once():
    result = {"input_tokens": 10, "output_tokens": 5, "num_model_requests": 1, "model": "m"}

    def completions(query):
        if "page" not in query:
            return 200, {**_page([result]), "has_more": True, "next_page": "p2"}
        return 200, _page([result])

    server = _Server(
        {
            "/v1/organization/usage/completions": completions,
            "/v1/organization/usage/embeddings": lambda q: (200, _page([])),
            "/v1/organization/costs": lambda q: (200, _page([])),
        }
    )
    try:
        with openai_client(server.url, "sk-admin-test") as client:
            pull = pull_openai(client, D1, D1, FAST)
        assert [(u.day, u.input_tokens) for u in pull.usage] == [(D1, 10)]
    finally:
        server.close()


# --- 4. a 200 with an error body is an error -------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "internal", "type": "server_error"}},
        {"object": "page", "has_more": False},  # no data
        {"object": "page", "data": None, "has_more": False},
    ],
)
def test_a_200_with_an_error_body_is_retried_then_fails_and_writes_nothing(body):
    calls = []

    def handler(query):
        calls.append(1)
        return 200, body

    server = _Server({"/v1/organization/usage/completions": handler})
    try:
        with openai_client(server.url, "sk-admin-test") as client, pytest.raises(ProviderAPIError):
            pull_openai(client, D1, D1, FAST)
        assert len(calls) == FAST.max_attempts
    finally:
        server.close()


# --- 7. one deadline per request, whatever the server trickles ------------------------------


def test_a_server_that_trickles_bytes_is_cut_at_the_total_deadline():
    def trickle(handler):
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", "100000")
        handler.end_headers()
        try:
            for _ in range(100):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.3)  # each read well inside the per-read timeout
        except OSError:
            pass

    server = _Server({"/v1/slow": lambda q: (200, trickle)})
    policy = RetryPolicy(max_attempts=1, max_total_seconds=5, base_delay=0, timeout_seconds=2)
    try:
        with openai_client(server.url, "sk-admin-test") as client:
            started = time.monotonic()
            with pytest.raises(ProviderAPIError, match="deadline"):
                get_json(client, "OpenAI", "/slow", {}, policy)
            assert time.monotonic() - started < 10  # not the 30 s the trickle lasts
    finally:
        server.close()


# --- 6. dashboard CSV exports of every endpoint -----------------------------------------------

CSV_HEADER = "start_time,end_time,project_id,num_model_requests,api_key_id,model,input_tokens,output_tokens,input_cached_tokens\n"  # noqa: E501
CSV_ROW = f"{T1},{T1 + 86400},proj_a,3,key_1,text-embedding-3-small,900,0,0\n"


def test_a_csv_exports_endpoint_comes_from_its_file_name(tmp_path):
    from sources.providers.openai_csv import load_openai_csv_folder

    (tmp_path / "embeddings_usage_2026-11-01_2026-11-30.csv").write_text(CSV_HEADER + CSV_ROW)
    (tmp_path / "completions_usage_2026-11-01.csv").write_text(CSV_HEADER + CSV_ROW)
    (tmp_path / "usage.csv").write_text(CSV_HEADER + CSV_ROW)
    pull = load_openai_csv_folder(tmp_path, D1, D1)
    assert sorted(u.endpoint for u in pull.usage) == ["completions", "completions", "embeddings"]


def test_cost_gaps_are_reported():
    from sources.providers.rows import CostRow, cost_gaps

    rows = [
        CostRow("openai", D1, None, "a, input", Decimal("1"), "usd"),
        CostRow("openai", D1, None, "b, input", None, "usd"),
        CostRow("openai", D1, None, "c, input", None, "eur", amount=Decimal("2")),
        CostRow("openai", D1, None, "d, input", None, "eur", amount=Decimal("0.5")),
    ]
    assert cost_gaps(rows) == {"null_amounts": 1, "not_usd": {"eur": "2.5"}}


def test_a_webhook_receiver_that_trickles_bytes_is_cut_at_the_deadline():
    import http.server

    import httpx

    from sources.budgets.alerts import DELIVERY_ATTEMPTS, deliver

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-length", "1000")
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with httpx.Client() as client:
            ok, outcome = deliver(
                client, f"http://127.0.0.1:{httpd.server_address[1]}/hook", {"text": "x"}, 1.0
            )
        assert not ok and "deadline" in outcome
        assert time.monotonic() - started < DELIVERY_ATTEMPTS * 1.0 + 3  # not 10 s a try
    finally:
        httpd.shutdown()
        httpd.server_close()
