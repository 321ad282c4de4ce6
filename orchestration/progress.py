"""What `costwatch run` and `costwatch demo` show a person while a run works.

Everything a run prints (dbt's node lines, Dagster's log lines) goes to a log file under
$COSTWATCH_HOME/logs; the terminal gets one progress line for dbt's nodes (N/M, updated in place
on a terminal, at the end elsewhere) and, after the run, one line per stage with what it did.
A failed stage prints its error, the lines of the log that say what failed, and the log's path.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

DBT_NODE = re.compile(r"\b(\d+) of (\d+) (OK|PASS|FAIL|WARN|ERROR|SKIP|NO-OP)\b")
PROBLEM = re.compile(r"\b(ERROR|FAIL|Error|Failure|Traceback|failed)\b")
BAR = 24

# step key -> what a person calls the stage
STAGES = {
    "ingest_app_events": "ingestion",
    "load_prices": "prices",
    "pull_provider_reports": "provider reports",
    "load_budgets": "budgets",
    "dbt_models": "dbt models and tests",
    "archive_old_days": "archive",
    "published__analytics_warehouse": "publish",
    "published__html_report": "report",
}


class _Capture(io.TextIOBase):
    """A text stream that writes to the log and counts dbt's finished nodes."""

    def __init__(self, log: TextIO, terminal: TextIO) -> None:
        self.log, self.terminal = log, terminal
        self.done = self.total = self.failed = 0
        self._partial = ""
        self._lock = threading.Lock()
        self._live = terminal.isatty()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self.log.write(text)
            self._partial += text
            *lines, self._partial = self._partial.split("\n")
            for line in lines:
                match = DBT_NODE.search(line)
                if match:
                    self.done, self.total = int(match[1]), int(match[2])
                    self.failed += match[3] in ("FAIL", "ERROR")
                    if self._live:
                        self.terminal.write("\r" + self.bar())
                        self.terminal.flush()
        return len(text)

    def flush(self) -> None:
        self.log.flush()

    def bar(self) -> str:
        filled = BAR * self.done // self.total if self.total else 0
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"    dbt models and tests [{'#' * filled}{'.' * (BAR - filled)}] "
            f"{self.done}/{self.total}{failed}"
        )


@contextlib.contextmanager
def captured(log_path: Path) -> Iterator[_Capture]:
    """Send what the block prints to `log_path`; show dbt's progress on the terminal."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stdout
    with log_path.open("a", encoding="utf-8") as log:
        capture = _Capture(log, terminal)
        with contextlib.redirect_stdout(capture), contextlib.redirect_stderr(capture):
            try:
                yield capture
            finally:
                capture.flush()
        if capture.total:
            end = "\r" if capture._live else ""
            terminal.write(end + capture.bar() + "\n")
            terminal.flush()


SKIPPED = "SKIPPED (an output it needs was not produced; see the run's log)"


def skipped_steps(result: Any) -> list[str]:
    """Steps Dagster skipped because an upstream output is missing: in a run that otherwise
    succeeds, something downstream (the analysts' copy) was not updated."""
    return [e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"]


def stage_lines(result: Any) -> list[str]:
    """One line per stage of a finished run, with what it did and how long it took."""
    seconds: dict[str, float] = {}
    status: dict[str, str] = {}
    metadata: dict[str, dict[str, Any]] = {}
    for event in result.all_events:
        step = event.step_key
        if step is None:
            continue
        kind = event.event_type_value
        if kind == "STEP_SUCCESS":
            status[step] = "ok"
            seconds[step] = event.event_specific_data.duration_ms / 1000
        elif kind == "STEP_FAILURE":
            status[step] = "FAILED"
        elif kind == "STEP_SKIPPED":
            status[step] = SKIPPED
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            key = materialization.asset_key.to_user_string()
            metadata.setdefault(step, {})[key] = {
                k: getattr(v, "value", v) for k, v in materialization.metadata.items()
            }
    lines = []
    for step, state in status.items():
        name = STAGES.get(step)
        if name is None:
            continue
        took = f" in {seconds[step]:.1f}s" if step in seconds else ""
        detail = _detail(step, metadata.get(step, {}))
        lines.append(f"    {name}: {state}{took}{f' - {detail}' if detail else ''}")
    return lines


def _detail(step: str, meta: dict[str, dict[str, Any]]) -> str:
    if step == "ingest_app_events":
        m = meta.get("raw/app_events", {})
        if "lines_read" in m:
            return (
                f"{m['lines_read']:,} lines: {m['accepted']:,} accepted, "
                f"{m['duplicates']:,} duplicates, {m['quarantined']:,} quarantined, "
                f"{m['blank']:,} blank"
            )
    if step == "pull_provider_reports":
        providers = meta.get("raw/provider_usage", {}).get("providers") or {}
        return ", ".join(f"{name} {info.get('status')}" for name, info in providers.items())
    if step == "load_prices":
        m = meta.get("raw/llm_prices", {})
        return f"{m['rows']:,} price rows" if "rows" in m else ""
    if step == "published__analytics_warehouse":
        m = meta.get("published/analytics_warehouse", {})
        return f"{m.get('method', '')}: {m.get('path', '')}"
    if step == "published__html_report":
        m = meta.get("published/html_report", {})
        return str(m.get("path", ""))
    return ""


def log_excerpt(log_path: Path, limit: int = 12) -> list[str]:
    """The lines of a run's log that say what failed (the last `limit` of them)."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    hits = [ln for ln in lines if PROBLEM.search(ln) and not DBT_NODE.search(ln)]
    hits += [ln for ln in lines if DBT_NODE.search(ln) and re.search(r"\b(FAIL|ERROR)\b", ln)]
    return [ln[:200] for ln in hits[-limit:]]
