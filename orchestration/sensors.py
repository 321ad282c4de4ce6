"""Sensors: budget alerts from the published warehouse copy; new event files.

The sensor never opens the warehouse the runs write (DuckDB allows one writer and blocks readers
during a run); it reads `marts.budget_status` from the published copy, which each run replaces
atomically. Exactly-once delivery comes from the alert log (sources/budgets/alerts.py); the
cursor only remembers which published build was last evaluated, so an unchanged copy costs
nothing.
"""

import datetime as dt
import json

import dagster as dg
import duckdb
import httpx

from assets.events.app_events import APP_EVENTS
from assets.partitions import daily_partitions
from sources.budgets.alerts import (
    STATUS_COLUMNS,
    Alert,
    AlertLog,
    deliver,
    due_alerts,
    record,
    slack_payload,
    write_blocklist,
)
from sources.events.files import discover_files
from sources.settings import resolve


def _status_rows(path: str) -> tuple[str, str, list[dict]] | None:
    """(published_at, pseudonym key fingerprint, budget status rows) of the published copy."""
    try:
        con = duckdb.connect(path, read_only=True)
    except duckdb.Error:
        return None
    with con:
        tables = {
            t
            for (t,) in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
            ).fetchall()
        }
        if "marts.budget_status" not in tables:
            return None
        published_at, fingerprint = con.execute(
            "select max(published_at), coalesce(max(info->>'pii'), '') from meta.publish_info"
        ).fetchall()[0]
        cur = con.execute(f"select {', '.join(STATUS_COLUMNS)} from marts.budget_status")  # noqa: S608
        rows = [dict(zip(STATUS_COLUMNS, r, strict=True)) for r in cur.fetchall()]
    return str(published_at), fingerprint, rows


def evaluate_budgets(cursor: str | None, now: dt.datetime | None = None) -> tuple[str, dict]:
    """One evaluation: raise due alerts, retry undelivered ones, rewrite the block list.

    Returns the new cursor and a summary. Plain function so tests and the sensor share it.
    """
    now = now or dt.datetime.now(dt.UTC)
    s = resolve()
    state = json.loads(cursor) if cursor else {}
    loaded = _status_rows(str(s.published))
    if loaded is None:
        return cursor or "{}", {"skipped": "no published budget status yet"}
    published_at, fingerprint, rows = loaded
    log = AlertLog(s.alerts_dir)
    webhook = s.alert_webhook_url.get_secret_value() if s.alert_webhook_url else ""
    ui_url = s.ui_url
    send_past = s.alert_send_past_periods
    current = {
        (r["budget_id"], r["scope_id"], str(r["period_start"]))
        for r in rows
        if r["is_current_period"]
    }

    def sendable(a: Alert) -> bool:
        # Alerts of a period that is over are recorded, not sent (raised by a backfill, or while
        # no webhook was configured): COSTWATCH_ALERT_SEND_PAST_PERIODS=1 sends them too.
        return send_past or (a.budget_id, a.scope_id, a.period_start) in current

    delivered = 0
    with log.locked():
        # the block list first: a slow receiver must not delay what applications read
        blocked = write_blocklist(s.home / "blocklist.json", rows, now)
        latest = log.latest()
        new = (
            due_alerts(rows, set(latest), fingerprint)
            if published_at != state.get("published_at")
            else []
        )
        undelivered = (
            Alert(**{k: v for k, v in r.items() if k in Alert.__dataclass_fields__})
            for r in latest.values()
            if webhook and not r["delivered"]
        )
        retry = [a for a in undelivered if sendable(a)]
        with httpx.Client() as client:
            for alert in [*new, *retry]:
                if not webhook:
                    ok, outcome = False, "no webhook configured (COSTWATCH_ALERT_WEBHOOK_URL)"
                elif not sendable(alert):
                    ok, outcome = False, "not sent: its period is over"
                else:
                    ok, outcome = deliver(client, webhook, slack_payload(alert, ui_url))
                # recorded as it happens: a crash repeats at most the alert in flight
                log.append([record(alert, ok, outcome, now)])
                delivered += ok
    summary = {
        "new_alerts": len(new),
        "retried": len(retry),
        "delivered": delivered,
        "blocked_scopes": len(blocked),
    }
    return json.dumps({"published_at": published_at}), summary


@dg.sensor(
    name="budget_alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Raises each budget threshold crossing once (Slack-compatible webhook, recorded in the "
        "alert log and marts.budget_alerts), retries failed deliveries, keeps blocklist.json."
    ),
)
def budget_alerts_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    cursor, summary = evaluate_budgets(context.cursor)
    context.update_cursor(cursor)
    return dg.SkipReason(json.dumps(summary))


@dg.sensor(
    name="new_event_files",
    job_name="daily_refresh",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Keeps spend current during the day: new or changed event-log files trigger a run of "
        "today's partition (ingest, models, budget status), and days the last ingestion reported "
        "as late (new files holding older days) get a run of their own."
    ),
)
def new_event_files_sensor(context: dg.SensorEvaluationContext):
    state = json.loads(context.cursor) if context.cursor else {}
    requests = []
    files = discover_files(resolve().events_dir)
    newest = max((f.mtime_ns for f in files), default=0)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    event = context.instance.get_latest_materialization_event(APP_EVENTS)
    # Files last changed before the last ingestion run started were read by it: without a cursor
    # (first tick, or after a reset) they must not trigger a run.
    seen = max(state.get("mtime_ns", 0), _run_start_ns(context.instance, event))
    if newest > seen:
        requests.append(dg.RunRequest(partition_key=today, run_key=f"files-{newest}"))
    state["mtime_ns"] = max(newest, state.get("mtime_ns", 0))
    outside: list[str] = []
    if event is not None and event.timestamp != state.get("late_checked"):
        late = event.asset_materialization.metadata.get("late_days")
        for day in late.value if late is not None else []:
            if not daily_partitions.has_partition_key(str(day)):
                outside.append(str(day))  # tomorrow, before the start date, ...: no partition
                continue
            requests.append(
                dg.RunRequest(partition_key=day, run_key=f"late-{day}-{event.timestamp}")
            )
        state["late_checked"] = event.timestamp
    context.update_cursor(json.dumps(state))
    note = ""
    if outside:
        note = (
            f"late days without a partition, not run: {', '.join(outside)} (each runs once it "
            "is a partition: tomorrow's once it is today)"
        )
        context.log.warning(note)
    if not requests:
        return dg.SkipReason(
            "; ".join(x for x in ("no new event files and no late days", note) if x)
        )
    return requests


def _run_start_ns(instance: dg.DagsterInstance, event: dg.EventLogEntry | None) -> int:
    """When the run that wrote `event` started, in ns since the epoch (0 if unknown)."""
    if event is None or not event.run_id:
        return 0
    record = instance.get_run_record_by_id(event.run_id)
    if record is None or record.start_time is None:
        return 0
    return int(record.start_time * 1_000_000_000)
