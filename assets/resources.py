"""Dagster resources: configured from the environment only (dg.EnvVar), never from code."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib import metadata
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource
from packaging import version

from sources.http_client import RetryPolicy
from sources.settings import DBT_PROJECT_DIR, min_free_mb
from sources.warehouse import preflight


class DbtResource(DbtCliResource):
    """dagster-dbt's resource without its two start-up costs that this project never uses (about
    3 s of every run, measured in BENCHMARKS.md's profile):

    - `dbt --version` in a subprocess to learn the version: the executable is the dbt-core of this
      environment (`dbt_executable` below), so its package metadata says the same thing;
    - a dbt adapter built in the Dagster process: dagster-dbt only needs it to fetch row counts or
      column metadata, which these assets do not ask for.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse; every connection first checks the folder is writable and the disk
    has room, so a run fails with what to fix instead of an I/O or lock error."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        preflight(Path(self.database), min_free_mb())
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

    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_base_url: str = "https://api.anthropic.com/v1"
    max_attempts: int = 6
    max_total_seconds: float = 120.0
    timeout_seconds: float = 30.0

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
    prices_url: str = ""


class RetentionResource(dg.ConfigurableResource):
    """How many days the per-interaction marts keep before rows move to the archive."""

    retention_days: int = 365


class PublishedWarehouseResource(dg.ConfigurableResource):
    """The read-only copy analysts open; replaced atomically after each successful build."""

    path: str
    report_path: str


def build_resources() -> dict[str, object]:
    return {
        "duckdb": WarehouseResource(
            database=dg.EnvVar("COSTWATCH_WAREHOUSE"),
            # not a secret; EnvVar is not resolved inside connection_config
            connection_config={"memory_limit": os.environ.get("COSTWATCH_MEMORY_LIMIT", "3GB")},
        ),
        "event_logs": EventLogResource(root=dg.EnvVar("COSTWATCH_EVENTS_DIR")),
        "published": PublishedWarehouseResource(
            path=dg.EnvVar("COSTWATCH_PUBLISHED"), report_path=dg.EnvVar("COSTWATCH_REPORT")
        ),
        "providers": ProviderApiResource(
            openai_base_url=dg.EnvVar("OPENAI_BASE_URL"),
            anthropic_base_url=dg.EnvVar("ANTHROPIC_BASE_URL"),
            max_attempts=dg.EnvVar.int("COSTWATCH_PROVIDER_MAX_ATTEMPTS"),
        ),
        "config_files": ConfigFilesResource(
            custom_prices=dg.EnvVar("COSTWATCH_CUSTOM_PRICES"),
            rate_card=dg.EnvVar("COSTWATCH_RATE_CARD"),
            budgets=dg.EnvVar("COSTWATCH_BUDGETS"),
            prices_url=dg.EnvVar("COSTWATCH_PRICES_URL"),
        ),
        "retention": RetentionResource(retention_days=dg.EnvVar.int("COSTWATCH_RETENTION_DAYS")),
        "dbt": DbtResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=str(Path(sys.executable).parent / "dbt"),
        ),
    }
