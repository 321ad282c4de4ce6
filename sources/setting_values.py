"""How the text of each setting's variable becomes a value (sources/settings.py declares the
settings; these say what fits and, when a value does not, name the variable and what would)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from pydantic import SecretStr

DEFAULT_START_DATE = "2025-01-01"


class SettingError(ValueError):
    """A variable holds a value that cannot be used; the message names it and what fits."""


def whole(name: str, minimum: int = 1):
    def check(value: object) -> int:
        text = str(value).strip()
        try:
            number = int(text)
        except ValueError:
            number = minimum - 1
        if number < minimum:
            raise SettingError(f"{name}={text!r}: expected a whole number >= {minimum}")
        return number

    return check


def a_date(name: str):
    def check(value: object) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise SettingError(
                f"{name}={value!r}: expected a date like {DEFAULT_START_DATE}"
            ) from None

    return check


def one_of(name: str, *allowed: str):
    def check(value: object) -> str:
        text = str(value).strip().lower()
        if text not in allowed:
            raise SettingError(f"{name} must be {' or '.join(allowed)}, not {text!r}")
        return text

    return check


def pg_url(value: object) -> SecretStr | None:
    secret = as_secret(value)
    if secret is not None and urlsplit(secret.get_secret_value()).scheme not in (
        "postgresql",
        "postgres",
    ):
        # the value may hold a password: never in the message
        raise SettingError("COSTWATCH_DAGSTER_PG_URL: expected a postgresql:// URL")
    return secret


def host_port(name: str):
    def check(value: object) -> str:
        text = str(value).strip()
        host, _, port = text.rpartition(":")
        if text and not (host and port.isdigit() and 0 < int(port) < 65536):
            raise SettingError(f"{name}={text!r}: expected host:port, e.g. 127.0.0.1:4266")
        return text

    return check


def time_of_day(name: str):
    def check(value: object) -> str:
        text = str(value).strip()
        hour, _, minute = text.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise SettingError(f"{name}={text!r}: expected a UTC time of day HH:MM, e.g. 00:30")
        return f"{int(hour):02d}:{int(minute):02d}"

    return check


def spark_master_url(value: object) -> str:
    text = str(value).strip()
    if not text.startswith(("local", "spark://", "sc://", "yarn", "k8s://")):
        raise SettingError(
            f"COSTWATCH_SPARK_MASTER={text!r}: expected local[*], local[N], spark://host:port, "
            "sc://host:port, yarn or k8s://..."
        )
    return text


def metastore_uri(value: object) -> str:
    text = str(value).strip()
    if text and not all(u.strip().startswith("thrift://") for u in text.split(",")):
        raise SettingError(
            f"COSTWATCH_SPARK_METASTORE_URI={text!r}: expected thrift://host:port (a Hive "
            "metastore), or empty for the embedded one under COSTWATCH_LAKE"
        )
    return text


def key_list(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    return tuple(sorted({k.strip() for k in items if k.strip()}))


def as_secret(value: object) -> SecretStr | None:
    text = str(value or "").strip()
    return SecretStr(text) if text else None
