"""A small real HTTP server that speaks the OpenAI and Anthropic admin usage/cost APIs.

Used by the tests and by `costwatch demo` (no keys, no network). It serves normalized rows
(`UsageRow`, `CostRow`) in each provider's documented shape: 1-day buckets (empty ones included),
`limit` buckets per page, opaque cursors, group-by aggregation (fields not grouped are null),
OpenAI money in dollars as numbers and Anthropic money in cents as strings. It checks that an
auth header is present, never what it holds.

Faults are injected per path: `inject(path_part, kinds)` queues kinds consumed one per matching
request: "429" (Retry-After: 0), "429-no-retry-after", "503", "timeout" (answers after the
client's timeout), "truncate" (half a JSON body), "reset" (closes the connection),
"repeat_cursor" (next_page repeats), "endless" (always one more page).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from sources.demo import fake_inference
from sources.providers.rows import CostRow, UsageRow
from sources.settings import temporary_env

OPENAI_PREFIX = "/openai/v1"
ANTHROPIC_VERSIONS = frozenset({"2023-06-01"})  # what the Admin API accepts
ANTHROPIC_PREFIX = "/anthropic/v1"
USAGE_SUMS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "requests",
    "web_search_requests",
)


@dataclass
class FakeProviderData:
    usage: list[UsageRow] = field(default_factory=list)
    costs: list[CostRow] = field(default_factory=list)
    openai_legacy_shape: bool = False  # omit the newer OpenAI usage fields


def _dec(value: Decimal) -> str:
    return f"__DECIMAL__{value}__"


def _dumps(obj: Any) -> bytes:
    """JSON with Decimals written as exact numbers."""
    text = json.dumps(obj, default=lambda o: _dec(o) if isinstance(o, Decimal) else str(o))
    out, i = [], 0
    marker = '"__DECIMAL__'
    while (j := text.find(marker, i)) >= 0:
        k = text.index('__"', j + len(marker))
        out += [text[i:j], text[j + len(marker) : k]]
        i = k + 3
    out.append(text[i:])
    return "".join(out).encode()


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":")[1])


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


class _Handler(BaseHTTPRequestHandler):
    server: FakeProviderServer  # type: ignore[assignment]

    def log_message(self, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        self.server.requests.append(url.path)
        fault = self.server.take_fault(url.path)
        if fault == "reset":
            self.connection.close()
            return
        if fault == "timeout":
            time.sleep(self.server.timeout_delay)
        if fault in ("429", "429-no-retry-after", "503"):
            headers = {"Retry-After": "0"} if fault == "429" else {}
            self._send(int(fault[:3]), b'{"error": "injected"}', headers)
            return
        if url.path.startswith(OPENAI_PREFIX):
            authorized = self.headers.get("Authorization", "").startswith("Bearer ")
        else:
            authorized = bool(self.headers.get("x-api-key"))
        if not authorized:
            self._send(401, b'{"error": "missing admin key"}')
            return
        # as the real APIs: a known anthropic-version; and the reports are read as daily buckets
        anthropic = not url.path.startswith(OPENAI_PREFIX)
        if anthropic and self.headers.get("anthropic-version") not in ANTHROPIC_VERSIONS:
            self._send(400, b'{"error": "anthropic-version: missing or not a known version"}')
            return
        if query.get("bucket_width", ["1d"]) != ["1d"]:
            self._send(400, b'{"error": "this fake serves bucket_width=1d only"}')
            return
        try:
            body = self.server.render(url.path, query, fault)
        except KeyError:
            self._send(404, b'{"error": "unknown path"}')
            return
        payload = _dumps(body)
        if fault == "truncate":
            payload = payload[: len(payload) // 2]
        self._send(200, payload)

    def do_POST(self) -> None:
        """Inference (sources/demo/fake_inference.py): the next scripted reply."""
        path = urlparse(self.path).path
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(path)
        reply = self.server.next_reply()
        body = fake_inference.answer(path, reply, len(self.server.requests)) if reply else None
        if body is None:
            self._send(404, b'{"error": "no inference endpoint or no scripted reply"}')
            return
        self._send(200, _dumps(body))

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)


class FakeProviderServer(ThreadingHTTPServer):
    """Start with `start()`, stop with `stop()`; `openai_url`/`anthropic_url` are API bases."""

    daemon_threads = True

    def __init__(self, data: FakeProviderData, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.data = data
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.requests: list[str] = []
        self.timeout_delay = 2.0
        self.replies: list[fake_inference.Reply] = []  # inference answers, in order
        self.max_buckets_per_page = 31
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return self.base_url + OPENAI_PREFIX

    @property
    def anthropic_url(self) -> str:
        return self.base_url + ANTHROPIC_PREFIX

    def client_env(self) -> dict[str, str]:
        """The variables that point both providers' clients at this server, with demo keys."""
        return {
            "OPENAI_BASE_URL": self.openai_url,
            "ANTHROPIC_BASE_URL": self.anthropic_url,
            "OPENAI_ADMIN_KEY": "demo-openai-admin-key",
            "ANTHROPIC_ADMIN_KEY": "demo-anthropic-admin-key",
        }

    def start(self) -> FakeProviderServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, path_part: str, kinds: Iterable[str]) -> None:
        with self._lock:
            self.faults[path_part].extend(kinds)

    def next_reply(self) -> fake_inference.Reply | None:
        with self._lock:
            return self.replies.pop(0) if self.replies else None

    def take_fault(self, path: str) -> str | None:
        with self._lock:
            for part, queue in self.faults.items():
                if part in path and queue:
                    return queue.pop(0)
        return None

    # ---------------------------------------------------------------- rendering

    def render(self, path: str, query: dict[str, list[str]], fault: str | None) -> dict:
        groups = query.get("group_by[]") or query.get("group_by") or []
        limit = min(int((query.get("limit") or ["7"])[0]), self.max_buckets_per_page)
        offset = _offset((query.get("page") or [None])[0])
        if path.startswith(OPENAI_PREFIX):
            start = dt.datetime.fromtimestamp(int(query["start_time"][0]), tz=dt.UTC).date()
            end = dt.datetime.fromtimestamp(int(query["end_time"][0]), tz=dt.UTC).date()
            sub = path[len(OPENAI_PREFIX) :]
            if sub.startswith("/organization/usage/"):
                endpoint = sub.rsplit("/", 1)[1]
                make = lambda day: self._openai_usage_bucket(day, endpoint, groups)  # noqa: E731
            elif sub == "/organization/costs":
                make = lambda day: self._openai_cost_bucket(day, groups)  # noqa: E731
            else:
                raise KeyError(path)
        else:
            start = dt.date.fromisoformat(query["starting_at"][0][:10])
            end = dt.date.fromisoformat(query["ending_at"][0][:10])
            sub = path[len(ANTHROPIC_PREFIX) :]
            if sub == "/organizations/usage_report/messages":
                make = lambda day: self._anthropic_usage_bucket(day, groups)  # noqa: E731
            elif sub == "/organizations/cost_report":
                make = lambda day: self._anthropic_cost_bucket(day, groups)  # noqa: E731
            else:
                raise KeyError(path)
        days = _days(start, end)
        chunk = days[offset : offset + limit]
        has_more = offset + limit < len(days) or fault == "endless"
        next_offset = offset if fault == "repeat_cursor" else offset + limit
        page: dict[str, Any] = {
            "data": [make(d) for d in chunk],
            "has_more": has_more,
            "next_page": _cursor(next_offset) if has_more else None,
        }
        if path.startswith(OPENAI_PREFIX):
            page["object"] = "page"
        return page

    @staticmethod
    def _group(rows: list[dict], keys: list[str], sums: Iterable[str]) -> list[dict]:
        out: dict[tuple, dict] = {}
        for r in rows:
            k = tuple(r.get(g) for g in keys)
            acc = out.setdefault(k, {**{g: r.get(g) for g in keys}, **{s: 0 for s in sums}})
            for s in sums:
                acc[s] += r.get(s) or 0
        return list(out.values())

    def _usage_rows(self, provider: str, day: dt.date, endpoint: str | None = None) -> list[dict]:
        return [
            asdict(u)
            for u in self.data.usage
            if u.provider == provider
            and u.day == day
            and (endpoint is None or u.endpoint == endpoint)
        ]

    def _openai_usage_bucket(self, day: dt.date, endpoint: str, groups: list[str]) -> dict:
        rows = self._usage_rows("openai", day, endpoint)
        for r in rows:
            r["batch"] = r["is_batch"]
        results = []
        for g in self._group(rows, groups, USAGE_SUMS):
            res = {
                "object": f"organization.usage.{endpoint}.result",
                "input_tokens": g["input_tokens"],
                "output_tokens": g["output_tokens"],
                "input_cached_tokens": g["cached_input_tokens"],
                "input_audio_tokens": 0,
                "output_audio_tokens": 0,
                "num_model_requests": g["requests"],
            }
            if not self.data.openai_legacy_shape:
                res["input_uncached_tokens"] = (
                    g["input_tokens"] - g["cached_input_tokens"] - g["cache_write_tokens"]
                )
                res["input_cache_write_tokens"] = g["cache_write_tokens"]
            for key in ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier"):
                if self.data.openai_legacy_shape and key in ("service_tier",):
                    continue
                res[key] = g.get(key)
            results.append(res)
        return {"object": "bucket", **_openai_bucket_times(day), "results": results}

    def _openai_cost_bucket(self, day: dt.date, groups: list[str]) -> dict:
        rows = [asdict(c) for c in self.data.costs if c.provider == "openai" and c.day == day]
        results = [
            {
                "object": "organization.costs.result",
                "amount": {"value": g["amount_usd"], "currency": "usd"},
                "line_item": g.get("line_item"),
                "project_id": g.get("project_id"),
                "quantity": None,
            }
            for g in self._group(rows, groups, ("amount_usd",))
        ]
        return {"object": "bucket", **_openai_bucket_times(day), "results": results}

    def _anthropic_usage_bucket(self, day: dt.date, groups: list[str]) -> dict:
        rows = self._usage_rows("anthropic", day)
        for r in rows:
            r["workspace_id"] = r["project_id"]
        results = []
        for g in self._group(rows, groups, USAGE_SUMS):
            results.append(
                {
                    "uncached_input_tokens": g["input_tokens"]
                    - g["cached_input_tokens"]
                    - g["cache_write_tokens"],
                    "cache_read_input_tokens": g["cached_input_tokens"],
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": g["cache_write_tokens"],
                        "ephemeral_1h_input_tokens": 0,
                    },
                    "output_tokens": g["output_tokens"],
                    "server_tool_use": {"web_search_requests": g["web_search_requests"]},
                    **{
                        k: g.get(k)
                        for k in (
                            "api_key_id",
                            "workspace_id",
                            "model",
                            "service_tier",
                            "context_window",
                        )
                    },
                }
            )
        return {
            "starting_at": f"{day}T00:00:00Z",
            "ending_at": f"{day + dt.timedelta(days=1)}T00:00:00Z",
            "results": results,
        }

    def _anthropic_cost_bucket(self, day: dt.date, groups: list[str]) -> dict:
        rows = [asdict(c) for c in self.data.costs if c.provider == "anthropic" and c.day == day]
        for r in rows:
            r["workspace_id"], r["description"] = r["project_id"], r["line_item"]
        keys = [*groups, "cost_type", "model", "service_tier"]
        results = [
            {
                "amount": str(g["amount_usd"] * 100),  # cents, as a decimal string
                "currency": "USD",
                "cost_type": g.get("cost_type"),
                "description": g.get("description"),
                "model": g.get("model"),
                "service_tier": g.get("service_tier"),
                "token_type": None,
                "context_window": None,
                "workspace_id": g.get("workspace_id"),
            }
            for g in self._group(rows, keys, ("amount_usd",))
        ]
        return {
            "starting_at": f"{day}T00:00:00Z",
            "ending_at": f"{day + dt.timedelta(days=1)}T00:00:00Z",
            "results": results,
        }


def _openai_bucket_times(day: dt.date) -> dict[str, int]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return {
        "start_time": int(start.timestamp()),
        "end_time": int((start + dt.timedelta(days=1)).timestamp()),
    }


@contextmanager
def fake_providers(data: FakeProviderData) -> Iterator[FakeProviderServer]:
    """Serve `data` as provider reports on 127.0.0.1 and point both providers at them.

    The demo never talks to the real APIs, whatever keys the environment holds; the variables
    are restored afterwards.
    """
    with FakeProviderServer(data) as server, temporary_env(server.client_env()):
        yield server
