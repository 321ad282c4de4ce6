"""Dagster resources. Their values come from the one configuration object (sources/settings.py):
`apply()` exports them and each resource names its variable (`dg.EnvVar(ENV[field])`), so a run
process resolves them when it starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from assets.internals import DbtResource
from sources.dbt_process import DBT_EXECUTABLE
from sources.http_client import RetryPolicy
from sources.settings import DBT_PROJECT_DIR, ENV, current
from sources.warehouse import preflight


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse; every connection first checks the folder is writable and the disk
    has room, so a run fails with what to fix instead of an I/O or lock error."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        preflight(Path(self.database), current().min_free_mb)
        with super().get_connection() as con:
            yield con


class EventLogResource(dg.ConfigurableResource):
    """Root folder of the application's JSON Lines event logs."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root)


class ProviderApiResource(dg.ConfigurableResource):
    """Where the provider admin APIs are and how hard to retry. Admin keys are not configuration:
    they are read from OPENAI_ADMIN_KEY / ANTHROPIC_ADMIN_KEY when a request is made, so they never
    appear in run config or metadata."""

    openai_base_url: str
    anthropic_base_url: str
    max_attempts: int
    max_total_seconds: float = RetryPolicy.max_total_seconds
    timeout_seconds: float = RetryPolicy.timeout_seconds

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            max_total_seconds=self.max_total_seconds,
            timeout_seconds=self.timeout_seconds,
        )


class ConfigFilesResource(dg.ConfigurableResource):
    """The YAML files users edit: custom LLM prices, the non-LLM rate card, budgets; and where
    genai-prices' online update fetches from (empty: use the data bundled with the package)."""

    custom_prices: str
    rate_card: str
    budgets: str
    prices_url: str


class RetentionResource(dg.ConfigurableResource):
    """How many days the per-interaction marts keep before rows move to the archive."""

    retention_days: int


class PublishedWarehouseResource(dg.ConfigurableResource):
    """The read-only copy analysts open; replaced atomically after each successful build."""

    path: str
    report_path: str


class EngineResource(dg.ConfigurableResource):
    """The engine the dbt models and the ingestion run on (`duckdb` or `spark`) and, for Spark,
    the lake folder its tables live in and the master (docs/spark.md)."""

    engine: str
    lake: str
    spark_master: str
    spark_ingest_min_mb: int  # below it, the event files are read in the run's process

    @property
    def on_spark(self) -> bool:
        return self.engine == "spark"


def build_resources() -> dict[str, object]:
    return {
        "duckdb": WarehouseResource(
            database=dg.EnvVar(ENV["warehouse"]),
            # not a secret; EnvVar is not resolved inside connection_config
            connection_config={"memory_limit": current().memory_limit},
        ),
        "event_logs": EventLogResource(root=dg.EnvVar(ENV["events_dir"])),
        "published": PublishedWarehouseResource(
            path=dg.EnvVar(ENV["published"]), report_path=dg.EnvVar(ENV["report"])
        ),
        "providers": ProviderApiResource(
            openai_base_url=dg.EnvVar(ENV["openai_base_url"]),
            anthropic_base_url=dg.EnvVar(ENV["anthropic_base_url"]),
            max_attempts=dg.EnvVar.int(ENV["provider_max_attempts"]),
        ),
        "config_files": ConfigFilesResource(
            custom_prices=dg.EnvVar(ENV["custom_prices"]),
            rate_card=dg.EnvVar(ENV["rate_card"]),
            budgets=dg.EnvVar(ENV["budgets"]),
            prices_url=dg.EnvVar(ENV["prices_url"]),
        ),
        "engine": EngineResource(
            engine=dg.EnvVar(ENV["engine"]),
            lake=dg.EnvVar(ENV["lake"]),
            spark_master=dg.EnvVar(ENV["spark_master"]),
            spark_ingest_min_mb=dg.EnvVar.int(ENV["spark_ingest_min_mb"]),
        ),
        "retention": RetentionResource(retention_days=dg.EnvVar.int(ENV["retention_days"])),
        "dbt": DbtResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=DBT_EXECUTABLE,
            # no manifest.json, semantic_manifest.json or run_results.json: the run's target folder
            # is removed once dbt's events are streamed, and nothing reads them (0.3 s a run; the
            # saved parse is written all the same)
            global_config_flags=["--no-write-json"],
        ),
    }
