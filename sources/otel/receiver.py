"""`costwatch collect`: an OTLP/HTTP trace receiver (POST /v1/traces) that writes every batch it
accepts to the events folder before it answers.

- Protobuf (`application/x-protobuf`) and JSON (`application/json`) bodies, gzip or not, decoded
  with the official `opentelemetry-proto` messages. 400 for an undecodable body, 413 beyond
  MAX_BODY_BYTES (compressed or not), 503 with Retry-After when the batch cannot be written (the
  exporter retries), 200 only once the batch is on disk: written, flushed and fsync'ed (and the
  folder too when the file is new). A batch answered 200 survives a kill -9 of the receiver.
- Each batch becomes one line of OTLP JSON (the Collector file exporter's format) appended to
  `otlp/<UTC day>/collect-<host>-<pid>.otlp.jsonl` under the events folder: one file per process,
  so two receivers never interleave their lines. A line cut by a crash is ended before the next one
  is written; the ingestion quarantines it (that batch was never acknowledged, so the exporter
  sent it again).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from sources.http_server import (
    App,
    Receive,
    Send,
    Server,
    TooLarge,
    authorized,
    header,
    read_body,
    refuse_open_bind,
    send_bytes,
    send_json,
)
from sources.otel import wire

MAX_BODY_BYTES = 8 * 2**20  # per request, before and after gzip; exporters send far less
RETRY_AFTER_S = 5


class Spool:
    """Appends batches durably to this process's file of the UTC day."""

    def __init__(self, events_dir: Path) -> None:
        self.root = Path(events_dir) / "otlp"
        self.name = f"collect-{socket.gethostname()}-{os.getpid()}.otlp.jsonl"
        self._day: dt.date | None = None
        self._fd: int | None = None

    def _open(self, day: dt.date) -> int:
        if self._fd is not None and self._day == day:
            return self._fd
        self.close()
        folder = self.root / day.isoformat()
        new_folder = not folder.is_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.name
        new_file = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        if not new_file and os.fstat(fd).st_size and _last_byte(path) != b"\n":
            os.write(fd, b"\n")  # end a line a crash cut, so it cannot swallow the next one
        if new_file or new_folder:
            _fsync_dir(folder)
            if new_folder:
                _fsync_dir(folder.parent)
        self._fd, self._day = fd, day
        return fd

    def append(self, request: ExportTraceServiceRequest, now: dt.datetime | None = None) -> None:
        day = (now or dt.datetime.now(dt.UTC)).date()
        data = (wire.to_json_line(request) + "\n").encode()
        fd = self._open(day)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _answer(send: Send, status: int, protobuf: bool, message: str = "") -> None:
    """An OTLP answer in the request's encoding: the (empty) ExportTraceServiceResponse on
    success, a google.rpc.Status-like body with the message on failure."""
    extra = [(b"retry-after", str(RETRY_AFTER_S).encode())] if status == 503 else []
    if status == 200 and protobuf:
        body = ExportTraceServiceResponse().SerializeToString()
        await send_bytes(send, 200, body, wire.PROTOBUF.encode())
    elif status == 200:
        await send_json(send, 200, {})
    else:
        await send_json(send, status, {"code": status, "message": message}, extra=extra)


def app_for(spool: Spool, token: str | None) -> App:
    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        content_type = header(scope, b"content-type").decode("latin-1")
        protobuf = content_type.lower().startswith(wire.PROTOBUF)
        if (scope["method"], scope["path"]) != ("POST", "/v1/traces"):
            await _answer(send, 404, protobuf, "only POST /v1/traces is served")
            return
        try:
            body = await read_body(scope, receive, MAX_BODY_BYTES)
            if header(scope, b"content-encoding").lower() == b"gzip":
                body = wire.gunzip(body, MAX_BODY_BYTES)
        except (TooLarge, wire.TooLarge):
            await _answer(send, 413, protobuf, f"body over {MAX_BODY_BYTES} bytes")
            return
        except wire.Undecodable as exc:
            await _answer(send, 400, protobuf, str(exc))
            return
        if not authorized(scope, token):
            await _answer(send, 401, protobuf, "a bearer token is required (Authorization)")
            return
        try:
            request = wire.decode(body, content_type)
        except wire.Undecodable as exc:
            await _answer(send, 400, protobuf, str(exc))
            return
        if wire.span_count(request):
            try:
                spool.append(request)
            except OSError as exc:
                spool.close()
                print(f"costwatch collect: cannot write: {exc}", file=sys.stderr, flush=True)
                await _answer(send, 503, protobuf, "the batch could not be written; retry")
                return
        await _answer(send, 200, protobuf)

    return app


def serve(events_dir: Path, host: str, port: int, token: str | None) -> Server:
    """A receiver bound and ready (call serve_forever); refuses a non-loopback host without a
    token."""
    refuse_open_bind(host, token, "COSTWATCH_COLLECT_TOKEN", "the collector")
    return Server(app_for(Spool(events_dir), token), host, port)
