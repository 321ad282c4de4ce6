"""The ingestion's temporary files (copies of the event lines it reads) and what killed
ingestions leave of them."""

from __future__ import annotations

import shutil
from pathlib import Path

SCRATCH_PREFIX = "costwatch-ingest-"


def remove_stale_scratch(scratch_dir: Path, prefix: str = SCRATCH_PREFIX) -> None:
    """Remove what killed ingestions left in a scratch folder (a process killed inside its
    temporary folder cannot remove it: copies of event lines, up to a day of logs each). Called
    with the warehouse open for writing, which no other ingestion of the home can be then."""
    for path in scratch_dir.glob(f"{prefix}*"):
        shutil.rmtree(path, ignore_errors=True)
