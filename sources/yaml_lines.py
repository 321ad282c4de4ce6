"""Small YAML configuration files whose errors name the file, the entry and its line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml


class ConfigFileError(ValueError):
    """A configuration file is invalid; the message names the file, entry and line."""


def load_with_lines(path: Path) -> tuple[Any, dict[int, int]]:
    """The document, and for each list item id() of its mapping, the 1-based line it starts on."""
    text = Path(path).read_text(encoding="utf-8")
    lines: dict[int, int] = {}

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
        mapping = loader.construct_mapping(node, deep=True)
        lines[id(mapping)] = node.start_mark.line + 1
        return mapping

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    # Dates stay strings so a bad one gets our error (naming the entry), not a YAML crash.
    Loader.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda ld, node: ld.construct_scalar(node)
    )
    try:
        return yaml.load(text, Loader=Loader), lines
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not valid YAML: {exc}") from exc


# The largest amount a configuration file may state: money is DECIMAL(18,9) in the warehouse
# (marts.md), so nothing priced or limited can reach a billion USD without overflowing it.
MAX_AMOUNT = Decimal("999999999")
# A whole-number limit is a BIGINT column.
MAX_WHOLE = 2**63 - 1


def decimal_field(value: Any, where: str, name: str, max_places: int | None = None) -> Decimal:
    """A non-negative decimal of at most MAX_AMOUNT (and at most `max_places` decimals, where the
    column would otherwise round it silently)."""
    if isinstance(value, bool) or value is None:
        raise ConfigFileError(f"{where}: {name} must be a non-negative decimal, got {value!r}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ConfigFileError(
            f"{where}: {name} must be a non-negative decimal, got {value!r}"
        ) from None
    if not out.is_finite() or out < 0:
        raise ConfigFileError(f"{where}: {name} must be a non-negative decimal, got {value!r}")
    if out > MAX_AMOUNT:
        raise ConfigFileError(
            f"{where}: {name} must be at most {MAX_AMOUNT:,} (the warehouse's money type), "
            f"got {value!r}"
        )
    exponent = out.normalize().as_tuple().exponent
    if max_places is not None and isinstance(exponent, int) and -exponent > max_places:
        raise ConfigFileError(
            f"{where}: {name} has more than {max_places} decimal places, got {value!r}"
        )
    return out


def whole_field(value: Any, where: str, name: str) -> int:
    """A positive whole number that fits a BIGINT column."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_WHOLE:
        raise ConfigFileError(
            f"{where}: {name} must be a whole number from 1 to {MAX_WHOLE:,}, got {value!r}"
        )
    return value


def date_field(value: Any, where: str, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigFileError(
            f"{where}: {name} must be a date like 2026-01-31, got {value!r}"
        ) from None


def entries(path: Path, doc: Any, key: str, lines: dict[int, int]) -> Iterator[tuple[str, dict]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), str | int):
        raise ConfigFileError(f"{path}: needs a top-level `version` and a `{key}` list")
    items = doc.get(key)
    if not isinstance(items, list):
        raise ConfigFileError(f"{path}: `{key}` must be a list")
    for i, item in enumerate(items):
        where = f"{path}: {key}[{i}] (line {lines.get(id(item), '?')})"
        if not isinstance(item, dict):
            raise ConfigFileError(f"{where}: each entry must be a mapping")
        yield where, item
