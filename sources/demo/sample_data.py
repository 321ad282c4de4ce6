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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

# One invalid line per quarantine reason the contract names (reason -> line builder).
INVALID_KINDS = (
    "invalid_json",
    "not_an_object",
    "missing_field:event_id",
    "missing_field:type",
    "missing_field:ts",
    "missing_field:input_tokens",
    "missing_field:model",
    "wrong_type:output_tokens",
    "wrong_type:user_id",
    "negative_count:input_tokens",
    "unknown_type",
    "invalid_ts",
    "token_inequality:cached_plus_cache_write_exceeds_input",
    "token_inequality:cache_write_1h_exceeds_cache_write",
    "token_inequality:reasoning_exceeds_output",
    "invalid_value:status",
    "out_of_range:rating",
    "invalid_utf8",
)


@dataclass(frozen=True)
class LineRecord:
    """One written line: kind is accepted, duplicate, invalid or blank."""

    source_file: str
    line_no: int
    kind: str
    day: dt.date
    reason: str | None = None
    event_id: str | None = None


@dataclass
class Ledger:
    """The generator's record of what it wrote."""

    start_day: dt.date
    days: int
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # accepted, by event_id
    lines: list[LineRecord] = field(default_factory=list)

    @property
    def day_list(self) -> list[dt.date]:
        return [self.start_day + dt.timedelta(days=i) for i in range(self.days)]

    def line_counts(self, day: dt.date) -> dict[str, int]:
        counts = {"lines_read": 0, "accepted": 0, "duplicates": 0, "quarantined": 0, "blank": 0}
        key = {"accepted": "accepted", "duplicate": "duplicates", "invalid": "quarantined"}
        for rec in self.lines:
            if rec.day == day:
                counts["lines_read"] += 1
                counts[key.get(rec.kind, "blank")] += 1
        return counts

    def quarantine_reasons(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for rec in self.lines:
            if rec.kind == "invalid":
                out[rec.reason or ""] += 1
        return dict(out)

    def sessions(self) -> dict[str, dict[str, Any]]:
        """Intended sessions keyed by the generator's session key, with their events."""
        out: dict[str, dict[str, Any]] = {}
        for ev in self.events.values():
            s = out.setdefault(
                ev["session_key"],
                {"user_id": ev["user_id"], "is_derived": ev["is_derived"], "events": []},
            )
            s["events"].append(ev)
        for s in out.values():
            s["started_at"] = min(e["occurred_at"] for e in s["events"])
            s["ended_at"] = max(e["occurred_at"] for e in s["events"])
            s["session_day"] = s["started_at"].date()
        return out


def _fmt_ts(t: dt.datetime, offset: str) -> str:
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
        obj: dict[str, Any] = {"event_id": self.new_id(), "type": etype, "ts": _fmt_ts(at, offset)}
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


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _invalid_line(kind: str, ts: str, rng: random.Random) -> str | bytes:
    base = {"event_id": f"bad-{rng.randint(0, 10**9)}", "type": "llm_call", "ts": ts}
    llm = {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 5}
    obj: dict[str, Any] = {**base, **llm}
    match kind:
        case "invalid_json":
            return '{"event_id": "bad", "type": "llm_call", "ts": '
        case "not_an_object":
            return '["llm_call", 10, 5]'
        case "missing_field:event_id":
            del obj["event_id"]
        case "missing_field:type":
            del obj["type"]
        case "missing_field:ts":
            del obj["ts"]
        case "missing_field:input_tokens":
            del obj["input_tokens"]
        case "missing_field:model":
            del obj["model"]
        case "wrong_type:output_tokens":
            obj["output_tokens"] = "five"
        case "wrong_type:user_id":
            obj["user_id"] = 42
        case "negative_count:input_tokens":
            obj["input_tokens"] = -3
        case "unknown_type":
            obj = {**base, "type": "telemetry"}
        case "invalid_ts":
            obj["ts"] = "2026-13-45T25:00:00"
        case "token_inequality:cached_plus_cache_write_exceeds_input":
            obj["cached_input_tokens"] = 11
        case "token_inequality:cache_write_1h_exceeds_cache_write":
            obj.update(cache_write_tokens=2, cache_write_1h_tokens=3)
        case "token_inequality:reasoning_exceeds_output":
            obj["reasoning_tokens"] = 6
        case "invalid_value:status":
            obj["status"] = "exploded"
        case "out_of_range:rating":
            obj = {**base, "type": "feedback", "rating": 9}
        case "invalid_utf8":
            return (
                b'{"event_id":"bad-utf8","type":"compute","ts":"' + ts.encode() + b'","x":"\xff"}'
            )
        case _:
            raise ValueError(kind)
    return json.dumps(obj)


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
                start = _day_start(day) + dt.timedelta(seconds=rng.randint(6 * 3600, 22 * 3600))
                w.explicit_session(rng.choice([plain, gz]), user, start, rng.randint(2, 9))
            if rng.random() < 0.35:
                start = _day_start(day) + dt.timedelta(seconds=rng.randint(7 * 3600, 20 * 3600))
                w.sessionless_burst(plain, user, start, rng.randint(1, 6))
        # Sessions crossing midnight (explicit and derived), written to this day's folder.
        if d < days - 1:
            late = _day_start(day) + dt.timedelta(hours=23, minutes=48)
            w.explicit_session(plain, w.users[d % users], late, 8)
            w.sessionless_burst(plain, w.users[(d + 1) % users], late, 5)
        # Anonymous session-less traffic, in both files of the day.
        w.sessionless_burst(gz, None, _day_start(day) + dt.timedelta(hours=12), 3)
        w.sessionless_burst(plain, None, _day_start(day) + dt.timedelta(hours=18), 2)
        # A small third file delivered with a truncated gzip trailer.
        if d == 1:
            tail = f"{folder}/late/app-03.jsonl.gz"
            w.explicit_session(tail, w.users[-1], _day_start(day) + dt.timedelta(hours=15), 3)
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
            ts = _fmt_ts(_day_start(file_day) + dt.timedelta(hours=10), "Z")
            lines.insert(pos, _invalid_line(kind, ts, rng))
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


# --------------------------------------------------------------------------------------------
# Calls that exercise every price feature (for the pricing exactness test and benchmarks)
# --------------------------------------------------------------------------------------------

# (provider, model, service tiers to draw from; None = not logged). Together they cover cache
# reads, 5-minute and 1-hour cache writes, cliff tiers (one and two), batch, flex and priority
# variants with start dates, time-of-day prices, per-request fees, separately priced reasoning,
# a custom-priced private model and an unpriced one.
PRICING_MODELS: tuple[tuple[str, str, tuple[str | None, ...]], ...] = (
    ("openai", "gpt-4o-mini", (None, "default", "flex", "priority", "batch")),
    ("openai", "gpt-4o-mini-2024-07-18", (None, "default", "priority", "batch")),
    ("openai", "gpt-4.1", (None, "default", "batch", "priority")),
    ("openai", "o3", (None, "flex", "priority", "batch")),
    ("openai", "text-embedding-3-small", (None,)),
    ("anthropic", "claude-sonnet-4-5", (None, "standard", "batch")),
    ("anthropic", "claude-sonnet-4-5-20250929", ("standard", "batch")),
    ("anthropic", "claude-haiku-4-5", (None, "standard", "batch")),
    ("google", "gemini-2.5-pro", (None,)),
    ("google", "gemini-2.5-flash", (None, "batch")),
    ("deepseek", "deepseek-chat", (None,)),
    ("perplexity", "sonar", (None,)),
    ("perplexity", "sonar-deep-research", (None,)),
    ("openrouter", "qwen/qwen3-coder-flash", (None,)),
    (*PRIVATE_MODEL[:2], (None,)),
    (*UNKNOWN_MODEL[:2], (None,)),
)
# Days on both sides of price changes in the bundled data (flex/priority variants start
# 2026-10-12, batch variants 2026-10-14), kept to a short range: one run, few partitions.
PRICING_DAYS = (
    dt.date(2026, 10, 11),
    dt.date(2026, 10, 12),
    dt.date(2026, 10, 13),
    dt.date(2026, 10, 14),
    dt.date(2026, 10, 15),
)


def write_pricing_calls(root: Path, n: int = 11_000, seed: int = 11) -> list[dict[str, Any]]:
    """Write `n` llm_call events over PRICING_DAYS under `root`; return them (ts as UTC datetime).

    Input sizes straddle the long-context thresholds (128k, 200k, 256k); times of day cover
    off-peak windows.
    """
    rng = random.Random(seed)
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    events: list[dict[str, Any]] = []
    by_day: dict[dt.date, list[str]] = defaultdict(list)
    for i in range(n):
        provider, model, tiers = PRICING_MODELS[i % len(PRICING_MODELS)]
        day = PRICING_DAYS[rng.randrange(len(PRICING_DAYS))]
        at = _day_start(day) + dt.timedelta(seconds=rng.randrange(86_400))
        inp = rng.choice(
            [
                rng.randint(1, 5_000),
                rng.randint(100_000, 199_999),
                rng.randint(200_001, 300_000),
                200_000,
                128_000,
                128_001,
                256_001,
            ]
        )
        cached = rng.choice([0, 0, rng.randint(0, inp // 2)])
        cache_write = rng.choice([0, rng.randint(0, (inp - cached) // 2)])
        cache_1h = rng.choice([0, cache_write, rng.randint(0, cache_write)]) if cache_write else 0
        out = 0 if "embedding" in model or "rerank" in model else rng.randint(1, 8_000)
        reasoning = rng.choice([0, rng.randint(0, out)]) if out else 0
        ev: dict[str, Any] = {
            "event_id": f"price-{i:06d}",
            "type": "llm_call",
            "ts": _fmt_ts(at, "Z"),
            "user_id": f"user_{i % 97:03d}",
            "session_id": f"price-session-{i // 10:05d}",
            "provider": provider,
            "model": model,
            "input_tokens": inp,
            "cached_input_tokens": cached,
            "cache_write_tokens": cache_write,
            "cache_write_1h_tokens": cache_1h,
            "output_tokens": out,
            "reasoning_tokens": reasoning,
            "duration_ms": rng.randint(100, 5_000),
        }
        tier = rng.choice(tiers)
        if tier is not None:
            ev["service_tier"] = tier
        by_day[day].append(json.dumps(ev, separators=(",", ":")))
        events.append({**ev, "occurred_at": at})
    for day, lines in by_day.items():
        target = root / day.isoformat() / "pricing.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return events
