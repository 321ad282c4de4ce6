"""Parity checks: what the application logged against what the providers report, per day."""

from collections.abc import Sequence

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.partitions import CheckEvents, daily_partitions, day_results

PARITY = dg.AssetKey(["marts", "parity_daily"])
COLUMNS = (
    "day",
    "provider",
    "canonical_model",
    "api_key_id",
    "app_input_tokens",
    "provider_input_tokens",
    "input_diff_pct",
    "app_output_tokens",
    "provider_output_tokens",
    "output_diff_pct",
    "app_requests",
    "provider_requests",
    "requests_diff_pct",
    "status",
)


def _table(rows: Sequence[tuple], limit: int = 50) -> str:
    def fmt(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else "" if v is None else str(v)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n{len(rows) - limit} more rows in marts.parity_daily")
    return "\n".join(lines)


def _rows(duckdb: DuckDBResource, context: dg.AssetCheckExecutionContext, where: str) -> list:
    keys = context.partition_key_range
    with duckdb.get_connection() as con:
        return con.execute(
            f"select {', '.join(COLUMNS)} from marts.parity_daily "  # noqa: S608 (constants)
            f"where day between $s::DATE and $e::DATE and ({where}) order by all",
            {"s": keys.start, "e": keys.end},
        ).fetchall()


def _status_counts(duckdb: DuckDBResource, context: dg.AssetCheckExecutionContext) -> dict:
    keys = context.partition_key_range
    with duckdb.get_connection() as con:
        return dict(
            con.execute(
                "select status, count(*) from marts.parity_daily "
                "where day between $s::DATE and $e::DATE group by 1 order by 1",
                {"s": keys.start, "e": keys.end},
            ).fetchall()
        )


def _failing_days(rows: list) -> set[str]:
    return {str(r[0]) for r in rows}  # the day is the first column


def _result(rows: list, counts: dict, what: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not rows,
        metadata={
            what: len(rows),
            "status_counts": dg.MetadataValue.json(counts),
            "variance_table": dg.MetadataValue.md(_table(rows) if rows else "no differences"),
        },
    )


CHECK_ARGS = {"asset": PARITY, "partitions_def": daily_partitions, "pool": "warehouse"}


@dg.asset_check(
    **CHECK_ARGS,
    description=(
        "Tokens logged by the app vs reported by the provider, per provider x canonical model x "
        "API key: fails above parity_fail_pct (default 2%); rows above parity_warn_pct (0.5%) are "
        "listed as warnings. Out-of-scope keys are not failures."
    ),
)
def token_parity(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> CheckEvents:
    failing = _rows(duckdb, context, "status = 'fail'")
    result = _result(failing, _status_counts(duckdb, context), "failing_rows")
    warned = _rows(duckdb, context, "status = 'warn'")
    result.metadata["warning_rows"] = dg.MetadataValue.int(len(warned))
    yield from day_results(context, result, _failing_days(failing))


@dg.asset_check(
    **CHECK_ARGS,
    description=(
        "Number of llm calls logged vs requests reported, where the provider reports requests "
        "(OpenAI); fails above parity_fail_pct (default 2%)."
    ),
)
def requests_parity(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> CheckEvents:
    rows = _rows(
        duckdb,
        context,
        "status not in ('out_of_scope', 'missing_app', 'missing_provider') "
        "and requests_status = 'fail'",
    )
    result = _result(rows, _status_counts(duckdb, context), "failing_rows")
    yield from day_results(context, result, _failing_days(rows))


@dg.asset_check(
    **CHECK_ARGS,
    description=(
        "Windows where only one side has usage: the provider reports usage the app did not log "
        "(missing_app), or the app logged usage the provider does not report (missing_provider)."
    ),
)
def missing_windows(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> CheckEvents:
    rows = _rows(duckdb, context, "status in ('missing_app', 'missing_provider')")
    result = _result(rows, _status_counts(duckdb, context), "missing_rows")
    yield from day_results(context, result, _failing_days(rows))


COST_PARITY_SQL = """
with
app as (
  select c.interaction_day as day, c.provider,
         sum(c.exact_ai_tokens_cost_usd) filter (
           where not (c.provider = 'anthropic' and c.service_tier = 'priority')) as app_usd,
         sum(c.exact_ai_tokens_cost_usd) filter (
           where c.provider = 'anthropic' and c.service_tier = 'priority') as priority_usd
  from marts.cost_breakdown c
  where c.interaction_type = 'llm_call' and c.provider in ('openai', 'anthropic')
    and c.interaction_day between $s::DATE and $e::DATE
  group by all
),
scope as (
  select distinct provider, project_id from marts.interactions
  where interaction_type = 'llm_call' and project_id is not null
),
billed as (
  select b.day, b.provider,
         sum(b.exact_billed_cost_usd) filter (where b.is_token_cost and s.project_id is not null)
           as billed_usd,
         sum(b.exact_billed_cost_usd) filter (
           where not b.is_token_cost and s.project_id is not null) as non_token_usd,
         sum(b.exact_billed_cost_usd) filter (where s.project_id is null) as out_of_scope_usd
  from marts.provider_costs_daily b
  left join scope s on s.provider = b.provider and s.project_id is not distinct from b.project_id
  where b.day between $s::DATE and $e::DATE
  group by all
)
select coalesce(app.day, billed.day) as day, coalesce(app.provider, billed.provider) as provider,
       coalesce(billed.billed_usd, 0) as billed_tokens_usd, coalesce(app.app_usd, 0) as app_usd,
       coalesce(billed.non_token_usd, 0) as non_token_usd,
       coalesce(billed.out_of_scope_usd, 0) as out_of_scope_usd,
       coalesce(app.priority_usd, 0) as anthropic_priority_usd
from app full outer join billed on app.day = billed.day and app.provider = billed.provider
order by 1, 2
"""
COST_FAIL_PCT = 2.0


@dg.asset_check(
    asset=dg.AssetKey(["marts", "provider_costs_daily"]),
    partitions_def=daily_partitions,
    pool="warehouse",
    description=(
        "Billed token charges vs the cost of the application's own calls (priced per request), "
        "per day and provider, for the projects/workspaces the application logs; fails above 2%. "
        "Known gaps are listed, not counted: non-token line items (web search, code execution), "
        "out-of-scope projects, and Anthropic Priority Tier, which cost_report never shows."
    ),
)
def cost_parity(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> CheckEvents:
    keys = context.partition_key_range
    with duckdb.get_connection() as con:
        rows = con.execute(COST_PARITY_SQL, {"s": keys.start, "e": keys.end}).fetchall()
    table = [
        "| day | provider | billed tokens USD | app USD | diff % | non-token (explained) | "
        "out of scope (explained) | Anthropic priority (explained) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    failing = []
    failing_days: set[str] = set()
    for day, provider, billed, app, non_token, out_of_scope, priority in rows:
        diff = float((app - billed) / billed * 100) if billed else (0.0 if not app else None)
        if diff is None or abs(diff) > COST_FAIL_PCT:
            failing.append(f"{day} {provider}")
            failing_days.add(str(day))
        shown = "n/a" if diff is None else f"{diff:.3f}"
        table.append(
            f"| {day} | {provider} | {billed:.6f} | {app:.6f} | {shown} | {non_token:.6f} | "
            f"{out_of_scope:.6f} | {priority:.6f} |"
        )
    result = dg.AssetCheckResult(
        passed=not failing,
        metadata={
            "failing_days": dg.MetadataValue.json(failing),
            "variance_table": dg.MetadataValue.md("\n".join(table)),
        },
    )
    yield from day_results(context, result, failing_days)
