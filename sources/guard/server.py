"""`costwatch guard`: the guard over HTTP (JSON), on 127.0.0.1 unless told otherwise.

POST /v1/check, POST /v1/commit, GET /v1/health, on the shared server (sources/http_server.py):
a decision takes well under a millisecond, so it runs inline, one at a time, and no thread
contends for it. Bodies are capped at MAX_BODY_BYTES; with COSTWATCH_GUARD_TOKEN set every request
needs `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from sources.guard.service import Guard
from sources.http_server import (
    App,
    Receive,
    Send,
    Server,
    TooLarge,
    authorized,
    read_body,
    refuse_open_bind,
    send_json,
)

MAX_BODY_BYTES = 16 * 1024


def app_for(guard: Guard, token: str | None) -> App:
    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            raw = await read_body(scope, receive, MAX_BODY_BYTES)
        except TooLarge:
            await send_json(send, 413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return
        if not authorized(scope, token):
            await send_json(
                send, 401, {"error": "a bearer token is required (Authorization header)"}
            )
            return
        method, path = scope["method"], scope["path"]
        if (method, path) == ("GET", "/v1/health"):
            await send_json(send, 200, guard.health())
            return
        routes = {"/v1/check": guard.check, "/v1/commit": guard.commit}
        if method != "POST" or path not in routes:
            await send_json(send, 404, {"error": f"no such endpoint: {method} {path[:100]}"})
            return
        try:
            parsed = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            await send_json(send, 400, {"error": "the body is not JSON", "field": "body"})
            return
        try:
            status, answer = routes[path](parsed)
        except Exception as exc:  # answered, never a dropped connection; the type only
            print(f"costwatch guard: {type(exc).__name__}", file=sys.stderr, flush=True)
            status, answer = 500, {"error": f"the guard failed: {type(exc).__name__}"}
        await send_json(send, status, answer)

    return app


def serve(guard: Guard, host: str, port: int, token: str | None) -> Server:
    """A server bound and ready (call serve_forever); refuses a non-loopback host without a
    token."""
    refuse_open_bind(host, token, "COSTWATCH_GUARD_TOKEN", "the guard")
    return Server(app_for(guard, token), host, port)
