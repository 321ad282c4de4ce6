"""Budgets: the YAML file, validated with errors that name the line, as warehouse rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from sources.warehouse import transaction
from sources.yaml_lines import (
    ConfigFileError,
    decimal_field,
    entries,
    load_with_lines,
    whole_field,
)

SCOPES = ("organisation", "project", "api_key", "user", "session", "interaction")
PERIODS = ("day", "month", "session")
DEFAULT_THRESHOLDS = (50, 80, 90, 100)
FIELDS = {"id", "scope", "scope_id", "period", "limit_usd", "limit_tokens", "thresholds"}


@dataclass(frozen=True)
class Budget:
    budget_id: str
    scope: str
    scope_id: str | None
    period: str
    limit_usd: Decimal | None
    limit_tokens: int | None
    thresholds: tuple[int, ...]


def load_budgets(path: Path) -> tuple[str, list[Budget]]:
    """(version, budgets) of a budgets file; raises ConfigFileError naming the bad entry."""
    doc, lines = load_with_lines(path)
    defaults = (
        doc.get("default_thresholds", list(DEFAULT_THRESHOLDS)) if isinstance(doc, dict) else []
    )
    budgets: list[Budget] = []
    seen: set[str] = set()
    for where, item in entries(path, doc, "budgets", lines):
        unknown = set(item) - FIELDS
        if unknown:
            raise ConfigFileError(f"{where}: unknown fields {sorted(unknown)}")
        budget_id = str(item.get("id") or "")
        if not budget_id:
            raise ConfigFileError(f"{where}: `id` is required")
        if budget_id in seen:
            raise ConfigFileError(f"{where}: id {budget_id!r} is used twice")
        seen.add(budget_id)
        scope, period = item.get("scope"), item.get("period")
        if scope not in SCOPES:
            raise ConfigFileError(
                f"{where}: scope must be one of {', '.join(SCOPES)}, not {scope!r}"
            )
        if period not in PERIODS:
            raise ConfigFileError(
                f"{where}: period must be one of {', '.join(PERIODS)}, not {period!r}"
            )
        if period == "session" and scope not in ("session", "interaction"):
            raise ConfigFileError(f"{where}: period session needs scope session or interaction")
        has_usd, has_tokens = "limit_usd" in item, "limit_tokens" in item
        if has_usd == has_tokens:
            raise ConfigFileError(f"{where}: give exactly one of limit_usd and limit_tokens")
        limit_usd = (
            decimal_field(item["limit_usd"], where, "limit_usd", max_places=9) if has_usd else None
        )
        limit_tokens = (
            whole_field(item["limit_tokens"], where, "limit_tokens") if has_tokens else None
        )
        if limit_usd is not None and limit_usd <= 0:
            raise ConfigFileError(f"{where}: limit_usd must be more than 0")
        thresholds = item.get("thresholds", defaults)
        if (
            not isinstance(thresholds, list)
            or not thresholds
            or not all(
                isinstance(t, int) and not isinstance(t, bool) and 0 < t <= 1000 for t in thresholds
            )
        ):
            raise ConfigFileError(
                f"{where}: thresholds must be a list of percentages like [50, 100]"
            )
        scope_id = item.get("scope_id")
        if scope == "organisation" and scope_id is not None:
            raise ConfigFileError(f"{where}: an organisation budget has no scope_id")
        budgets.append(
            Budget(
                budget_id,
                scope,
                None if scope_id is None else str(scope_id),
                period,
                limit_usd,
                limit_tokens,
                tuple(sorted(set(thresholds))),
            )
        )
    return str(doc["version"]), budgets


def write_budgets(con: duckdb.DuckDBPyConnection, budgets: list[Budget], version: str) -> int:
    con.execute("create schema if not exists raw")
    with transaction(con):
        con.execute(
            """
            create or replace table raw.budgets (
              budget_id VARCHAR not null, scope VARCHAR not null, scope_id VARCHAR,
              period VARCHAR not null, limit_usd DECIMAL(18,9), limit_tokens BIGINT,
              thresholds INTEGER[] not null, budgets_version VARCHAR not null,
              loaded_at TIMESTAMP not null
            )"""
        )
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if budgets:
            con.executemany(
                "insert into raw.budgets values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        b.budget_id,
                        b.scope,
                        b.scope_id,
                        b.period,
                        b.limit_usd,
                        b.limit_tokens,
                        list(b.thresholds),
                        version,
                        now,
                    )
                    for b in budgets
                ],
            )
    return len(budgets)
