"""BENCHMARKS.json: the numbers behind BENCHMARKS.md, one section per benchmark script."""

from __future__ import annotations

import json
from pathlib import Path


def save_section(out: Path, key: str, value: dict) -> None:
    """Write `value` as `results.<key>` of the file at `out`, keeping every other section."""
    saved = json.loads(out.read_text()) if out.exists() else {"results": {}}
    saved["results"][key] = value
    out.write_text(json.dumps(saved, indent=1))
    print(f"wrote results.{key} to {out}", flush=True)
