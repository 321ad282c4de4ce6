"""The provider client's retries against a real local server: Retry-After is honoured to the
second, attempts are bounded, and the total time is capped (issue 23: ignoring Retry-After and
removing the 120 s cap went through the suite)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from sources.http_client import ProviderAPIError, RetryPolicy, get_json


class Server(ThreadingHTTPServer):
    """Answers with the scripted (status, headers) in order, then 200 with an empty page."""

    def __init__(self, script: list[tuple[int, dict]]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def do_GET(self):
                outer.requests += 1
                status, headers = outer.script.pop(0) if outer.script else (200, {})
                body = json.dumps({"data": [], "has_more": False}).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)
        self.script, self.requests = list(script), 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve():
    servers = []

    def start(script):
        servers.append(Server(script))
        return servers[-1]

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_retry_after_is_waited_exactly(serve):
    server = serve([(429, {"Retry-After": "7"}), (503, {"Retry-After": "2"})])
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=6, max_total_seconds=120, base_delay=0.5)
    with httpx.Client(base_url=server.url) as client:
        body = get_json(client, "OpenAI", "/x", {}, policy, sleep=sleeps.append)
    assert body["data"] == [] and sleeps == [7.0, 2.0] and server.requests == 3


def test_without_retry_after_the_backoff_doubles(serve):
    server = serve([(503, {}), (503, {}), (503, {})])
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=6, max_total_seconds=120, base_delay=0.5)
    with httpx.Client(base_url=server.url) as client:
        get_json(client, "OpenAI", "/x", {}, policy, sleep=sleeps.append)
    assert sleeps == [0.5, 1.0, 2.0]


def test_attempts_are_bounded(serve):
    server = serve([(503, {})] * 20)
    policy = RetryPolicy(max_attempts=4, max_total_seconds=120, base_delay=0.0)
    with (
        httpx.Client(base_url=server.url) as client,
        pytest.raises(ProviderAPIError, match="after 4 attempts"),
    ):
        get_json(client, "OpenAI", "/x", {}, policy, sleep=lambda s: None)
    assert server.requests == 4


def test_the_total_time_is_capped(serve):
    """Retry-After 0.4 s against a 1 s cap: three attempts (0, 0.4, 0.8 s), not ten."""
    server = serve([(429, {"Retry-After": "0.4"})] * 20)
    policy = RetryPolicy(max_attempts=10, max_total_seconds=1.0, base_delay=0.0)
    started = time.monotonic()
    with httpx.Client(base_url=server.url) as client, pytest.raises(ProviderAPIError):
        get_json(client, "OpenAI", "/x", {}, policy)
    assert server.requests == 3
    assert time.monotonic() - started < 2.0
