"""What the guard knows of spend: one published copy (analytics.duckdb), loaded whole into memory.

The copy is replaced atomically by each run's publish; the guard notices a new one by the file's
identity and reloads. It reads the same relations analysts do: `marts.budget_status` (day and
month periods), `marts.sessions` (a session's spend: budget_status keeps only the sessions past a
threshold), `raw.llm_prices` and `raw.model_aliases` (the price table the marts were priced with),
and `marts.interactions` to learn which reserved calls the copy now includes.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from sources.guard.prices import PriceBook
from sources.publishing.pseudonyms import key_fingerprint

# sessions whose first day is this close to the copy's last day are loaded up front; an older
# session still in use is read on demand
RECENT_SESSION_DAYS = 2


class Unverified(Exception):
    """Spend cannot be verified from the published copy; the message says why and what to do."""


def file_identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass
class Published:
    path: Path
    identity: tuple[int, int, int]
    publish_id: str
    as_of_day: dt.date | None
    spend: dict[tuple[str, str, str], tuple[Decimal, int]]
    sessions: dict[str, tuple[Decimal, int]]
    prices: PriceBook | None
    pii_fingerprint: str
    _con: duckdb.DuckDBPyConnection | None = field(default=None, repr=False)

    @classmethod
    def load(cls, path: Path, since: dt.date) -> Published:
        """Load a copy; `since` is the first period start worth keeping (the previous month)."""
        identity = file_identity(path)
        if identity is None:
            raise Unverified(
                f"no published copy at {path}: run `costwatch run` (or `costwatch demo`) first"
            )
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise Unverified(f"cannot open the published copy {path}: {exc}") from None
        try:
            return cls._read(con, path, identity, since)
        except duckdb.Error as exc:
            con.close()
            raise Unverified(
                f"the published copy {path} lacks what the guard reads ({exc}); "
                "a run of this version publishes it"
            ) from None

    @classmethod
    def _read(
        cls, con: duckdb.DuckDBPyConnection, path: Path, identity, since: dt.date
    ) -> Published:
        publish_id, pii = con.execute(
            "select cast(published_at as varchar), coalesce(info->>'pii', '') "
            "from meta.publish_info"
        ).fetchone()
        as_of = con.execute("select max(as_of_day) from marts.budget_status").fetchone()[0]
        spend = {
            (b, s, p.isoformat()): (usd, tokens)
            for b, s, p, usd, tokens in con.execute(
                "select budget_id, scope_id, period_start, spent_usd, spent_tokens "
                "from marts.budget_status where period in ('day', 'month') and period_start >= ?",
                [since],
            ).fetchall()
        }
        sessions = {}
        if as_of is not None:
            sessions = {
                s: (usd, tokens)
                for s, usd, tokens in con.execute(
                    "select session_id, total_cost_usd, input_tokens + output_tokens "
                    "from marts.sessions where session_day >= ?",
                    [as_of - dt.timedelta(days=RECENT_SESSION_DAYS)],
                ).fetchall()
            }
        prices = cls._prices(con)
        return cls(path, identity, publish_id, as_of, spend, sessions, prices, pii, con)

    @staticmethod
    def _prices(con: duckdb.DuckDBPyConnection) -> PriceBook | None:
        try:
            cursor = con.execute("select * from raw.llm_prices")
            columns = [d[0] for d in cursor.description]
            rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]  # exact Decimals
            aliases = con.execute(
                "select provider, model, price_provider_id, canonical_model from raw.model_aliases"
            ).fetchall()
        except duckdb.CatalogException:
            return None  # published before the price table was: USD budgets are unverified
        return PriceBook(rows, {(p, m): (pp, c) for p, m, pp, c in aliases})

    def session_spend(self, session_id: str) -> tuple[Decimal, int]:
        if session_id not in self.sessions:
            row = None
            if self._con is not None:
                row = self._con.execute(
                    "select total_cost_usd, input_tokens + output_tokens from marts.sessions "
                    "where session_id = ?",
                    [session_id],
                ).fetchone()
            self.sessions[session_id] = (row[0], row[1]) if row else (Decimal(0), 0)
        return self.sessions[session_id]

    def included(self, event_ids: list[str]) -> set[str]:
        """Which of these ids are calls the copy includes."""
        if not event_ids or self._con is None:
            return set()
        return {
            r[0]
            for r in self._con.execute(
                "select event_id from marts.interactions "
                "where event_id in (select unnest($ids::VARCHAR[]))",
                {"ids": event_ids},
            ).fetchall()
        }

    def pseudonymised_with(self, pii_key: str | None) -> bool:
        """Whether user ids in the copy are what this key makes of them."""
        return self.pii_fingerprint == key_fingerprint(pii_key)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
