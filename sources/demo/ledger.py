"""The sample generator's ledger: exactly what it wrote, line by line, the independent record
the tests compare the pipeline with.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


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
