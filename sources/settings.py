"""The one configuration object: every setting, typed, read from the environment here only.

`Settings.from_env()` reads the variables (interface.md; `ENV` names each field's variable) and
states every default once. `apply()` reads `.env` (never overriding variables already set), fills
in the defaults as absolute paths and exports the non-secret ones, so the Dagster instance
(`DAGSTER_HOME`), Dagster's run processes and the dbt subprocess see the same values.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, unquote, urlsplit

from dotenv import load_dotenv
from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationError

from sources.events.files import ReadLimits
from sources.http_client import RetryPolicy
from sources.setting_values import (
    DEFAULT_START_DATE,
    SettingError,
    a_date,
    as_secret,
    host_port,
    key_list,
    metastore_uri,
    one_of,
    pg_url,
    spark_master_url,
    time_of_day,
    whole,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
INSTANCE_TEMPLATE = REPO_ROOT / "orchestration" / "dagster.yaml"


class Settings(BaseModel):
    """Every setting of Costwatch, typed, with its default stated here once.

    `Settings.from_env()` is the only code that reads the environment (and `.env`, through
    `apply()`); the field's variable is `ENV[field]`. Secrets are `SecretStr`: they print as
    `**********` in logs, reprs and errors.
    """

    model_config = ConfigDict(frozen=True)

    # where things live (interface.md); relative paths resolve against the working directory
    home: Path
    events_dir: Path
    warehouse: Path
    published: Path
    dagster_home: Path
    report: Path
    custom_prices: Path
    rate_card: Path
    budgets: Path
    # the event-log reader (README, Configuration)
    start_date: Annotated[dt.date, BeforeValidator(a_date("COSTWATCH_START_DATE"))] = (
        dt.date.fromisoformat(DEFAULT_START_DATE)
    )
    clock_skew_minutes: Annotated[
        int, BeforeValidator(whole("COSTWATCH_CLOCK_SKEW_MINUTES", minimum=0))
    ] = 60
    max_file_mb: Annotated[int, BeforeValidator(whole("COSTWATCH_MAX_FILE_MB"))] = 256
    max_line_bytes: Annotated[int, BeforeValidator(whole("COSTWATCH_MAX_LINE_BYTES"))] = 2**20
    # runs
    memory_limit: str = "3GB"  # DuckDB's cap for runs (connections and dbt); past it, it spills
    min_free_mb: Annotated[int, BeforeValidator(whole("COSTWATCH_MIN_FREE_MB", 0))] = 512
    retention_days: Annotated[int, BeforeValidator(whole("COSTWATCH_RETENTION_DAYS"))] = 365
    unpriced_models: Annotated[
        str, BeforeValidator(one_of("COSTWATCH_UNPRICED_MODELS", "warn", "fail"))
    ] = "warn"
    prices_url: str = ""  # empty: genai-prices' bundled data
    # providers
    openai_base_url: str = "https://api.openai.com/v1"
    anthropic_base_url: str = "https://api.anthropic.com/v1"
    openai_admin_key: Annotated[SecretStr | None, BeforeValidator(as_secret)] = None
    anthropic_admin_key: Annotated[SecretStr | None, BeforeValidator(as_secret)] = None
    provider_max_attempts: Annotated[
        int, BeforeValidator(whole("COSTWATCH_PROVIDER_MAX_ATTEMPTS"))
    ] = RetryPolicy.max_attempts
    openai_csv_dir: Path | None = None
    # publishing
    pii_key: Annotated[SecretStr | None, BeforeValidator(as_secret)] = None
    published_metadata_keys: Annotated[tuple[str, ...], BeforeValidator(key_list)] = ()
    # budget alerts
    alert_webhook_url: Annotated[SecretStr | None, BeforeValidator(as_secret)] = None
    ui_url: str = "http://127.0.0.1:3000"
    alert_send_past_periods: Annotated[bool, BeforeValidator(lambda v: str(v).strip() == "1")] = (
        False
    )
    # running it for a team (docs/operating.md): instance storage, the code server, the schedule
    dagster_pg_url: Annotated[SecretStr | None, BeforeValidator(pg_url)] = None
    code_server: Annotated[str, BeforeValidator(host_port("COSTWATCH_CODE_SERVER"))] = ""
    schedule_time: Annotated[str, BeforeValidator(time_of_day("COSTWATCH_SCHEDULE_TIME"))] = "00:30"
    # the pre-call budget guard (docs/guard.md)
    guard_ledger: Path
    guard_token: Annotated[SecretStr | None, BeforeValidator(as_secret)] = None
    guard_unverified: Annotated[
        str, BeforeValidator(one_of("COSTWATCH_GUARD_UNVERIFIED", "block", "allow"))
    ] = "block"
    guard_reservation_minutes: Annotated[
        int, BeforeValidator(whole("COSTWATCH_GUARD_RESERVATION_MINUTES"))
    ] = 15
    guard_hold_hours: Annotated[int, BeforeValidator(whole("COSTWATCH_GUARD_HOLD_HOURS"))] = 48
    # the OpenTelemetry trace receiver (docs/opentelemetry.md)
    collect_token: Annotated[SecretStr | None, BeforeValidator(as_secret)] = None
    # the engine the dbt models run on (docs/spark.md)
    engine: Annotated[str, BeforeValidator(one_of("COSTWATCH_ENGINE", "duckdb", "spark"))] = (
        "duckdb"
    )
    lake: Path
    spark_master: Annotated[str, BeforeValidator(spark_master_url)] = "local[*]"
    spark_metastore_uri: Annotated[str, BeforeValidator(metastore_uri)] = ""
    # below this many MB of event files to read, a Spark engine's run reads them in its own
    # process: a Spark application costs ~12 s before it parses a byte (docs/spark.md)
    spark_ingest_min_mb: Annotated[
        int, BeforeValidator(whole("COSTWATCH_SPARK_INGEST_MIN_MB", minimum=0))
    ] = 512

    @property
    def alerts_dir(self) -> Path:
        return self.home / "alerts"

    @property
    def scratch_dir(self) -> Path:
        """A run's temporary files (the ingestion's copies of event lines): in the home, where a
        killed run's leftovers are found and removed by the next run, not in the system's /tmp."""
        return self.home / "scratch"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of an environment mapping (defaults to os.environ); no side effects.
        A value that cannot be used raises SettingError naming its variable."""
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {
            field: env[var] for field, var in ENV.items() if env.get(var, "").strip()
        }
        home = _path(values.pop("home", None), Path("data"))
        paths = {
            "home": home,
            "events_dir": home / "events",
            "warehouse": home / "warehouse.duckdb",
            "published": home / "analytics.duckdb",
            "dagster_home": home / "dagster",
            "report": home / "reports" / "costwatch-report.html",
            "custom_prices": REPO_ROOT / "custom_prices.yaml",
            "rate_card": REPO_ROOT / "rate_card.yaml",
            "budgets": REPO_ROOT / "budgets.yaml",
            "guard_ledger": home / "guard" / "ledger.sqlite3",
            "lake": home / "lake",
        }
        for field, default in paths.items():
            values[field] = _path(values.get(field), default)
        if "://" in str(values.get("lake", "")):
            raise SettingError(
                f"COSTWATCH_LAKE={values['lake']!r}: the lake must be a folder every Spark process "
                "sees (a local or shared mount); object-storage URIs are not supported yet "
                "(docs/spark.md)"
            )
        if "openai_csv_dir" in values:
            values["openai_csv_dir"] = _path(values["openai_csv_dir"], Path())
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = [str(e.get("ctx", {}).get("error") or e["msg"]) for e in exc.errors()]
            raise SettingError("; ".join(problems)) from None

    @property
    def read_limits(self) -> ReadLimits:
        """What the event-log reader accepts: the partitions' first day, the clock-skew
        allowance, and the caps on a file's decompressed size and a line's length."""
        return ReadLimits(
            first_day=self.start_date,
            max_clock_skew=dt.timedelta(minutes=self.clock_skew_minutes),
            max_file_bytes=self.max_file_mb * 2**20,
            max_line_bytes=self.max_line_bytes,
        )


# Each setting's environment variable, stated once (dbt reads COSTWATCH_WAREHOUSE,
# COSTWATCH_MEMORY_LIMIT and the run window itself: see DBT_VARIABLES).
ENV = {
    "home": "COSTWATCH_HOME",
    "events_dir": "COSTWATCH_EVENTS_DIR",
    "warehouse": "COSTWATCH_WAREHOUSE",
    "published": "COSTWATCH_PUBLISHED",
    "dagster_home": "DAGSTER_HOME",
    "report": "COSTWATCH_REPORT",
    "custom_prices": "COSTWATCH_CUSTOM_PRICES",
    "rate_card": "COSTWATCH_RATE_CARD",
    "budgets": "COSTWATCH_BUDGETS",
    "start_date": "COSTWATCH_START_DATE",
    "clock_skew_minutes": "COSTWATCH_CLOCK_SKEW_MINUTES",
    "max_file_mb": "COSTWATCH_MAX_FILE_MB",
    "max_line_bytes": "COSTWATCH_MAX_LINE_BYTES",
    "memory_limit": "COSTWATCH_MEMORY_LIMIT",
    "min_free_mb": "COSTWATCH_MIN_FREE_MB",
    "retention_days": "COSTWATCH_RETENTION_DAYS",
    "unpriced_models": "COSTWATCH_UNPRICED_MODELS",
    "prices_url": "COSTWATCH_PRICES_URL",
    "openai_base_url": "OPENAI_BASE_URL",
    "anthropic_base_url": "ANTHROPIC_BASE_URL",
    "openai_admin_key": "OPENAI_ADMIN_KEY",
    "anthropic_admin_key": "ANTHROPIC_ADMIN_KEY",
    "provider_max_attempts": "COSTWATCH_PROVIDER_MAX_ATTEMPTS",
    "openai_csv_dir": "COSTWATCH_OPENAI_CSV_DIR",
    "pii_key": "COSTWATCH_PII_KEY",
    "published_metadata_keys": "COSTWATCH_PUBLISHED_METADATA_KEYS",
    "alert_webhook_url": "COSTWATCH_ALERT_WEBHOOK_URL",
    "ui_url": "COSTWATCH_UI_URL",
    "alert_send_past_periods": "COSTWATCH_ALERT_SEND_PAST_PERIODS",
    "dagster_pg_url": "COSTWATCH_DAGSTER_PG_URL",
    "code_server": "COSTWATCH_CODE_SERVER",
    "schedule_time": "COSTWATCH_SCHEDULE_TIME",
    "guard_ledger": "COSTWATCH_GUARD_LEDGER",
    "guard_token": "COSTWATCH_GUARD_TOKEN",
    "guard_unverified": "COSTWATCH_GUARD_UNVERIFIED",
    "guard_reservation_minutes": "COSTWATCH_GUARD_RESERVATION_MINUTES",
    "guard_hold_hours": "COSTWATCH_GUARD_HOLD_HOURS",
    "collect_token": "COSTWATCH_COLLECT_TOKEN",
    "engine": "COSTWATCH_ENGINE",
    "lake": "COSTWATCH_LAKE",
    "spark_master": "COSTWATCH_SPARK_MASTER",
    "spark_metastore_uri": "COSTWATCH_SPARK_METASTORE_URI",
    "spark_ingest_min_mb": "COSTWATCH_SPARK_INGEST_MIN_MB",
}
# What the dbt project reads with env_var() itself (profiles.yml, macros/window.sql)
DBT_VARIABLES = ("COSTWATCH_WAREHOUSE", "COSTWATCH_MEMORY_LIMIT", "COSTWATCH_WINDOW_START",
                 "COSTWATCH_WINDOW_END", "COSTWATCH_ENGINE", "COSTWATCH_SPARK_MASTER",
                 "COSTWATCH_LAKE", "COSTWATCH_SPARK_METASTORE_URI")  # fmt: skip
# exported by apply() for the processes it starts (Dagster's, dbt's); secrets never are
EXPORTED = (
    "home", "events_dir", "warehouse", "published", "dagster_home", "report", "custom_prices",
    "rate_card", "budgets", "memory_limit", "retention_days", "provider_max_attempts",
    "prices_url", "openai_base_url", "anthropic_base_url", "engine", "lake", "spark_master",
    "spark_metastore_uri", "spark_ingest_min_mb",
)  # fmt: skip


def _path(value: object, default: Path) -> Path:
    return Path(str(value)).expanduser().resolve() if value else default.resolve()


def current() -> Settings:
    """The settings of this process's environment, read now (tests change it between calls)."""
    return Settings.from_env()


def resolve(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from an environment mapping (defaults to os.environ); no side effects."""
    return Settings.from_env(env)


def apply() -> Settings:
    """Resolve settings, create the folders and export the variables. Idempotent."""
    load_dotenv(Path.cwd() / ".env", override=False)
    s = resolve()
    # The warehouse's folder is checked (and created) by sources.warehouse.preflight, which says
    # what to fix when it cannot be written.
    for folder in (s.home, s.dagster_home):
        folder.mkdir(parents=True, exist_ok=True)
    os.environ.update({ENV[field]: str(getattr(s, field)) for field in EXPORTED})
    if s.dagster_pg_url is not None:
        os.environ[PG_PASSWORD_VARIABLE] = _pg_password(s)
    instance_yaml = s.dagster_home / "dagster.yaml"
    wanted = instance_config(s)
    if not instance_yaml.exists() or instance_yaml.read_text() != wanted:
        instance_yaml.write_text(wanted)
    return s


PG_PASSWORD_VARIABLE = "COSTWATCH_DAGSTER_PG_PASSWORD"  # set by apply(), read by Dagster
# The embedded instance's event log: Dagster's SQLite files, written without a new database engine
# per statement (orchestration/event_log.py). Not with `storage: postgres`, which it would override.
EMBEDDED_EVENT_LOG = """# written by costwatch: Dagster's SQLite event log, keeping its engines
event_log_storage:
  module: orchestration.event_log
  class: KeptEnginesSqliteEventLogStorage
  config:
    instance_dir:
      env: DAGSTER_HOME
"""


def instance_config(s: Settings) -> str:
    """The Dagster instance config: the shipped one, with run, event-log and schedule storage on
    PostgreSQL when COSTWATCH_DAGSTER_PG_URL is set, else SQLite with EMBEDDED_EVENT_LOG. The
    file holds the URL's host, port, database, user and query parameters, never its password:
    Dagster reads that from PG_PASSWORD_VARIABLE, which apply() sets from the URL (else from
    PGPASSWORD)."""
    text = INSTANCE_TEMPLATE.read_text()
    if s.dagster_pg_url is None:
        return text + EMBEDDED_EVENT_LOG
    url = urlsplit(s.dagster_pg_url.get_secret_value())
    params = "".join(f"\n        {k}: {json.dumps(v)}" for k, v in parse_qsl(url.query))
    return text + (
        "# COSTWATCH_DAGSTER_PG_URL is set: every storage is on PostgreSQL (written by costwatch;\n"
        f"# the password is read from {PG_PASSWORD_VARIABLE})\n"
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      scheme: postgresql+psycopg2\n"
        f"      username: {json.dumps(unquote(url.username or ''))}\n"
        f"      password:\n        env: {PG_PASSWORD_VARIABLE}\n"
        f"      hostname: {json.dumps(url.hostname or '127.0.0.1')}\n"
        f"      port: {url.port or 5432}\n"
        f"      db_name: {json.dumps(unquote(url.path.lstrip('/')) or 'postgres')}\n"
        + (f"      params:{params}\n" if params else "")
    )


def _pg_password(s: Settings) -> str:
    url = urlsplit(s.dagster_pg_url.get_secret_value()) if s.dagster_pg_url else None
    if url is not None and url.password is not None:
        return unquote(url.password)
    return os.environ.get("PGPASSWORD", "")


def start_date(env: Mapping[str, str] | None = None) -> dt.date:
    """COSTWATCH_START_DATE: the first day partition."""
    return Settings.from_env(env).start_date


def read_limits(env: Mapping[str, str] | None = None) -> ReadLimits:
    return Settings.from_env(env).read_limits


def config_files(env: Mapping[str, str] | None = None) -> tuple[Path, Path, Path]:
    """(custom prices, rate card, budgets) files: from the environment, else the repo's."""
    s = Settings.from_env(env)
    return (s.custom_prices, s.rate_card, s.budgets)


@contextmanager
def temporary_env(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables inside the block; afterwards the whole
    environment is as it was before, including variables set inside the block (e.g. by apply())."""
    saved = dict(os.environ)
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def tools_on_path() -> contextlib.AbstractContextManager[None]:
    """PATH with this environment's programs (dbt, dagster) first, inside the block: libraries
    that run `dbt` by name find the one installed beside this Python."""
    bin_dir = str(Path(sys.executable).parent)
    return temporary_env({"PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])})
