"""Budgets (budgets.yaml) and the budget sensor's alert log, as warehouse tables."""

import datetime as dt
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.resources import ConfigFilesResource
from orchestration.settings import resolve
from sources.alerts import AlertLog
from sources.budgets import load_budgets, write_budgets

BUDGETS = dg.AssetKey(["raw", "budgets"])
BUDGET_ALERTS = dg.AssetKey(["raw", "budget_alerts"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(BUDGETS, kinds={"duckdb"}, description="Budgets from budgets.yaml."),
        dg.AssetSpec(
            BUDGET_ALERTS,
            kinds={"duckdb"},
            description="Alerts and delivery attempts recorded by the budget sensor.",
        ),
    ],
    name="load_budgets",
    pool="warehouse",
    group_name="budgets",
)
def load_budgets_asset(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, config_files: ConfigFilesResource
):
    version, budgets = load_budgets(Path(config_files.budgets))
    records = AlertLog(resolve().alerts_dir).records()
    with duckdb.get_connection() as con:
        write_budgets(con, budgets, version)
        con.execute("begin transaction")
        con.execute(
            """
            create or replace table raw.budget_alerts (
              alert_id VARCHAR not null, kind VARCHAR not null, budget_id VARCHAR not null,
              scope VARCHAR not null, scope_id VARCHAR not null, period VARCHAR not null,
              period_start DATE not null, threshold_pct INTEGER, pct_used DOUBLE not null,
              spent_usd DECIMAL(38,18) not null, limit_usd DECIMAL(18,9), spent_tokens BIGINT,
              limit_tokens BIGINT, delivered BOOLEAN not null, outcome VARCHAR,
              recorded_at TIMESTAMP not null
            )"""
        )
        rows = [
            (
                r["alert_id"],
                r["kind"],
                r["budget_id"],
                r["scope"],
                r["scope_id"],
                r["period"],
                dt.date.fromisoformat(r["period_start"]),
                r["threshold_pct"],
                r["pct_used"],
                r["spent_usd"],
                r["limit_usd"],
                r["spent_tokens"],
                r["limit_tokens"],
                r["delivered"],
                r["outcome"],
                dt.datetime.fromisoformat(r["at"]).replace(tzinfo=None),
            )
            for r in records
        ]
        if rows:
            con.executemany(
                "insert into raw.budget_alerts values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        con.execute("commit")
    context.log.info(f"{len(budgets)} budgets, {len(records)} alert log records")
    yield dg.MaterializeResult(
        asset_key=BUDGETS, metadata={"budgets": len(budgets), "version": version}
    )
    yield dg.MaterializeResult(asset_key=BUDGET_ALERTS, metadata={"records": len(records)})
