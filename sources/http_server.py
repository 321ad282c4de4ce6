"""The one way Costwatch answers HTTP (`costwatch guard`, `costwatch collect`): an ASGI app on
uvicorn (httptools' C parser, one event loop), bound to 127.0.0.1 unless told otherwise.

What every server here shares: bodies are capped as they arrive (a declared Content-Length over
the cap is refused before reading), an optional bearer token is compared in constant time, and a
host other than loopback is refused without a token.
"""

from __future__ import annotations

import hmac
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


IDLE_TIMEOUT_S = 30  # a kept-alive connection idle this long is closed
LOOPBACK = ("127.0.0.1", "::1", "localhost")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


class TooLarge(Exception):
    pass


def header(scope: dict[str, Any], name: bytes) -> bytes:
    """A request header's value (the last one when repeated), b'' when absent."""
    return dict(scope["headers"]).get(name, b"")


async def read_body(scope: dict[str, Any], receive: Receive, cap: int) -> bytes:
    """The request body, TooLarge as soon as it is known to exceed `cap` bytes."""
    declared = header(scope, b"content-length")
    if declared.isdigit() and int(declared) > cap:
        raise TooLarge
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def send_bytes(
    send: Send,
    status: int,
    data: bytes,
    content_type: bytes = b"application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode())]
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def send_json(send: Send, status: int, payload: Any, **kw: Any) -> None:
    await send_bytes(send, status, json.dumps(payload).encode(), **kw)


def authorized(scope: dict[str, Any], token: str | None) -> bool:
    """No token configured, or `Authorization: Bearer <token>` (constant-time comparison)."""
    if token is None:
        return True
    return hmac.compare_digest(header(scope, b"authorization"), f"Bearer {token}".encode())


def refuse_open_bind(host: str, token: str | None, variable: str, what: str) -> None:
    """PermissionError when `host` is not loopback and no token protects the server."""
    if host not in LOOPBACK and token is None:
        raise PermissionError(
            f"{what} would answer anyone who reaches {host}: set {variable} or bind 127.0.0.1"
        )


class Server:
    """A bound socket and the uvicorn server that will answer on it."""

    def __init__(self, app: App, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.socket.listen(1024)
        self.server_port = self.socket.getsockname()[1]
        config = uvicorn.Config(
            app,
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

    def run(self) -> None:
        """Answer until SIGINT/SIGTERM (a command's main thread), then release the socket."""
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()

    def shutdown(self) -> None:
        self.uvicorn.should_exit = True

    def server_close(self) -> None:
        self.socket.close()
