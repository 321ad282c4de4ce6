"""Deterministic sample event logs, with a ledger of exactly what was written.

The ledger is the generator's own record (which lines are valid, duplicated, blank or invalid and
why, and which session each event was meant to belong to). Tests compute their expected numbers
from it, never by re-running the pipeline's SQL.

The data covers the hard cases of the contract: session-less events (sessionized by a 30-minute
gap), sessions crossing midnight, non-UTC offsets (some on another local date than UTC), gzip
files, a truncated gzip file, re-delivered files, blank lines and invalid lines of every kind.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from sources.demo.invalid_lines import INVALID_KINDS, invalid_line
from sources.demo.ledger import Ledger, LineRecord
from sources.events.contract import ANONYMOUS_USER, INTERACTION_TYPES

UTC = dt.UTC

DEMO_START = dt.date(2026, 11, 1)

DEMO_DAYS = 7

DEMO_USERS = 40

# (provider, model as logged, canonical model). Aliases and dated snapshots both appear.
MODELS: tuple[tuple[str, str, str], ...] = (
    ("openai", "gpt-4o-mini", "gpt-4o-mini"),
    ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("openai", "gpt-4.1", "gpt-4.1"),
    ("openai", "text-embedding-3-small", "text-embedding-3-small"),
    ("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5"),
    ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5", "claude-haiku-4-5"),
)

# A private model priced only by custom_prices.yaml, and one no price source knows (flagged).
PRIVATE_MODEL = ("acme", "acme-rerank-v2", "acme-rerank-v2")

UNKNOWN_MODEL = ("openai", "gpt-experimental-0", "gpt-experimental-0")

OPENAI_KEYS = ("key_app_1", "key_app_2")

ANTHROPIC_KEYS = ("apikey_app_1",)

OFFSETS = ("Z", "+00:00", "+02:00", "-05:00", "+05:30")


def fmt_ts(t: dt.datetime, offset: str) -> str:
    """ISO 8601 in the given offset (t is UTC, naive)."""
    if offset in ("Z", "+00:00"):
        local = t
    else:
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        local = t + sign * dt.timedelta(hours=hours, minutes=minutes)
    frac = f".{local.microsecond // 1000:03d}" if local.microsecond else ""
    return local.strftime("%Y-%m-%dT%H:%M:%S") + frac + offset


class _Writer:
    def __init__(self, rng: random.Random, start: dt.date, days: int, users: int) -> None:
        self.rng = rng
        self.ledger = Ledger(start, days)
        self.users = [f"user_{i:03d}" for i in range(users)]
        self.seq = 0
        self.files: dict[str, list[tuple[str, LineRecord | None, dict | None]]] = defaultdict(list)
        self.last_sessionless: dict[str, dt.datetime] = {}

    def new_id(self) -> str:
        self.seq += 1
        return f"evt-{self.seq:07d}"

    def interaction(self, kind: str) -> dict[str, Any]:
        r = self.rng
        if kind == "llm_call":
            pick = r.random()
            provider, model, canonical = (
                PRIVATE_MODEL if pick < 0.03 else UNKNOWN_MODEL if pick < 0.04 else r.choice(MODELS)
            )
            embedding = model.startswith(("text-embedding", "acme-rerank"))
            inp = r.randint(20, 6000)
            cached = r.choice([0, 0, inp // 2, inp * 3 // 4]) if not embedding else 0
            cache_write = 0 if provider != "anthropic" else r.choice([0, 0, (inp - cached) // 3])
            cache_1h = r.choice([0, cache_write // 2]) if cache_write else 0
            out = 0 if embedding else r.randint(10, 1500)
            reasoning = r.choice([0, out // 3]) if model == "gpt-4.1" else 0
            status = r.choices(["ok", "error", "canceled"], weights=[92, 6, 2])[0]
            ev: dict[str, Any] = {
                "provider": provider,
                "model": model,
                "project_id": "proj_main" if provider == "openai" else "wrk_app",
                "api_key_id": r.choice(ANTHROPIC_KEYS if provider == "anthropic" else OPENAI_KEYS),
                "service_tier": {
                    "openai": r.choice(["default", "default", "flex"]),
                    "anthropic": "standard",
                }.get(provider),
                "input_tokens": inp,
                "cached_input_tokens": cached,
                "output_tokens": out,
                "duration_ms": r.randint(150, 9000),
                "status": status,
                "_canonical": canonical,
            }
            if cache_write:
                ev["cache_write_tokens"] = cache_write
                ev["cache_write_1h_tokens"] = cache_1h
            if reasoning:
                ev["reasoning_tokens"] = reasoning
            if status == "error":
                ev["error_code"] = r.choice(["rate_limit", "server_error", "timeout"])
            if r.random() < 0.3:
                ev["stream"] = True
            return ev
        if kind == "db_op":
            op = r.choice(["read", "write"])
            ev = {"operation": op, "duration_ms": r.randint(1, 80), "status": "ok"}
            ev["rows_read" if op == "read" else "rows_written"] = r.randint(1, 5000)
            return ev
        if kind == "api_call":
            return {
                "service": r.choice(["maps", "search", "weather"]),
                "endpoint": r.choice(["/v1/query", "/geocode"]),
                "units": r.choice([1, 1, 2, 5]),
                "duration_ms": r.randint(20, 900),
                "status": "ok",
            }
        if kind == "compute":
            return {"duration_ms": r.randint(50, 20000), "memory_mb": r.choice([256, 512, 1024])}
        return {
            "amount_usd": r.choice(["0.0125", "0.5", "1.25"]),
            "category": "vector_store",
            "description": "hosted index",
        }

    def add_event(
        self,
        path: str,
        etype: str,
        at: dt.datetime,
        user: str | None,
        session_id: str | None,
        session_key: str,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        extra = dict(extra or {})
        canonical = extra.pop("_canonical", None)
        offset = self.rng.choice(OFFSETS)
        obj: dict[str, Any] = {"event_id": self.new_id(), "type": etype, "ts": fmt_ts(at, offset)}
        if user is not None:
            obj["user_id"] = user
        if session_id is not None:
            obj["session_id"] = session_id
        obj["app"] = "support-bot"
        if etype == "cost_event":
            extra["amount_usd"] = float(extra["amount_usd"])
        obj.update({k: v for k, v in extra.items() if v is not None})
        if self.rng.random() < 0.05:
            obj["client_version"] = "2.3.1"  # unknown top-level field: kept in metadata
        if self.rng.random() < 0.1:
            obj["metadata"] = {"route": self.rng.choice(["/chat", "/search"])}
        record = {
            **{k: v for k, v in obj.items() if k not in ("ts", "type")},
            "type": etype,
            "occurred_at": at,
            "day": at.date(),
            "user_id": user or ANONYMOUS_USER,
            "session_key": session_key,
            "is_derived": session_id is None,
            "canonical_model": canonical,
            "path": path,
        }
        self.files[path].append((json.dumps(obj, separators=(",", ":")), None, record))
        return record

    def explicit_session(self, path: str, user: str, start: dt.datetime, n: int) -> None:
        sid = f"sess-{self.new_id()}"
        at = start
        self.add_event(path, "session_start", at, user, sid, sid)
        for _ in range(n):
            at += dt.timedelta(seconds=self.rng.randint(5, 600))
            kind = self.rng.choices(INTERACTION_TYPES, weights=[50, 20, 12, 12, 6])[0]
            ev = self.add_event(path, kind, at, user, sid, sid, self.interaction(kind))
            if kind == "llm_call" and ev["status"] == "error" and self.rng.random() < 0.7:
                at += dt.timedelta(seconds=2)
                retry = self.interaction("llm_call")
                retry.update(status="ok", retry_of=ev["event_id"], model=ev["model"])
                retry.update(provider=ev["provider"], _canonical=ev["canonical_model"])
                retry.update(api_key_id=ev["api_key_id"], project_id=ev["project_id"])
                retry.pop("error_code", None)
                self.add_event(path, "llm_call", at, user, sid, sid, retry)
            if kind == "llm_call" and self.rng.random() < 0.4:
                at += dt.timedelta(seconds=self.rng.randint(3, 60))
                fb = {
                    "action": self.rng.choice(["approved", "approved", "edited", "regenerated"]),
                    "quality_score": self.rng.randint(40, 100),
                    "rating": self.rng.randint(1, 5),
                    "ref_event_id": ev["event_id"],
                }
                self.add_event(path, "feedback", at, user, sid, sid, fb)
        at += dt.timedelta(seconds=self.rng.randint(5, 120))
        self.add_event(path, "session_end", at, user, sid, sid)

    def sessionless_burst(self, path: str, user: str | None, start: dt.datetime, n: int) -> None:
        """Events with no session_id, gaps under 30 minutes: one derived session."""
        key_user = user or ANONYMOUS_USER
        last = self.last_sessionless.get(key_user)
        if last is not None and start - last <= dt.timedelta(minutes=31):
            start = last + dt.timedelta(minutes=45)
        key = f"derived:{key_user}:{start.isoformat()}"
        at = start
        for i in range(n):
            if i:
                at += dt.timedelta(minutes=self.rng.randint(1, 29), seconds=self.rng.randint(0, 59))
            kind = self.rng.choices(INTERACTION_TYPES, weights=[60, 15, 10, 10, 5])[0]
            self.add_event(path, kind, at, user, None, key, self.interaction(kind))
        self.last_sessionless[key_user] = at


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def generate(
    root: Path,
    start_day: dt.date = DEMO_START,
    days: int = DEMO_DAYS,
    users: int = DEMO_USERS,
    seed: int = 7,
) -> Ledger:
    """Write event logs for `days` days from `start_day` under `root` and return the ledger.

    The same arguments always write the same bytes. `root` is emptied first.
    """
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    rng = random.Random(seed)
    w = _Writer(rng, start_day, days, users)
    for d in range(days):
        day = start_day + dt.timedelta(days=d)
        folder = day.isoformat()
        plain, gz = f"{folder}/app-01.jsonl", f"{folder}/app-02.jsonl.gz"
        for user in w.users:
            for _ in range(rng.choice([0, 1, 1, 2])):
                start = day_start(day) + dt.timedelta(seconds=rng.randint(6 * 3600, 22 * 3600))
                w.explicit_session(rng.choice([plain, gz]), user, start, rng.randint(2, 9))
            if rng.random() < 0.35:
                start = day_start(day) + dt.timedelta(seconds=rng.randint(7 * 3600, 20 * 3600))
                w.sessionless_burst(plain, user, start, rng.randint(1, 6))
        # Sessions crossing midnight (explicit and derived), written to this day's folder.
        if d < days - 1:
            late = day_start(day) + dt.timedelta(hours=23, minutes=48)
            w.explicit_session(plain, w.users[d % users], late, 8)
            w.sessionless_burst(plain, w.users[(d + 1) % users], late, 5)
        # Anonymous session-less traffic, in both files of the day.
        w.sessionless_burst(gz, None, day_start(day) + dt.timedelta(hours=12), 3)
        w.sessionless_burst(plain, None, day_start(day) + dt.timedelta(hours=18), 2)
        # A small third file delivered with a truncated gzip trailer.
        if d == 1:
            tail = f"{folder}/late/app-03.jsonl.gz"
            w.explicit_session(tail, w.users[-1], day_start(day) + dt.timedelta(hours=15), 3)
    w.ledger.events = {}
    _write_files(root, w, rng)
    return w.ledger


def _write_files(root: Path, w: _Writer, rng: random.Random) -> None:
    ledger = w.ledger
    first = ledger.start_day
    invalid_plan: dict[str, list[str]] = defaultdict(list)
    for i, kind in enumerate(INVALID_KINDS):
        day = first + dt.timedelta(days=i % ledger.days)
        invalid_plan[f"{day.isoformat()}/app-01.jsonl"].append(kind)
    for path in sorted(w.files):
        entries = sorted(w.files[path], key=lambda e: (e[2]["occurred_at"], e[2]["event_id"]))
        lines: list[str | bytes] = [text for text, _, _ in entries]
        records = [rec for _, _, rec in entries]
        file_day = min(rec["day"] for rec in records)
        kinds: list[tuple[str, str | None, dict | None]] = [("event", None, r) for r in records]
        for kind in invalid_plan.get(path, []):
            pos = rng.randint(0, len(lines))
            ts = fmt_ts(day_start(file_day) + dt.timedelta(hours=10), "Z")
            lines.insert(pos, invalid_line(kind, ts, rng))
            kinds.insert(pos, ("invalid", kind, None))
        if path.endswith("app-01.jsonl"):
            for _ in range(2):
                pos = rng.randint(1, len(lines))
                lines.insert(pos, "")
                kinds.insert(pos, ("blank", None, None))
        _emit(root, path, lines, kinds, ledger, file_day)
    _redeliver(root, ledger)


def _emit(
    root: Path,
    path: str,
    lines: list[str | bytes],
    kinds: list[tuple[str, str | None, dict | None]],
    ledger: Ledger,
    file_day: dt.date,
) -> None:
    body = b"".join((ln if isinstance(ln, bytes) else ln.encode()) + b"\n" for ln in lines)
    for i, (kind, reason, rec) in enumerate(kinds, start=1):
        if kind == "event":
            assert rec is not None
            ledger.events[rec["event_id"]] = rec
            ledger.lines.append(LineRecord(path, i, "accepted", rec["day"], None, rec["event_id"]))
        elif kind == "invalid":
            # Invalid lines carry a ts on the file's first day, or none: either way that day.
            ledger.lines.append(LineRecord(path, i, "invalid", file_day, reason))
        else:
            ledger.lines.append(LineRecord(path, i, "blank", file_day))
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.endswith("late/app-03.jsonl.gz"):
        # Deflate data complete, gzip trailer (CRC and size) cut off: every line is readable,
        # and the file itself is quarantined once as truncated.
        target.write_bytes(gzip.compress(body, mtime=0)[:-8])
        ledger.lines.append(LineRecord(path, len(lines) + 1, "invalid", file_day, "truncated_gzip"))
    elif path.endswith(".gz"):
        target.write_bytes(gzip.compress(body, mtime=0))
    else:
        target.write_bytes(body)


def _redeliver(root: Path, ledger: Ledger) -> None:
    """Re-deliver one whole file and part of another under `redelivered/`."""
    days = ledger.day_list
    whole = f"{days[0].isoformat()}/app-02.jsonl.gz"
    copy = f"redelivered/{days[0].isoformat()}-app-02.jsonl.gz"
    (root / copy).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / whole, root / copy)
    for rec in [r for r in ledger.lines if r.source_file == whole]:
        kind = "duplicate" if rec.kind == "accepted" else rec.kind
        ledger.lines.append(LineRecord(copy, rec.line_no, kind, rec.day, rec.reason, rec.event_id))
    # The first 5 event lines of day 2's plain file, sent again with one blank line in between.
    src = f"{days[min(1, len(days) - 1)].isoformat()}/app-01.jsonl"
    recs = [r for r in ledger.lines if r.source_file == src and r.kind == "accepted"][:5]
    src_lines = (root / src).read_bytes().split(b"\n")
    out = (
        [src_lines[r.line_no - 1] for r in recs[:3]]
        + [b""]
        + [src_lines[r.line_no - 1] for r in recs[3:]]
    )
    part = f"redelivered/{days[min(1, len(days) - 1)].isoformat()}-partial.jsonl"
    (root / part).write_bytes(b"\n".join(out) + b"\n")
    part_day = min(r.day for r in recs)
    for i, r in enumerate(recs[:3], start=1):
        ledger.lines.append(LineRecord(part, i, "duplicate", r.day, None, r.event_id))
    ledger.lines.append(LineRecord(part, 4, "blank", part_day))
    for i, r in enumerate(recs[3:], start=5):
        ledger.lines.append(LineRecord(part, i, "duplicate", r.day, None, r.event_id))
