"""OpenAI dashboard CSV exports (usage, cost) as provider reports, for teams without an admin key.

Point COSTWATCH_OPENAI_CSV_DIR at a folder of exported CSV files (any depth). A file is a cost
export when it has an `amount_value` column and a usage export when it has `input_tokens`.
Integers may be rendered as floats ("1200.0"); rows of empty buckets (no amount, no tokens) are
skipped. Days come from `start_time` (Unix seconds) or `start_time_iso`.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

from sources.providers import CostRow, ProviderPull, UsageRow


def _day(row: dict[str, str]) -> dt.date:
    if row.get("start_time"):
        return dt.datetime.fromtimestamp(int(Decimal(row["start_time"])), tz=dt.UTC).date()
    return dt.datetime.fromisoformat(row["start_time_iso"].replace("Z", "+00:00")).date()


def _count(value: str | None) -> int:
    return int(Decimal(value)) if value not in (None, "") else 0


def _text(value: str | None) -> str | None:
    return value or None


def _bool(value: str | None) -> bool | None:
    return None if value in (None, "") else value.strip().lower() in ("true", "1", "1.0")


def load_openai_csv_folder(folder: Path, start: dt.date, end: dt.date) -> ProviderPull:
    """Usage and costs of the days [start, end] from every CSV export under `folder`."""
    pull = ProviderPull("openai", start, end)
    for path in sorted(Path(folder).rglob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = set(reader.fieldnames or [])
            for row in reader:
                if "amount_value" in fields:
                    if not row.get("amount_value"):
                        continue  # empty bucket
                    pull.costs.append(
                        CostRow(
                            provider="openai",
                            day=_day(row),
                            project_id=_text(row.get("project_id")),
                            line_item=_text(row.get("line_item")),
                            amount_usd=Decimal(row["amount_value"]),
                            currency=(row.get("amount_currency") or "usd").lower(),
                        )
                    )
                elif "input_tokens" in fields:
                    if not row.get("input_tokens") and not row.get("num_model_requests"):
                        continue  # empty bucket
                    pull.usage.append(
                        UsageRow(
                            provider="openai",
                            day=_day(row),
                            endpoint=_text(row.get("endpoint")) or "completions",
                            model=_text(row.get("model")),
                            project_id=_text(row.get("project_id")),
                            api_key_id=_text(row.get("api_key_id")),
                            service_tier=_text(row.get("service_tier")),
                            is_batch=_bool(row.get("batch")),
                            context_window=None,
                            input_tokens=_count(row.get("input_tokens")),
                            cached_input_tokens=_count(row.get("input_cached_tokens")),
                            cache_write_tokens=_count(row.get("input_cache_write_tokens")),
                            output_tokens=_count(row.get("output_tokens")),
                            requests=_count(row.get("num_model_requests")),
                        )
                    )
    pull.usage = [u for u in pull.usage if start <= u.day <= end]
    pull.costs = [c for c in pull.costs if start <= c.day <= end]
    return pull
