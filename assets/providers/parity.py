"""Parity checks: what the application logged against what the providers report, per day.

The comparisons and their statuses are dbt models (marts.parity_daily for tokens and requests,
marts.cost_parity_daily for billed cost), with their thresholds as dbt vars; these checks read
them for the run's days and show the rows that fail as a table in the check's metadata.
"""

import datetime as dt
from dataclasses import dataclass

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.partitions import CheckEvents, daily_partitions, day_results

PARITY = dg.AssetKey(["marts", "parity_daily"])
COST_PARITY = dg.AssetKey(["marts", "cost_parity_daily"])
TABLE_ROWS = 50  # rows shown in a check's metadata table; the rest are counted


@dataclass(frozen=True)
class Comparison:
    """One check's reading of a parity mart: which rows fail, and what the table shows."""

    relation: str
    columns: tuple[str, ...]
    failing: str  # SQL condition on the relation's columns
    count_name: str
    warning: str | None = None  # rows listed as warnings, not failures


TOKENS = Comparison(
    "marts.parity_daily",
    ("day", "provider", "canonical_model", "api_key_id", "app_input_tokens",
     "provider_input_tokens", "input_diff_pct", "app_output_tokens", "provider_output_tokens",
     "output_diff_pct", "app_requests", "provider_requests", "requests_diff_pct", "status"),
    "status = 'fail'",
    "failing_rows",
    warning="status = 'warn'",
)  # fmt: skip
REQUESTS = Comparison(
    TOKENS.relation,
    TOKENS.columns,
    "status not in ('out_of_scope', 'missing_app', 'missing_provider') "
    "and requests_status = 'fail'",
    "failing_rows",
)
MISSING = Comparison(
    TOKENS.relation, TOKENS.columns, "status in ('missing_app', 'missing_provider')", "missing_rows"
)
COSTS = Comparison(
    "marts.cost_parity_daily",
    ("day", "provider", "billed_tokens_usd", "app_usd", "diff_pct", "non_token_usd",
     "out_of_scope_usd", "anthropic_priority_usd", "status"),
    "status = 'fail'",
    "failing_rows",
)  # fmt: skip


def _metadata_value(value: object) -> object:
    """A cell of a metadata table: numbers stay numbers, money (DECIMAL) and days become text."""
    if value is None or isinstance(value, int | float | str | bool):
        return value
    return str(value)


def evaluate(
    con: duckdb.DuckDBPyConnection, comparison: Comparison, start: dt.date, end: dt.date
) -> tuple[dg.AssetCheckResult, set[str]]:
    """The check's result for the days [start, end], and the days that fail."""
    columns = ", ".join(comparison.columns)
    days = {"s": start, "e": end}

    def rows(condition: str) -> list[tuple]:
        return con.execute(
            f"select {columns} from {comparison.relation} "  # noqa: S608 (constants)
            f"where day between $s and $e and ({condition}) order by all",
            days,
        ).fetchall()

    failing = rows(comparison.failing)
    counts = dict(
        con.execute(
            f"select status, count(*) from {comparison.relation} "  # noqa: S608 (constants)
            "where day between $s and $e group by 1 order by 1",
            days,
        ).fetchall()
    )
    schema = dg.TableSchema(columns=[dg.TableColumn(c) for c in comparison.columns])
    table = dg.MetadataValue.table(
        records=[
            dg.TableRecord(dict(zip(comparison.columns, map(_metadata_value, r), strict=True)))
            for r in failing[:TABLE_ROWS]
        ],
        schema=schema,
    )
    metadata: dict[str, object] = {
        comparison.count_name: len(failing),
        "status_counts": dg.MetadataValue.json(counts),
        "variance_table": table,
    }
    if len(failing) > TABLE_ROWS:
        metadata["rows_not_shown"] = len(failing) - TABLE_ROWS
    if comparison.warning:
        metadata["warning_rows"] = len(rows(comparison.warning))
    failing_days = {str(r[0]) for r in failing}  # the day is the first column
    return dg.AssetCheckResult(passed=not failing, metadata=metadata), failing_days


def parity_check(
    name: str, asset: dg.AssetKey, comparison: Comparison, description: str
) -> dg.AssetChecksDefinition:
    """A partitioned check that reads `comparison` from its mart for the run's days."""

    @dg.asset_check(
        name=name,
        asset=asset,
        partitions_def=daily_partitions,
        pool="warehouse",
        description=description,
    )
    def _check(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> CheckEvents:
        keys = context.partition_key_range
        start, end = dt.date.fromisoformat(keys.start), dt.date.fromisoformat(keys.end)
        with duckdb.get_connection() as con:
            result, failing_days = evaluate(con, comparison, start, end)
        yield from day_results(context, result, failing_days)

    return _check


token_parity = parity_check(
    "token_parity",
    PARITY,
    TOKENS,
    "Tokens logged by the app vs reported by the provider, per provider x canonical model x API "
    "key: fails above parity_fail_pct (default 2%); rows above parity_warn_pct (0.5%) are counted "
    "as warnings. Out-of-scope keys are not failures.",
)
requests_parity = parity_check(
    "requests_parity",
    PARITY,
    REQUESTS,
    "Number of llm calls logged vs requests reported, where the provider reports requests "
    "(OpenAI); fails above parity_fail_pct (default 2%).",
)
missing_windows = parity_check(
    "missing_windows",
    PARITY,
    MISSING,
    "Windows where only one side has usage: the provider reports usage the app did not log "
    "(missing_app), or the app logged usage the provider does not report (missing_provider).",
)
cost_parity = parity_check(
    "cost_parity",
    COST_PARITY,
    COSTS,
    "Billed token charges vs the cost of the application's own calls (priced per request), per "
    "day and provider, for the projects/workspaces the application logs; fails above "
    "parity_fail_pct (default 2%). Known gaps are shown, not counted: non-token line items (web "
    "search, code execution), out-of-scope projects, and Anthropic Priority Tier, which "
    "cost_report never shows.",
)
