"""The guard's decision for one request, as pure functions: which budgets apply, and what each
says given spend, reservations and the request's estimate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sources.budgets.config import Budget
from sources.guard.requests import SCOPE_FIELDS, BadRequest, Check

SESSION_PERIOD = "session"


@dataclass(frozen=True)
class Applying:
    budget: Budget
    scope_id: str  # as the caller named it
    period_start: str  # ISO day, or "session"

    @property
    def unit(self) -> str:
        return "usd" if self.budget.limit_usd is not None else "tokens"


def period_start(period: str, now: dt.datetime) -> str:
    if period == "day":
        return now.date().isoformat()
    if period == "month":
        return now.date().replace(day=1).isoformat()
    return SESSION_PERIOD


def applying(budgets: list[Budget], check: Check, now: dt.datetime) -> list[Applying]:
    """The budgets this request falls under. A budget for every user (session, key, project)
    needs that field: a request without it is refused, never waved past the budget."""
    out = []
    for b in budgets:
        if b.scope == "organisation":
            scope_id: str | None = "organisation"
        elif b.scope == "interaction":
            scope_id = check.request_id or "this request"
        else:
            field = SCOPE_FIELDS[b.scope]
            scope_id = getattr(check, field)
            if scope_id is None:
                if b.scope_id is None:
                    raise BadRequest(
                        field, f"is required: budget {b.budget_id!r} applies to every {b.scope}"
                    )
                continue
        if b.scope_id is not None and b.scope_id != scope_id:
            continue
        out.append(Applying(b, scope_id, period_start(b.period, now)))
    return out


@dataclass(frozen=True)
class Line:
    """One budget's view of the request."""

    applying: Applying
    spent: Decimal | int
    reserved: Decimal | int
    estimate: Decimal | int

    @property
    def limit(self) -> Decimal | int:
        b = self.applying.budget
        return b.limit_usd if b.limit_usd is not None else b.limit_tokens  # type: ignore[return-value]

    @property
    def after(self) -> Decimal | int:
        return self.spent + self.reserved + self.estimate

    @property
    def share_after_pct(self) -> Decimal:
        return Decimal(self.after) * 100 / Decimal(self.limit)

    @property
    def status(self) -> str:
        if self.after > self.limit:
            return "block"
        share = self.share_after_pct
        below_limit = (t for t in self.applying.budget.thresholds if t < 100)
        return "warn" if any(share >= t for t in below_limit) else "allow"

    def as_json(self) -> dict[str, Any]:
        a = self.applying
        money = a.unit == "usd"

        def show(v: Decimal | int) -> str | int:
            return format(Decimal(v).normalize(), "f") if money else int(v)

        share = self.share_after_pct
        reached = [t for t in a.budget.thresholds if share >= t]
        return {
            "budget_id": a.budget.budget_id,
            "scope": a.budget.scope,
            "scope_id": a.scope_id,
            "period": a.budget.period,
            "period_start": a.period_start,
            "unit": a.unit,
            "limit": show(self.limit),
            "spent": show(self.spent),
            "reserved": show(self.reserved),
            "estimate": show(self.estimate),
            "share_after_pct": float(round(share, 4)),
            "threshold_reached": max(reached) if reached else None,
            "status": self.status,
        }


def decision(lines: list[Line]) -> str:
    statuses = {x.status for x in lines}
    return "block" if "block" in statuses else "warn" if "warn" in statuses else "allow"
