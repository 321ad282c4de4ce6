"""The one HTTP mechanism for provider APIs: paging, retries, timeouts, clear errors.

- Retries 429, 5xx, timeouts, connection errors, truncated/invalid JSON bodies and 200 responses
  that are not a page (an `error` body, no `data` list), with exponential backoff that honours
  `Retry-After`, bounded both in attempts and in total time.
- Each request has one deadline in all (`timeout_seconds`), not only per read: a server that sends
  a byte every few seconds cannot hold a pull for minutes.
- Follows `has_more`/`next_page` with identical parameters and stops with an error on a repeated
  cursor or past a page limit.
- Errors name the provider, the request (path and non-secret parameters) and the day, never a
  header: keys live only in the httpx client's headers.
- JSON numbers are parsed as Decimal, so money is exact from the wire on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    max_total_seconds: float = 120.0
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout_seconds: float = 30.0


class ProviderAPIError(RuntimeError):
    """A provider request failed for good. The message says what to do next."""


def describe(provider: str, path: str, params: Mapping[str, Any], context: str = "") -> str:
    shown = {k: v for k, v in params.items() if k != "page"}
    where = f" for {context}" if context else ""
    return f"{provider} GET {path} {shown}{where}"


class DeadlineExceeded(Exception):
    """The whole response did not arrive within the request's deadline."""


@dataclass(frozen=True)
class Reply:
    status_code: int
    headers: httpx.Headers
    text: str


def request(
    client: httpx.Client, method: str, url: str, deadline_seconds: float, **kwargs: Any
) -> Reply:
    """One request whose whole response must arrive within `deadline_seconds` (httpx's own
    timeout applies per read). Raises DeadlineExceeded, or httpx's errors."""
    deadline = time.monotonic() + deadline_seconds
    with client.stream(method, url, timeout=deadline_seconds, **kwargs) as response:
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if time.monotonic() > deadline:
                raise DeadlineExceeded(
                    f"no complete response within the {deadline_seconds:g} s deadline"
                )
        if time.monotonic() > deadline:
            raise DeadlineExceeded(
                f"no complete response within the {deadline_seconds:g} s deadline"
            )
        encoding = response.charset_encoding or "utf-8"
        return Reply(response.status_code, response.headers, body.decode(encoding, "replace"))


def _rejected_parameter(text: str) -> str:
    """`parameter X: message` from an API error body, when it names one."""
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(error, dict):
        return ""
    param, message = error.get("param"), error.get("message") or ""
    return f"rejected parameter {param}: {message}" if param else str(message)


def page_problem(body: dict[str, Any]) -> str | None:
    """Why a 200 response is not a page of a report (None when it is one)."""
    if "error" in body:
        error = body["error"]
        message = error.get("message") if isinstance(error, dict) else error
        return f"an error body with HTTP 200 ({str(message)[:200]})"
    if not isinstance(body.get("data"), list):
        return "a body without a `data` list"
    return None


def _retry_after(response: Reply) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def get_json(
    client: httpx.Client,
    provider: str,
    path: str,
    params: Mapping[str, Any],
    policy: RetryPolicy,
    context: str = "",
    sleep: Callable[[float], None] = time.sleep,
    validate: Callable[[dict[str, Any]], str | None] | None = None,
) -> dict[str, Any]:
    """GET one JSON object, retrying what is worth retrying within the policy's bounds.
    `validate` says why a body is not what was asked for (then it is retried like a 5xx)."""
    started = time.monotonic()
    last_problem = ""
    for attempt in range(1, policy.max_attempts + 1):
        delay: float | None = None
        try:
            response = request(client, "GET", path, policy.timeout_seconds, params=params)
        except DeadlineExceeded as exc:
            last_problem = str(exc)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            last_problem = f"{type(exc).__name__}"
        else:
            if response.status_code in RETRY_STATUSES:
                last_problem = f"HTTP {response.status_code}"
                delay = _retry_after(response)
            elif response.status_code >= 400:
                hint = (
                    "check the admin key in the environment"
                    if response.status_code in (401, 403)
                    else "check the request parameters"
                )
                said = _rejected_parameter(response.text) or response.text[:300]
                raise ProviderAPIError(
                    f"{describe(provider, path, params, context)} failed with HTTP "
                    f"{response.status_code}: {said} ({hint})"
                )
            else:
                try:
                    body = json.loads(response.text, parse_float=Decimal)
                except json.JSONDecodeError:
                    last_problem = "truncated or invalid JSON body"
                else:
                    if not isinstance(body, dict):
                        last_problem = "JSON body is not an object"
                    elif validate is not None and (problem := validate(body)):
                        last_problem = problem
                    else:
                        return body
        if delay is None:
            delay = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
        elapsed = time.monotonic() - started
        if attempt == policy.max_attempts or elapsed + delay > policy.max_total_seconds:
            break
        sleep(delay)
    raise ProviderAPIError(
        f"{describe(provider, path, params, context)} failed after {attempt} attempts in "
        f"{time.monotonic() - started:.1f}s (last: {last_problem}). The provider may be down or "
        "rate limiting: rerun the partition later; nothing was written for it."
    )


def iter_pages(
    client: httpx.Client,
    provider: str,
    path: str,
    params: Mapping[str, Any],
    policy: RetryPolicy,
    context: str = "",
    max_pages: int = 1000,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Every page of a paged endpoint (`data`, `has_more`, `next_page`)."""
    seen: set[str] = set()
    page: str | None = None
    for _ in range(max_pages):
        query = dict(params)
        if page is not None:
            query["page"] = page
        body = get_json(client, provider, path, query, policy, context, sleep, page_problem)
        yield body
        if not body.get("has_more"):
            return
        page = body.get("next_page")
        if not page:
            raise ProviderAPIError(
                f"{describe(provider, path, params, context)}: has_more without next_page"
            )
        if page in seen:
            raise ProviderAPIError(
                f"{describe(provider, path, params, context)}: the provider repeated a page "
                "cursor; stopping instead of looping. Report it to the provider and rerun later."
            )
        seen.add(page)
    raise ProviderAPIError(
        f"{describe(provider, path, params, context)}: more than {max_pages} pages; stopping"
    )
