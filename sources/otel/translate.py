"""OTLP trace files (`*.otlp.jsonl`, see sources/events/files.py) as contract event lines.

The ingestion reads an OTLP file through a normalized copy, as it reads gzip files: the copy holds
one contract event per mapped span, a sentinel line (a quarantine row with its reason) per span
that looks like an LLM call but cannot be priced and per batch line that is not an OTLP request,
and a blank line per blank line. Ignored spans are not written; they are counted per file.

A span inherits its session and user from its nearest ancestor, which an exporter sends in a
later batch (a parent ends after its children), often in a later file: the ancestry is built from
every OTLP file the run reads plus those received since the day before the run's first day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sources.events.files import SENTINEL, EventFile, ReadLimits, normalized_lines, sentinel
from sources.otel.mapping import Ignored, Quarantined, has_usage, is_llm_call, map_span
from sources.otel.spans import Ancestry, Span, node_of, spans_of
from sources.otel.wire import Undecodable, from_json

# one line holds a whole batch: more room than an event line (COSTWATCH_MAX_LINE_BYTES)
OTLP_MAX_LINE_BYTES = 64 * 2**20
QUOTED_CHARS = 300  # how much of an undecodable batch line its quarantine row keeps


@dataclass
class SpanCounts:
    """What the spans of one file became."""

    batches: int = 0
    spans: int = 0
    events: int = 0
    quarantined: int = 0
    ignored: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "batches": self.batches,
            "spans": self.spans,
            "events": self.events,
            "quarantined": self.quarantined,
            "ignored": dict(sorted(self.ignored.items())),
        }


def otlp_limits(limits: ReadLimits) -> ReadLimits:
    return replace(limits, max_line_bytes=max(limits.max_line_bytes, OTLP_MAX_LINE_BYTES))


Batch = ExportTraceServiceRequest | str | None


def batches(f: EventFile, limits: ReadLimits) -> Iterator[tuple[int, Batch]]:
    """(line number, request) per line: None for a blank line, a sentinel line for a line that
    is not a request."""
    for n, line in enumerate(normalized_lines(f, otlp_limits(limits)), 1):
        if line.startswith(SENTINEL):
            yield n, line
        elif not line.strip():
            yield n, None
        else:
            try:
                yield n, from_json(line)
            except Undecodable as exc:
                yield n, sentinel("otel_undecodable", f"{exc}: {line[:QUOTED_CHARS]}")


def _where(span: Span) -> str:
    return (
        f"batch line {span.batch_line}, span {span.position} "
        f"(trace {span.trace_id}, span {span.span_id}, {span.name[:100]!r})"
    )


class Translation:
    """The ancestry of the spans a run can see, and the per-file counts of what it wrote."""

    def __init__(self, files: Iterable[EventFile], limits: ReadLimits) -> None:
        self.limits = limits
        self.ancestry = Ancestry()
        self.counts: dict[str, SpanCounts] = {}
        for f in files:
            for _, request in batches(f, limits):
                if isinstance(request, ExportTraceServiceRequest):
                    self.add(request)

    def add(self, request: ExportTraceServiceRequest) -> None:
        """Let the spans of `request` be ancestors of the spans written."""
        for span in spans_of(request, 0):
            llm = is_llm_call(span.attrs) is True
            self.ancestry.add(span, node_of(span, llm, llm and has_usage(span.attrs)))

    def write(self, f: EventFile, target: Path) -> None:
        """The normalized copy of OTLP file `f`: contract lines, sentinels, blank lines."""
        counts = self.counts[f.source_file] = SpanCounts()
        with target.open("w", encoding="utf-8", newline="") as out:
            for n, request in batches(f, self.limits):
                if not isinstance(request, ExportTraceServiceRequest):
                    out.write(f"{request or ''}\n")
                    counts.quarantined += request is not None
                    continue
                counts.batches += 1
                for span in spans_of(request, n):
                    counts.spans += 1
                    mapped = map_span(span, self.ancestry)
                    if isinstance(mapped, Ignored):
                        counts.ignored[mapped.kind] += 1
                    elif isinstance(mapped, Quarantined):
                        counts.quarantined += 1
                        out.write(sentinel(mapped.reason, f"{_where(span)}: {mapped.detail}"))
                        out.write("\n")
                    else:
                        counts.events += 1
                        out.write(json.dumps(mapped, separators=(",", ":"), ensure_ascii=False))
                        out.write("\n")


def ancestry_files(
    files: Iterable[EventFile], to_read: Iterable[EventFile], first_day: dt.date
) -> list[EventFile]:
    """The OTLP files a run reads, and those received since the day before its first day (they
    may hold the ancestors of its spans)."""
    since = first_day - dt.timedelta(days=1) if first_day > dt.date.min else first_day
    chosen = {f.source_file: f for f in to_read if f.is_otlp}
    for f in files:
        if f.is_otlp and f.mtime_day >= since:
            chosen.setdefault(f.source_file, f)
    return [chosen[k] for k in sorted(chosen)]
