"""A guard over a hand-made published copy: prices from a custom price file with round numbers,
so every expected amount below is computed by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from sources.demo.guard_copy import write_copy
from sources.guard.server import serve
from sources.guard.service import Guard
from tests.conftest import serving

NOW = dt.datetime(2026, 11, 20, 12, 0, 0)
# USD per million tokens: input 2, cache write 2.50, output 10; per thousand requests 0.1
PRICES = """\
version: "t1"
prices:
  - provider: acme
    model: m1
    effective_from: 2026-01-01
    input_mtok: "2"
    cache_read_mtok: "0.5"
    cache_write_mtok: "2.50"
    output_mtok: "10"
    requests_kcount: "0.1"
"""
# worst case of 1,000 input tokens and 500 output: 1000 * 2.5e-6 + 500 * 1e-5 + 1e-4
ESTIMATE_1000_500 = Decimal("0.0076")


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Setup:
    root: Path
    prices: Path
    budgets: Path
    published: Path
    ledger: Path
    clock: Clock

    def budgets_file(self, entries: str, thresholds: str = "[80, 100]") -> None:
        self.budgets.write_text(
            f'version: "t"\ndefault_thresholds: {thresholds}\nbudgets:\n{entries}'
        )

    def publish(self, **kwargs) -> None:
        write_copy(self.published, self.prices, **kwargs)

    def guard(self, **kwargs) -> Guard:
        return Guard(
            self.budgets, self.published, self.ledger, clock=kwargs.pop("clock", self.clock),
            **kwargs,
        )  # fmt: skip


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    s = Setup(
        tmp_path, prices, tmp_path / "budgets.yaml", tmp_path / "analytics.duckdb",
        tmp_path / "guard" / "ledger.sqlite3", Clock(),
    )  # fmt: skip
    s.budgets_file('  - {id: org, scope: organisation, period: month, limit_usd: "100"}\n')
    s.publish()
    return s


def call(**overrides) -> dict:
    body = {
        "user_id": "u1",
        "session_id": "s1",
        "project_id": "p1",
        "api_key_id": "k1",
        "provider": "acme",
        "model": "m1",
        "input_tokens": 1000,
        "max_output_tokens": 500,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@contextmanager
def served(guard: Guard, token: str | None = None) -> Iterator[httpx.Client]:
    """The guard on a real HTTP server on 127.0.0.1 (a thread), and a client for it."""
    with serving(serve(guard, "127.0.0.1", 0, token)) as client:
        yield client
