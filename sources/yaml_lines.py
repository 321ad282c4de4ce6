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


def decimal_field(value: Any, where: str, name: str) -> Decimal:
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
    return out


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
