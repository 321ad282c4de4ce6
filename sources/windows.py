"""The day windows that dbt models rebuild, as declared once in each model's YAML.

A window-rebuilt model states `config.meta.window: {column, days_before, days_after}` (and
`whole_months` for month-aligned budgets); dbt writes its delete and filters from that
(dbt_project/macros/window.sql). Python reads the same declarations from the dbt manifest:
the publish widens a run's changed days by the widest window, the providers' re-pull reaches back
as far as the provider marts rebuild. No offset is stated anywhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Window:
    relation: str  # "<schema>.<model>"
    column: str
    days_before: int
    days_after: int
    whole_months: bool = False


def read_windows(manifest: Path | dict) -> dict[str, Window]:
    """Every model's declared window, by "<schema>.<model>"."""
    data = json.loads(manifest.read_text()) if isinstance(manifest, Path) else manifest
    out: dict[str, Window] = {}
    for node in data["nodes"].values():
        spec = (node.get("config", {}).get("meta") or {}).get("window")
        if node.get("resource_type") != "model" or not spec:
            continue
        relation = f"{node['schema']}.{node['name']}"
        out[relation] = Window(
            relation,
            spec["column"],
            int(spec.get("days_before", 0)),
            int(spec.get("days_after", 0)),
            bool(spec.get("whole_months", False)),
        )
    return out


def widest(windows: dict[str, Window], schema: str = "marts") -> tuple[int, int]:
    """Days before and after a run's window that the models of `schema` may rewrite."""
    chosen = [w for w in windows.values() if w.relation.startswith(f"{schema}.")]
    return (max((w.days_before for w in chosen), default=0),
            max((w.days_after for w in chosen), default=0))  # fmt: skip
