"""One configuration object (issue 21): every setting typed, defaulted once, read from the
environment in sources/settings.py only; secrets never printed."""

import re
from pathlib import Path

import pytest
import yaml

from sources import settings
from sources.settings import ENV, SettingError, Settings

REPO = Path(__file__).resolve().parents[2]


def test_every_setting_has_one_variable():
    assert set(ENV) == set(Settings.model_fields)
    assert len(set(ENV.values())) == len(ENV)


def test_no_module_reads_the_environment_but_settings():
    reads = re.compile(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[|EnvVar(\.int)?\(\s*['\"]")
    writes = re.compile(r"^\s*os\.environ\[.*\]\s*=\s")
    offenders = []
    for folder in ("sources", "assets", "orchestration"):
        for path in (REPO / folder).rglob("*.py"):
            if path == REPO / "sources" / "settings.py":
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if reads.search(line) and not writes.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert offenders == []


def test_defaults_and_overrides(tmp_path):
    s = Settings.from_env({"COSTWATCH_HOME": str(tmp_path)})
    assert s.warehouse == tmp_path.resolve() / "warehouse.duckdb"
    assert s.published == tmp_path.resolve() / "analytics.duckdb"
    assert s.alerts_dir == tmp_path.resolve() / "alerts"
    assert (s.retention_days, s.provider_max_attempts, s.memory_limit) == (365, 6, "3GB")
    assert s.unpriced_models == "warn" and s.pii_key is None
    t = Settings.from_env(
        {"COSTWATCH_HOME": str(tmp_path), "COSTWATCH_UNPRICED_MODELS": " FAIL ",
         "COSTWATCH_PUBLISHED_METADATA_KEYS": "plan, route,plan",
         "COSTWATCH_CLOCK_SKEW_MINUTES": "0"}
    )  # fmt: skip
    assert t.unpriced_models == "fail"
    assert t.published_metadata_keys == ("plan", "route")
    assert t.read_limits.max_clock_skew.total_seconds() == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("COSTWATCH_START_DATE", "yesterday", "expected a date like 2025-01-01"),
     ("COSTWATCH_RETENTION_DAYS", "-3", "expected a whole number >= 1"),
     ("COSTWATCH_MIN_FREE_MB", "lots", "expected a whole number >= 0"),
     ("COSTWATCH_UNPRICED_MODELS", "sometimes", "must be warn or fail")],
)  # fmt: skip
def test_a_bad_value_names_its_variable(variable, value, message):
    with pytest.raises(SettingError, match=re.escape(message)) as err:
        Settings.from_env({variable: value})
    assert variable in str(err.value)


def test_secrets_never_print():
    secrets = {
        "COSTWATCH_PII_KEY": "pii-sekrit",
        "OPENAI_ADMIN_KEY": "sk-admin-sekrit",
        "ANTHROPIC_ADMIN_KEY": "sk-ant-sekrit",
        "COSTWATCH_ALERT_WEBHOOK_URL": "https://hooks.example/T0/sekrit",
    }
    s = Settings.from_env(secrets)
    assert "sekrit" not in repr(s) and "sekrit" not in str(s)
    assert s.pii_key is not None and s.pii_key.get_secret_value() == "pii-sekrit"
    with pytest.raises(SettingError) as err:
        Settings.from_env({**secrets, "COSTWATCH_START_DATE": "never"})
    assert "sekrit" not in str(err.value)
    # apply() exports what other processes need, never a secret
    assert not {ENV[f] for f in settings.EXPORTED} & set(secrets)


def test_dbt_defaults_agree_with_the_settings():
    """dbt reads a few variables itself (settings.DBT_VARIABLES); where its profile has a default
    (for a hand-run dbt), it is the settings' default."""
    profile = (REPO / "dbt_project" / "profiles.yml").read_text()
    named = set(re.findall(r"env_var\(['\"](\w+)['\"]", profile))
    for macro in (REPO / "dbt_project" / "macros").glob("*.sql"):
        named |= set(re.findall(r"env_var\(['\"](\w+)['\"]", macro.read_text()))
    assert named == set(settings.DBT_VARIABLES)
    memory = re.search(r"env_var\('COSTWATCH_MEMORY_LIMIT', '([^']+)'\)", profile)
    assert memory and memory.group(1) == Settings.model_fields["memory_limit"].default
    assert yaml.safe_load(profile)
