"""Budget alerts: which are due, delivering them, remembering them, and the block list.

Exactly once: every alert has a stable id (budget, scope id, period, threshold). The alert log (a
JSON Lines file under $COSTWATCH_HOME/alerts, appended to, never rewritten) is the memory: an id in
it is never raised again, whatever happens to the sensor's cursor, the daemon or the runs. An
alert whose delivery failed stays in the log as undelivered and is retried on later ticks until
it is delivered. Without a webhook URL alerts are recorded, not sent.

The block list (blocklist.json) names every scope at or over 100% of a budget in its current
period; it is rewritten atomically on each evaluation, so a scope leaves it when the period rolls
over or the budget is raised.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx

from sources.http_client import DeadlineExceeded, request
from sources.publishing.pseudonyms import PSEUDONYM, SESSION_PSEUDONYM, key_fingerprint
from sources.warehouse import table_columns, transaction

STATUS_COLUMNS = (
    "budget_id",
    "scope",
    "scope_id",
    "period",
    "period_start",
    "limit_usd",
    "limit_tokens",
    "spent_usd",
    "spent_tokens",
    "pct_used",
    "projected_pct",
    "highest_threshold_crossed",
    "thresholds",
    "is_current_period",
)
DELIVERY_ATTEMPTS = 3
DELIVERY_DEADLINE_S = 10.0


@dataclass(frozen=True)
class Alert:
    alert_id: str
    kind: str  # threshold | projected
    budget_id: str
    scope: str
    scope_id: str
    period: str
    period_start: str
    threshold_pct: int | None
    pct_used: float
    spent_usd: str
    limit_usd: str | None
    spent_tokens: int
    limit_tokens: int | None
    # the published copy's pseudonym key fingerprint ("" for real ids): scope_id is as published
    pseudonym_fingerprint: str = ""


def alert_id(budget_id: str, scope_id: str, period_start: str, kind: str) -> str:
    raw = json.dumps([budget_id, scope_id, period_start, kind])
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def due_alerts(
    status: Iterable[dict[str, Any]], already: set[str], fingerprint: str = ""
) -> list[Alert]:
    """Alerts the budget status calls for that are not in `already`, lowest threshold first.
    `fingerprint` says which key pseudonymised the status's scope ids ("" for none)."""
    out: list[Alert] = []
    for row in status:
        crossed = [t for t in row["thresholds"] if row["pct_used"] >= t]
        kinds: list[tuple[str, int | None]] = [(f"threshold:{t}", t) for t in sorted(crossed)]
        if (
            row["is_current_period"]
            and row["projected_pct"] is not None
            and row["projected_pct"] > 100
            and row["pct_used"] < 100
        ):
            kinds.append(("projected", None))
        for kind, threshold in kinds:
            aid = alert_id(row["budget_id"], row["scope_id"], str(row["period_start"]), kind)
            if aid in already:
                continue
            out.append(
                Alert(
                    alert_id=aid,
                    kind="projected" if threshold is None else "threshold",
                    budget_id=row["budget_id"],
                    scope=row["scope"],
                    scope_id=row["scope_id"],
                    period=row["period"],
                    period_start=str(row["period_start"]),
                    threshold_pct=threshold,
                    pct_used=round(float(row["pct_used"]), 4),
                    spent_usd=str(row["spent_usd"]),
                    limit_usd=None if row["limit_usd"] is None else str(row["limit_usd"]),
                    spent_tokens=int(row["spent_tokens"] or 0),
                    limit_tokens=row["limit_tokens"],
                    pseudonym_fingerprint=fingerprint,
                )
            )
    return out


class AlertLog:
    """Append-only JSON Lines record of every alert and delivery attempt."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / "alerts.jsonl"

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a torn last line from a crash: the next attempt rewrites it
        return out

    def latest(self) -> dict[str, dict[str, Any]]:
        """Latest record per alert id."""
        latest: dict[str, dict[str, Any]] = {}
        for r in self.records():
            latest[r["alert_id"]] = r
        return latest

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the log's lock: one evaluation at a time (a slow tick overlapping the next, a
        manual evaluation), so the second sees what the first recorded and sends nothing twice."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with (self.path.parent / "alerts.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Append records durably. Every append starts on a fresh line, so a torn last line
        left by a crash is never glued to (and loses) the next record."""
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        if not text:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as fh:
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")  # repair: the torn fragment stays a line of its own
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())


def slack_payload(alert: Alert, ui_url: str) -> dict[str, Any]:
    """Slack incoming-webhook JSON: text plus blocks (scope, spend, limit, share, period, link)."""
    if alert.kind == "projected":
        headline = f"Budget {alert.budget_id} is projected to exceed its limit"
    else:
        headline = f"Budget {alert.budget_id} crossed {alert.threshold_pct}%"
    limit = (
        f"${Decimal(alert.limit_usd):,.2f}" if alert.limit_usd else f"{alert.limit_tokens:,} tokens"
    )
    spend = (
        f"${Decimal(alert.spent_usd):,.4f}" if alert.limit_usd else f"{alert.spent_tokens:,} tokens"
    )
    link = f"{ui_url.rstrip('/')}/assets/marts/budget_status"
    fields = [
        ("Scope", f"{alert.scope} {alert.scope_id}"),
        ("Spend", spend),
        ("Limit", limit),
        ("Share used", f"{alert.pct_used:.1f}%"),
        ("Period", f"{alert.period} from {alert.period_start}"),
    ]
    return {
        "text": f"{headline}: {alert.scope} {alert.scope_id}, {spend} of {limit} "
        f"({alert.pct_used:.1f}%) for the {alert.period} from {alert.period_start}.",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": headline}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{link}|Open budget status in Dagster>"},
            },
        ],
    }


def deliver(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    deadline_seconds: float = DELIVERY_DEADLINE_S,
) -> tuple[bool, str]:
    """POST with a few quick retries; (delivered, what happened)."""
    last = ""
    for _ in range(DELIVERY_ATTEMPTS):
        try:
            # one deadline for the whole delivery: a receiver that trickles bytes cannot hold it
            response = request(client, "POST", url, deadline_seconds, json=payload)
        except (httpx.HTTPError, DeadlineExceeded) as exc:
            last = str(exc) if isinstance(exc, DeadlineExceeded) else type(exc).__name__
            continue
        if 200 <= response.status_code < 300:
            return True, f"HTTP {response.status_code}"
        last = f"HTTP {response.status_code}"
        if response.status_code < 500 and response.status_code != 429:
            break
    return False, last


def write_blocklist(path: Path, status: Iterable[dict[str, Any]], now: dt.datetime) -> list[dict]:
    """Scopes at or over 100% of a budget in their current period, written atomically."""
    blocked = sorted(
        (
            {
                "budget_id": r["budget_id"],
                "scope": r["scope"],
                "scope_id": r["scope_id"],
                "period": r["period"],
                "period_start": str(r["period_start"]),
                "pct_used": round(float(r["pct_used"]), 4),
            }
            for r in status
            if r["is_current_period"] and r["pct_used"] >= 100
        ),
        key=lambda b: (b["budget_id"], b["scope_id"]),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        json.dumps({"updated_at": now.isoformat(), "blocked": blocked}, indent=2), encoding="utf-8"
    )
    os.replace(tmp, path)
    return blocked


def record(alert: Alert, delivered: bool, outcome: str, now: dt.datetime) -> dict[str, Any]:
    return {**asdict(alert), "delivered": delivered, "outcome": outcome, "at": now.isoformat()}


def write_alert_log(
    con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]], pii_key: str | None = None
) -> None:
    """Replace raw.budget_alerts with every record of the alert log (one transaction).

    The sensor raises alerts from the published copy, so with COSTWATCH_PII_KEY their scope ids
    are pseudonyms. The warehouse keeps real ids (the publish pseudonymises them, once): the
    pseudonyms of the current key are mapped back to the real user and derived session ids.
    A pseudonym of another key (the key was changed) cannot be mapped and keeps its fingerprint.
    """
    rows = [
        (
            r["alert_id"],
            r["kind"],
            r["budget_id"],
            r["scope"],
            r["scope_id"],
            r["period"],
            dt.date.fromisoformat(r["period_start"]),
            r["threshold_pct"],
            r["pct_used"],
            r["spent_usd"],
            r["limit_usd"],
            r["spent_tokens"],
            r["limit_tokens"],
            r["delivered"],
            r["outcome"],
            dt.datetime.fromisoformat(r["at"]).replace(tzinfo=None),
            r.get("pseudonym_fingerprint", ""),
        )
        for r in records
    ]
    con.execute("create schema if not exists raw")
    with transaction(con):
        con.execute(
            """
            create or replace table raw.budget_alerts (
              alert_id VARCHAR not null, kind VARCHAR not null, budget_id VARCHAR not null,
              scope VARCHAR not null, scope_id VARCHAR not null, period VARCHAR not null,
              period_start DATE not null, threshold_pct INTEGER, pct_used DOUBLE not null,
              spent_usd DECIMAL(38,18) not null, limit_usd DECIMAL(18,9), spent_tokens BIGINT,
              limit_tokens BIGINT, delivered BOOLEAN not null, outcome VARCHAR,
              recorded_at TIMESTAMP not null, pseudonym_fingerprint VARCHAR not null
            )"""
        )
        if rows:
            con.executemany(
                "insert into raw.budget_alerts values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        if pii_key and rows:
            _real_scope_ids(con, pii_key)
        # only user ids and derived session ids are ever pseudonyms: any other scope id (a
        # project, a key, a logged session id) is the real one, whatever key published it
        con.execute(
            "update raw.budget_alerts set pseudonym_fingerprint = '' "
            "where pseudonym_fingerprint <> '' and scope <> 'user' "
            "and not (scope = 'session' and scope_id like 'derived-%')"
        )


def _real_scope_ids(con: duckdb.DuckDBPyConnection, pii_key: str) -> None:
    """Map the current key's pseudonyms in raw.budget_alerts back to real ids."""
    known = ["select distinct user_id as real_id, 'user' as scope from raw.app_events"]
    if table_columns(con, "marts", "sessions"):
        known.append(
            "select session_id, 'session' from marts.sessions where session_id like 'derived-%'"
        )
    user, session = PSEUDONYM.format(col="real_id"), SESSION_PSEUDONYM.format(col="real_id")
    con.execute(
        f"""
        update raw.budget_alerts a set scope_id = m.real_id, pseudonym_fingerprint = ''
        from (
          select real_id, scope,
                 case scope when 'user' then {user} else {session} end as pseudonym
          from ({" union all ".join(known)})
        ) m
        where a.scope = m.scope and a.scope_id = m.pseudonym and a.pseudonym_fingerprint = $fp
        """,  # noqa: S608 (constant SQL; the key is a bound parameter)
        {"pii_key": pii_key, "fp": key_fingerprint(pii_key)},
    )
