"""Where a long step's time goes: seconds per named stage, for run metadata and the bench."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageClock:
    """Wall seconds spent in each named stage; a stage entered twice adds up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def mark(self, name: str) -> None:
        """A stage of no time of its own, which says which way the work went."""
        self.seconds.setdefault(name, 0.0)

    def rounded(self, digits: int = 3) -> dict[str, float]:
        return {name: round(s, digits) for name, s in self.seconds.items()}
