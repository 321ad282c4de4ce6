"""Budgets (budgets.yaml) and the budget sensor's alert log, as warehouse tables."""

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.resources import ConfigFilesResource
from sources.budgets.alerts import AlertLog, write_alert_log
from sources.budgets.config import load_budgets, write_budgets
from sources.settings import current

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
    s = current()
    records = AlertLog(s.alerts_dir).records()
    with duckdb.get_connection() as con:
        write_budgets(con, budgets, version)
        # a secret: env only, a bound parameter
        write_alert_log(con, records, s.pii_key.get_secret_value() if s.pii_key else None)
    context.log.info(f"{len(budgets)} budgets, {len(records)} alert log records")
    yield dg.MaterializeResult(
        asset_key=BUDGETS, metadata={"budgets": len(budgets), "version": version}
    )
    yield dg.MaterializeResult(asset_key=BUDGET_ALERTS, metadata={"records": len(records)})
