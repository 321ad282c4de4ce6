"""The guard: a decision before each call, from published spend plus the guard's reservations.

`Guard.check(body)` and `Guard.commit(body)` return (HTTP status, JSON answer) and are what the
HTTP service (sources/guard/server.py) serves; an application in the same process can call them
directly. Every check runs in one ledger transaction: read spend and reservations, decide, and
reserve across every budget that applies, so two quick calls cannot both slip under a limit,
whichever guard process (sharing the ledger file) answers them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from sources.budgets.config import Budget, load_budgets
from sources.guard import ledger as lg
from sources.guard.decide import Applying, Line, applying, decision
from sources.guard.prices import cost, worst_case
from sources.guard.published import Published, Unverified, file_identity
from sources.guard.requests import BadRequest, Check, parse_check, parse_commit
from sources.publishing.pseudonyms import user_pseudonym
from sources.yaml_lines import ConfigFileError

FAIL_MODES = ("block", "allow")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Guard:
    def __init__(
        self,
        budgets_path: Path,
        published_path: Path,
        ledger_path: Path,
        *,
        pii_key: str | None = None,
        on_unverified: str = "block",
        reservation_minutes: int = 15,
        hold_hours: int = 48,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        if on_unverified not in FAIL_MODES:
            raise ValueError(f"on_unverified must be one of {FAIL_MODES}")
        self.budgets_path = Path(budgets_path)
        self.published_path = Path(published_path)
        self.ledger = lg.Ledger(ledger_path)
        self.pii_key = pii_key
        self.on_unverified = on_unverified
        self.reservation = dt.timedelta(minutes=reservation_minutes)
        self.hold = dt.timedelta(hours=hold_hours)
        self.clock = clock
        self._budgets_identity: tuple[int, int, int] | None = None
        self.budgets: list[Budget] = []
        self.budgets_error = ""
        self._reload_budgets(first=True)
        self.published: Published | None = None
        self.unverified = ""

    @classmethod
    def from_settings(cls, s: Any, **kwargs: Any) -> Guard:
        """A guard configured by sources.settings.Settings."""
        return cls(
            s.budgets,
            s.published,
            s.guard_ledger,
            pii_key=s.pii_key.get_secret_value() if s.pii_key else None,
            on_unverified=s.guard_unverified,
            reservation_minutes=s.guard_reservation_minutes,
            hold_hours=s.guard_hold_hours,
            **kwargs,
        )

    # -- state kept fresh --------------------------------------------------------------------

    def _reload_budgets(self, first: bool = False) -> None:
        identity = file_identity(self.budgets_path)
        if identity == self._budgets_identity and not first:
            return
        try:
            _, self.budgets = load_budgets(self.budgets_path)
            self.budgets_error = ""
        except (ConfigFileError, OSError) as exc:
            if first:
                raise
            # keep deciding with the last good budgets; /v1/health shows the error
            self.budgets_error = str(exc)
        self._budgets_identity = identity

    def _refresh(self, con: sqlite3.Connection, now: dt.datetime) -> None:
        """Inside a ledger transaction: load a newer published copy, release the reservations it
        includes, expire old ones. In the transaction, so that another guard process cannot
        decide with a copy older than the releases it sees."""
        lg.expire(con, now.timestamp())
        identity = file_identity(self.published_path)
        if self.published is None or identity != self.published.identity:
            month = now.date().replace(day=1)
            since = (month - dt.timedelta(days=1)).replace(day=1)
            # the old copy's connection is closed first: DuckDB would hand a second connect to
            # the same path the instance it already has open, the old file's
            if self.published is not None:
                self.published.close()
                self.published = None
            try:
                self.published, self.unverified = Published.load(self.published_path, since), ""
            except Unverified as exc:
                self.unverified = str(exc)
        if self.published is not None:
            if self.pii_key is None and self.published.pii_fingerprint:
                self.unverified = (
                    "the published copy's user ids are pseudonymised: give the guard the same "
                    "COSTWATCH_PII_KEY"
                )
            elif not self.published.pseudonymised_with(self.pii_key):
                self.unverified = (
                    "the published copy's user ids were not pseudonymised with this "
                    "COSTWATCH_PII_KEY: give the guard the key the runs use"
                )
            if lg.get_meta(con, "publish_id") != self.published.publish_id:
                included = self.published.included(lg.open_request_ids(con))
                lg.release(con, included)
                lg.set_meta(con, "publish_id", self.published.publish_id)

    # -- decisions ---------------------------------------------------------------------------

    def check(self, body: object) -> tuple[int, dict[str, Any]]:
        try:
            request = parse_check(body)
            self._reload_budgets()
            now = self.clock()
            request_id = request.request_id or uuid.uuid4().hex
            request = Check(**{**asdict(request), "request_id": request_id})
            applies = applying(self.budgets, request, now)
        except BadRequest as exc:
            return 400, {"error": str(exc), "field": exc.field}
        fingerprint = hashlib.sha256(
            json.dumps(body, sort_keys=True, default=str).encode()
        ).hexdigest()
        with self.ledger.transaction() as con:
            before = lg.previous(con, request_id)
            if before is not None:
                _, seen_fingerprint, answer = before
                if seen_fingerprint != fingerprint:
                    return 409, {
                        "error": f"request_id {request_id!r} was checked with another body",
                        "field": "request_id",
                    }
                return 200, {**json.loads(answer), "repeated": True}
            self._refresh(con, now)
            return 200, self._decide(con, request, applies, now, fingerprint)

    def _scope_key(self, a: Applying) -> str:
        """The scope id as the published copy names it."""
        if a.budget.scope == "user" and self.pii_key is not None:
            return user_pseudonym(self.pii_key, a.scope_id)
        return a.scope_id

    def _spent(self, a: Applying, key: str) -> tuple[Decimal, int]:
        p = self.published
        if p is None or a.budget.scope == "interaction":
            return Decimal(0), 0
        if a.period_start == "session":
            return p.session_spend(key)
        return p.spend.get((a.budget.budget_id, key, a.period_start), (Decimal(0), 0))

    def _decide(
        self,
        con: sqlite3.Connection,
        request: Check,
        applies: list[Applying],
        now: dt.datetime,
        fingerprint: str,
    ) -> dict[str, Any]:
        reasons = [self.unverified] if self.unverified else []
        estimate_tokens = request.input_tokens + request.max_output_tokens
        estimate_usd: Decimal | None = None
        row = None
        if self.published is not None and self.published.prices is not None:
            row = self.published.prices.row_for(
                request.provider, request.model, now, request.service_tier
            )
        if row is not None:
            estimate_usd = worst_case(row, request.input_tokens, request.max_output_tokens)
        elif any(a.unit == "usd" for a in applies) and not reasons:
            reasons.append(
                f"no price for {request.provider}/{request.model} in the published price table"
                " (add it to custom_prices.yaml)"
            )
        keys = {a: (a.budget.budget_id, self._scope_key(a), a.period_start) for a in applies}
        held = lg.reserved(con, [k for a, k in keys.items() if a.budget.scope != "interaction"])
        lines = []
        for a in applies:
            spent_usd, spent_tokens = self._spent(a, keys[a][1])
            nanos, tokens = held.get(keys[a], (0, 0))
            if a.unit == "usd":
                estimate = estimate_usd if estimate_usd is not None else Decimal(0)
                lines.append(Line(a, spent_usd, Decimal(nanos).scaleb(-9), estimate))
            else:
                lines.append(Line(a, spent_tokens, tokens, estimate_tokens))
        verdict = decision(lines)
        if reasons:
            verdict = "block" if self.on_unverified == "block" else "warn"
        answer: dict[str, Any] = {
            "request_id": request.request_id,
            "decision": verdict,
            "verified": not reasons,
            "reasons": reasons,
            "estimated_cost_usd": None
            if estimate_usd is None
            else format(estimate_usd.normalize(), "f"),
            "estimated_tokens": estimate_tokens,
            "price_row_id": row.price_row_id if row is not None else None,
            "budgets": [x.as_json() for x in lines],
            "spend_published_at": self.published.publish_id if self.published else None,
            "spend_as_of_day": str(self.published.as_of_day)
            if self.published and self.published.as_of_day
            else None,
        }
        if verdict != "block":
            holds = [
                lg.Hold(
                    keys[a],
                    lg.to_nanos(estimate_usd, round_up=True) if estimate_usd is not None else 0,
                    estimate_tokens,
                )
                for a in applies
                if a.budget.scope != "interaction"
            ]
            call = {
                "provider": request.provider,
                "model": request.model,
                "service_tier": request.service_tier,
                "at": now.isoformat(),
            }
            expires = (now + self.reservation).timestamp()
            lg.reserve(
                con, request.request_id, holds, now.timestamp(), expires, fingerprint, answer, call
            )  # type: ignore[arg-type]
        return answer

    def commit(self, body: object) -> tuple[int, dict[str, Any]]:
        """Replace an allowed call's reservation by its actual usage, priced like the marts.
        The same commit twice is answered the same; another usage for it is a 409."""
        try:
            c = parse_commit(body)
        except BadRequest as exc:
            return 400, {"error": str(exc), "field": exc.field}
        usage = c.usage
        usage_json = json.dumps(asdict(usage), sort_keys=True)
        now = self.clock()
        with self.ledger.transaction() as con:
            self._refresh(con, now)
            held = lg.call_of(con, c.request_id)
            if held is None:
                return 404, {
                    "error": f"request_id {c.request_id!r} holds no reservation: never allowed, "
                    f"expired (after {self.reservation} without a commit), or already published",
                    "field": "request_id",
                }
            call, committed = held
            if committed is not None and committed != usage_json:
                return 409, {
                    "error": f"request_id {c.request_id!r} was committed with another usage",
                    "field": "request_id",
                }
            old = lg.holds_of(con, c.request_id)
            row = None
            if self.published is not None and self.published.prices is not None:
                at = dt.datetime.fromisoformat(call["at"])
                row = self.published.prices.row_for(
                    call["provider"], call["model"], at, call["service_tier"]
                )
            actual = cost(row, usage) if row is not None else None
            nanos = lg.to_nanos(actual, round_up=False) if actual is not None else None
            tokens = usage.input_tokens + usage.output_tokens
            new = [lg.Hold(h.key, h.usd_nanos if nanos is None else nanos, tokens) for h in old]
            lg.settle(con, c.request_id, new, asdict(usage), (now + self.hold).timestamp())
        return 200, {
            "request_id": c.request_id,
            "actual_cost_usd": None if actual is None else format(actual.normalize(), "f"),
            "actual_tokens": tokens,
            "repeated": committed is not None,
            "note": None
            if actual is not None
            else "no price for this model: the reservation keeps the estimate",
        }

    def health(self) -> dict[str, Any]:
        now = self.clock()
        with self.ledger.transaction() as con:
            self._refresh(con, now)
            held = lg.counts(con)
        self._reload_budgets()
        return {
            "verified": not self.unverified,
            "reasons": [self.unverified] if self.unverified else [],
            "spend_published_at": self.published.publish_id if self.published else None,
            "budgets": len(self.budgets),
            "budgets_error": self.budgets_error or None,
            "fail_mode": self.on_unverified,
            "requests_held": held,
        }

    def close(self) -> None:
        if self.published is not None:
            self.published.close()
        self.ledger.close()
