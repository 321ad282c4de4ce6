"""`costwatch guard`: the guard over HTTP (JSON), on 127.0.0.1 unless told otherwise.

POST /v1/check, POST /v1/commit, GET /v1/health. Bodies are capped (MAX_BODY_BYTES); with
COSTWATCH_GUARD_TOKEN set every request needs `Authorization: Bearer <token>` (compared in
constant time). Connections are kept alive (HTTP/1.1), one thread each.
"""

from __future__ import annotations

import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sources.guard.service import Guard

MAX_BODY_BYTES = 16 * 1024
IDLE_TIMEOUT_S = 30  # a connection that sends nothing for this long is closed
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class GuardServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # connections waiting to be accepted (the default 5 resets bursts)

    def __init__(self, address: tuple[str, int], guard: Guard, token: str | None) -> None:
        super().__init__(address, Handler)
        self.guard = guard
        self.token = token


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "costwatch-guard"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S
    server: GuardServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would cost more than the decision; errors are answered

    def _send(self, status: int, payload: dict[str, Any], close: bool = False) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        given = self.headers.get("Authorization", "")
        ok = hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
        if not ok:
            self._send(401, {"error": "a bearer token is required (Authorization header)"})
        return ok

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path == "/v1/health":
            self._send(200, self.server.guard.health())
        else:
            self._send(404, {"error": f"no such endpoint: GET {self.path[:100]}"})

    def do_POST(self) -> None:
        routes = {"/v1/check": self.server.guard.check, "/v1/commit": self.server.guard.commit}
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._send(411, {"error": "a Content-Length header is required"}, close=True)
            return
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            # the body is not read: the connection is closed instead
            self._send(413, {"error": f"body over {MAX_BODY_BYTES} bytes"}, close=True)
            return
        body = self.rfile.read(length)
        if not self._authorised():
            return
        handler = routes.get(self.path)
        if handler is None:
            self._send(404, {"error": f"no such endpoint: POST {self.path[:100]}"})
            return
        try:
            parsed = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            self._send(400, {"error": "the body is not JSON", "field": "body"})
            return
        try:
            status, answer = handler(parsed)
        except Exception as exc:
            print(f"costwatch guard: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            status, answer = 500, {"error": f"the guard failed: {type(exc).__name__}"}
        self._send(status, answer)


def serve(guard: Guard, host: str, port: int, token: str | None) -> GuardServer:
    """A server bound and ready (call serve_forever); refuses a non-loopback host without a
    token."""
    if host not in LOOPBACK and token is None:
        raise PermissionError(
            f"the guard would answer anyone who reaches {host}: set COSTWATCH_GUARD_TOKEN "
            "or bind 127.0.0.1"
        )
    return GuardServer((host, port), guard, token)
