"""Parity checks: what the application logged against what the providers report, per day."""

from collections.abc import Sequence

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.partitions import daily_partitions

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
def token_parity(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    failing = _rows(duckdb, context, "status = 'fail'")
    result = _result(failing, _status_counts(duckdb, context), "failing_rows")
    warned = _rows(duckdb, context, "status = 'warn'")
    result.metadata["warning_rows"] = dg.MetadataValue.int(len(warned))
    return result


@dg.asset_check(
    **CHECK_ARGS,
    description=(
        "Number of llm calls logged vs requests reported, where the provider reports requests "
        "(OpenAI); fails above parity_fail_pct (2%)."
    ),
)
def requests_parity(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    rows = _rows(
        duckdb,
        context,
        "status not in ('out_of_scope', 'missing_app', 'missing_provider') "
        "and abs(requests_diff_pct) > 2.0",
    )
    return _result(rows, _status_counts(duckdb, context), "failing_rows")


@dg.asset_check(
    **CHECK_ARGS,
    description=(
        "Windows where only one side has usage: the provider reports usage the app did not log "
        "(missing_app), or the app logged usage the provider does not report (missing_provider)."
    ),
)
def missing_windows(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    rows = _rows(duckdb, context, "status in ('missing_app', 'missing_provider')")
    return _result(rows, _status_counts(duckdb, context), "missing_rows")
