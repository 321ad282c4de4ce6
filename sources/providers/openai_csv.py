"""OpenAI dashboard CSV exports (usage, cost) as provider reports, for teams without an admin key.

Point COSTWATCH_OPENAI_CSV_DIR at a folder of exported CSV files (any depth). A file is a cost
export when it has an `amount_value` column and a usage export when it has `input_tokens`.
Integers may be rendered as floats ("1200.0"); rows of empty buckets (no amount, no tokens) are
skipped. Days come from `start_time` (Unix seconds) or `start_time_iso`. A usage row's endpoint is
its `endpoint` column when there is one, else the file name's (`embeddings_usage_....csv`,
`completions_usage_....csv`: the dashboard names its exports so), else completions. Rows are read
with the same mapping as the API's (both audio shapes, counts checked). A row with more or fewer
cells than its header (an unquoted decimal comma, a cut line) is an error naming file and line.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

from sources.providers.rows import (
    ProviderDataError,
    ProviderPull,
    cost_row,
    money,
    openai_usage_row,
)


def _day(row: dict[str, str]) -> dt.date:
    if row.get("start_time"):
        return dt.datetime.fromtimestamp(int(Decimal(row["start_time"])), tz=dt.UTC).date()
    return dt.datetime.fromisoformat(row["start_time_iso"].replace("Z", "+00:00")).date()


USAGE_FILE = re.compile(r"(?P<endpoint>[a-z][a-z_]*?)_usage(?:[_.-].*)?\.csv", re.IGNORECASE)


def endpoint_of(path: Path) -> str:
    """The usage endpoint a dashboard export is of, from its file name (default completions)."""
    match = USAGE_FILE.fullmatch(path.name)
    return match["endpoint"].lower() if match else "completions"


def _text(value: str | None) -> str | None:
    return value or None


def _usage_fields(row: dict[str, str]) -> dict:
    """A CSV row as the API's result: empty cells are absent, booleans typed."""
    out: dict = {k: v for k, v in row.items() if v not in (None, "")}
    if "batch" in out:
        out["batch"] = _bool(out["batch"])
    return out


def _bool(value: str | None) -> bool | None:
    return None if value in (None, "") else value.strip().lower() in ("true", "1", "1.0")


def _check_cells(row: dict, reader: csv.DictReader, path: Path) -> None:
    """A row with more or fewer cells than the header (an unquoted comma in a value, a cut
    line) is an error: its cells cannot be matched to columns."""
    header = len(reader.fieldnames or [])
    extra = row.get(None) or []  # DictReader's restkey: cells beyond the header
    cells = header + len(extra) - sum(1 for k, v in row.items() if k is not None and v is None)
    if cells != header:
        raise ProviderDataError(
            f"{path} line {reader.line_num}: {cells} cells where the header has {header}; "
            "re-export the file from the dashboard (a value with a comma must be quoted)"
        )


def load_openai_csv_folder(folder: Path, start: dt.date, end: dt.date) -> ProviderPull:
    """Usage and costs of the days [start, end] from every CSV export under `folder`."""
    pull = ProviderPull("openai", start, end)
    for path in sorted(Path(folder).rglob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = set(reader.fieldnames or [])
            for row in reader:
                _check_cells(row, reader, path)
                if "amount_value" in fields:
                    if not row.get("amount_value"):
                        continue  # empty bucket
                    pull.costs.append(
                        cost_row(
                            "openai",
                            _day(row),
                            money(row["amount_value"], "amount_value", str(path)),
                            row.get("amount_currency") or "usd",
                            project_id=_text(row.get("project_id")),
                            line_item=_text(row.get("line_item")),
                        )
                    )
                elif "input_tokens" in fields:
                    if not row.get("input_tokens") and not row.get("num_model_requests"):
                        continue  # empty bucket
                    endpoint = _text(row.get("endpoint")) or endpoint_of(path)
                    pull.usage.append(openai_usage_row(_usage_fields(row), _day(row), endpoint))
    pull.usage = [u for u in pull.usage if start <= u.day <= end]
    pull.costs = [c for c in pull.costs if start <= c.day <= end]
    return pull
