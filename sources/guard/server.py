"""`costwatch guard`: the guard over HTTP (JSON), on 127.0.0.1 unless told otherwise.

POST /v1/check, POST /v1/commit, GET /v1/health. An ASGI app on uvicorn (httptools' C parser,
one event loop): a decision takes well under a millisecond, so it runs inline, one at a time, and
no thread contends for it. Bodies are capped (MAX_BODY_BYTES, counted as they arrive); with
COSTWATCH_GUARD_TOKEN set every request needs `Authorization: Bearer <token>`, compared in
constant time.
"""

from __future__ import annotations

import hmac
import json
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from sources.guard.service import Guard

MAX_BODY_BYTES = 16 * 1024
IDLE_TIMEOUT_S = 30  # a kept-alive connection idle this long is closed
LOOPBACK = ("127.0.0.1", "::1", "localhost")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class TooLarge(Exception):
    pass


async def _body(receive: Receive, declared: int | None) -> bytes:
    if declared is not None and declared > MAX_BODY_BYTES:
        raise TooLarge
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Send, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def app_for(guard: Guard, token: str | None) -> Callable[..., Awaitable[None]]:
    expected = f"Bearer {token}".encode() if token is not None else None

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        try:
            raw = await _body(receive, int(declared) if declared and declared.isdigit() else None)
        except TooLarge:
            await _send(send, 413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return
        if expected is not None and not hmac.compare_digest(
            headers.get(b"authorization", b""), expected
        ):
            await _send(send, 401, {"error": "a bearer token is required (Authorization header)"})
            return
        method, path = scope["method"], scope["path"]
        if (method, path) == ("GET", "/v1/health"):
            await _send(send, 200, guard.health())
            return
        routes = {"/v1/check": guard.check, "/v1/commit": guard.commit}
        if method != "POST" or path not in routes:
            await _send(send, 404, {"error": f"no such endpoint: {method} {path[:100]}"})
            return
        try:
            parsed = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            await _send(send, 400, {"error": "the body is not JSON", "field": "body"})
            return
        try:
            status, answer = routes[path](parsed)
        except Exception as exc:  # answered, never a dropped connection; the type only
            print(f"costwatch guard: {type(exc).__name__}", file=sys.stderr, flush=True)
            status, answer = 500, {"error": f"the guard failed: {type(exc).__name__}"}
        await _send(send, status, answer)

    return app


class GuardServer:
    """A bound socket and the uvicorn server that will answer on it."""

    def __init__(self, guard: Guard, host: str, port: int, token: str | None) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.socket.listen(1024)
        self.server_port = self.socket.getsockname()[1]
        config = uvicorn.Config(
            app_for(guard, token),
            http="httptools",
            loop="uvloop",
            lifespan="off",
            access_log=False,
            log_level="warning",
            server_header=False,
            date_header=False,
            timeout_keep_alive=IDLE_TIMEOUT_S,
        )
        self.uvicorn = uvicorn.Server(config)

    def serve_forever(self) -> None:
        """Answer until shutdown() (or SIGINT/SIGTERM when run in the main thread)."""
        self.uvicorn.run(sockets=[self.socket])

    def shutdown(self) -> None:
        self.uvicorn.should_exit = True

    def server_close(self) -> None:
        self.socket.close()


def serve(guard: Guard, host: str, port: int, token: str | None) -> GuardServer:
    """A server bound and ready (call serve_forever); refuses a non-loopback host without a
    token."""
    if host not in LOOPBACK and token is None:
        raise PermissionError(
            f"the guard would answer anyone who reaches {host}: set COSTWATCH_GUARD_TOKEN "
            "or bind 127.0.0.1"
        )
    return GuardServer(guard, host, port, token)
