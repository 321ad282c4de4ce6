"""Where things live, from the environment (interface.md), resolved once.

`apply()` reads `.env` (never overriding variables already set), fills in the defaults as absolute
paths and exports them, so Dagster resources (`dg.EnvVar`), the dbt subprocess and the Dagster
instance (`DAGSTER_HOME`) all see the same folders.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from sources.events.files import ReadLimits

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
INSTANCE_TEMPLATE = REPO_ROOT / "orchestration" / "dagster.yaml"


@dataclass(frozen=True)
class Settings:
    home: Path
    events_dir: Path
    warehouse: Path
    published: Path
    dagster_home: Path
    report: Path
    alerts_dir: Path


def _path(env: dict[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    return Path(value).expanduser().resolve() if value else default


def resolve(env: dict[str, str] | None = None) -> Settings:
    """Settings from an environment mapping (defaults to os.environ); no side effects."""
    env = dict(os.environ if env is None else env)
    home = _path(env, "COSTWATCH_HOME", Path("data").resolve())
    return Settings(
        home=home,
        events_dir=_path(env, "COSTWATCH_EVENTS_DIR", home / "events"),
        warehouse=_path(env, "COSTWATCH_WAREHOUSE", home / "warehouse.duckdb"),
        published=_path(env, "COSTWATCH_PUBLISHED", home / "analytics.duckdb"),
        dagster_home=_path(env, "DAGSTER_HOME", home / "dagster"),
        report=_path(env, "COSTWATCH_REPORT", home / "reports" / "costwatch-report.html"),
        alerts_dir=home / "alerts",
    )


def apply() -> Settings:
    """Resolve settings, create the folders and export the variables. Idempotent."""
    load_dotenv(Path.cwd() / ".env", override=False)
    s = resolve()
    # The warehouse's folder is checked (and created) by sources.warehouse.preflight, which says
    # what to fix when it cannot be written.
    for folder in (s.home, s.dagster_home):
        folder.mkdir(parents=True, exist_ok=True)
    custom_prices, rate_card, budgets = config_files()
    os.environ.setdefault("OPENAI_BASE_URL", "https://api.openai.com/v1")
    os.environ.setdefault("ANTHROPIC_BASE_URL", "https://api.anthropic.com/v1")
    os.environ.setdefault("COSTWATCH_PRICES_URL", "")  # empty: genai-prices' bundled data
    os.environ.setdefault("COSTWATCH_RETENTION_DAYS", "365")
    os.environ.setdefault("COSTWATCH_PROVIDER_MAX_ATTEMPTS", "6")
    # DuckDB's memory cap for runs (warehouse connections and dbt); past it DuckDB spills to disk
    os.environ.setdefault("COSTWATCH_MEMORY_LIMIT", "3GB")
    os.environ.update(
        COSTWATCH_CUSTOM_PRICES=str(custom_prices),
        COSTWATCH_RATE_CARD=str(rate_card),
        COSTWATCH_BUDGETS=str(budgets),
        COSTWATCH_HOME=str(s.home),
        COSTWATCH_EVENTS_DIR=str(s.events_dir),
        COSTWATCH_WAREHOUSE=str(s.warehouse),
        COSTWATCH_PUBLISHED=str(s.published),
        COSTWATCH_REPORT=str(s.report),
        DAGSTER_HOME=str(s.dagster_home),
    )
    instance_yaml = s.dagster_home / "dagster.yaml"
    if not instance_yaml.exists() or instance_yaml.read_bytes() != INSTANCE_TEMPLATE.read_bytes():
        shutil.copyfile(INSTANCE_TEMPLATE, instance_yaml)
    return s


class SettingError(ValueError):
    """A variable holds a value that cannot be used; the message names it and what fits."""


def _int_var(env: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise SettingError(f"{name}={text!r}: expected a whole number >= {minimum}")
    return value


DEFAULT_START_DATE = "2025-01-01"


def start_date(env: dict[str, str] | None = None) -> dt.date:
    """COSTWATCH_START_DATE: the first day partition."""
    env = dict(os.environ if env is None else env)
    text = env.get("COSTWATCH_START_DATE", "").strip() or DEFAULT_START_DATE
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SettingError(
            f"COSTWATCH_START_DATE={text!r}: expected a date like {DEFAULT_START_DATE}"
        ) from None


def read_limits(env: dict[str, str] | None = None) -> ReadLimits:
    """What the event-log reader accepts (README, Configuration): the partitions' first day, the
    clock-skew allowance, and the caps on a file's decompressed size and a line's length."""
    env = dict(os.environ if env is None else env)
    defaults = ReadLimits()
    return ReadLimits(
        first_day=start_date(env),
        max_clock_skew=dt.timedelta(
            minutes=_int_var(
                env,
                "COSTWATCH_CLOCK_SKEW_MINUTES",
                int(defaults.max_clock_skew.total_seconds() // 60),
                minimum=0,
            )
        ),
        max_file_bytes=_int_var(env, "COSTWATCH_MAX_FILE_MB", defaults.max_file_bytes // 2**20)
        * 2**20,
        max_line_bytes=_int_var(env, "COSTWATCH_MAX_LINE_BYTES", defaults.max_line_bytes),
    )


def published_metadata_keys(env: dict[str, str] | None = None) -> tuple[str, ...]:
    """COSTWATCH_PUBLISHED_METADATA_KEYS: with COSTWATCH_PII_KEY set, the only top-level keys of
    `metadata` the analysts' copy keeps (comma-separated; default none)."""
    env = dict(os.environ if env is None else env)
    text = env.get("COSTWATCH_PUBLISHED_METADATA_KEYS", "")
    return tuple(sorted({k.strip() for k in text.split(",") if k.strip()}))


def min_free_mb() -> int:
    """COSTWATCH_MIN_FREE_MB: disk space a run needs before it starts (default 512)."""
    return int(os.environ.get("COSTWATCH_MIN_FREE_MB", "512"))


def config_files(env: dict[str, str] | None = None) -> tuple[Path, Path, Path]:
    """(custom prices, rate card, budgets) files: from the environment, else the repo's."""
    env = dict(os.environ if env is None else env)
    return (
        _path(env, "COSTWATCH_CUSTOM_PRICES", REPO_ROOT / "custom_prices.yaml"),
        _path(env, "COSTWATCH_RATE_CARD", REPO_ROOT / "rate_card.yaml"),
        _path(env, "COSTWATCH_BUDGETS", REPO_ROOT / "budgets.yaml"),
    )


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
