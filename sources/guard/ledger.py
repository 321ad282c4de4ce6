"""The guard's reservations: a SQLite file in WAL mode, so they survive a restart and several
guard processes can share them.

Every decision that allows a call reserves its estimate against every budget scope it touches in
one `BEGIN IMMEDIATE` transaction (one writer at a time across processes), and keeps a running
total per (budget, scope id, period) so a check reads a few rows whatever the traffic. Amounts are
whole nano-dollars (1e-9 USD, the published money's scale): estimates are rounded up, actual costs
to the nearest.

A reservation ends in one of three ways: the published copy includes its call (the application
logged the call with event_id = request_id), it expires (an allowed call never committed within
the reservation time; a committed one not published within the hold time), or it is replaced by a
commit's actual cost (idempotent by request id).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from pathlib import Path

NANO = Decimal("1e-9")
CHECKPOINT_EVERY_S = 1.0

SCHEMA = """
create table if not exists requests (
  request_id text primary key,
  state text not null,            -- reserved | committed
  created_at real not null,
  expires_at real not null,
  fingerprint text not null,      -- of the check's body: a retry must be the same request
  answer text not null,           -- the check's answer, returned again to a retry
  call text not null,             -- provider, model, service tier and time: what a commit prices
  usage text                      -- the committed usage (json)
);
create index if not exists requests_expiry on requests (expires_at);
create table if not exists reservations (
  request_id text not null,
  budget_id text not null,
  scope_id text not null,
  period_start text not null,
  usd_nanos integer not null,
  tokens integer not null,
  primary key (request_id, budget_id, scope_id)
);
create table if not exists totals (
  budget_id text not null,
  scope_id text not null,
  period_start text not null,
  usd_nanos integer not null,
  tokens integer not null,
  primary key (budget_id, scope_id, period_start)
);
create table if not exists meta (key text primary key, value text not null);
"""

Key = tuple[str, str, str]  # budget_id, scope_id, period_start


def to_nanos(amount: Decimal, round_up: bool) -> int:
    return int(
        amount.quantize(NANO, rounding=ROUND_CEILING if round_up else ROUND_HALF_UP).scaleb(9)
    )


@dataclass(frozen=True)
class Hold:
    key: Key
    usd_nanos: int
    tokens: int


class Ledger:
    """One connection per process, used under a lock (the HTTP server's threads share it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(
            str(self.path), timeout=30, isolation_level=None, check_same_thread=False
        )
        self._con.execute("pragma journal_mode=wal")
        # NORMAL in WAL: a commit survives a killed process (the OS has it); a power cut can lose
        # the last few (docs/guard.md)
        self._con.execute("pragma synchronous=normal")
        # checkpoints (copying the WAL into the file, with an fsync) run in a thread of their own
        # rather than inside whichever decision happened to fill the WAL
        self._con.execute("pragma wal_autocheckpoint=0")
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, daemon=True)
        with self.transaction() as con:
            for statement in _statements():
                con.execute(statement)
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        con = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        try:
            while not self._stop.wait(CHECKPOINT_EVERY_S):
                con.execute("pragma wal_checkpoint(passive)")
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One writer at a time, across threads and processes."""
        with self._lock:
            self._con.execute("begin immediate")
            try:
                yield self._con
            except BaseException:
                self._con.execute("rollback")
                raise
            self._con.execute("commit")

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join()
        with self._lock:
            self._con.close()


def _statements() -> list[str]:
    return [s.strip() for s in SCHEMA.split(";") if s.strip()]


def reserved(con: sqlite3.Connection, keys: Iterable[Key]) -> dict[Key, tuple[int, int]]:
    out = {}
    for key in keys:
        row = con.execute(
            "select usd_nanos, tokens from totals "
            "where budget_id = ? and scope_id = ? and period_start = ?",
            key,
        ).fetchone()
        out[key] = (row[0], row[1]) if row else (0, 0)
    return out


def _add(con: sqlite3.Connection, key: Key, usd_nanos: int, tokens: int) -> None:
    con.execute(
        "insert into totals values (?, ?, ?, ?, ?) on conflict (budget_id, scope_id, period_start)"
        " do update set usd_nanos = usd_nanos + excluded.usd_nanos,"
        " tokens = tokens + excluded.tokens",
        (*key, usd_nanos, tokens),
    )


def previous(con: sqlite3.Connection, request_id: str) -> tuple[str, str, str] | None:
    """(state, fingerprint, answer) of a request already reserved, if any."""
    row = con.execute(
        "select state, fingerprint, answer from requests where request_id = ?", (request_id,)
    ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def reserve(
    con: sqlite3.Connection,
    request_id: str,
    holds: list[Hold],
    now: float,
    expires_at: float,
    fingerprint: str,
    answer: dict,
    call: dict,
) -> None:
    con.execute(
        "insert into requests values (?, 'reserved', ?, ?, ?, ?, ?, null)",
        (
            request_id,
            now,
            expires_at,
            fingerprint,
            json.dumps(answer, sort_keys=True),
            json.dumps(call, sort_keys=True),
        ),
    )
    for h in holds:
        con.execute(
            "insert into reservations values (?, ?, ?, ?, ?, ?)",
            (request_id, *h.key, h.usd_nanos, h.tokens),
        )
        _add(con, h.key, h.usd_nanos, h.tokens)


def holds_of(con: sqlite3.Connection, request_id: str) -> list[Hold]:
    rows = con.execute(
        "select budget_id, scope_id, period_start, usd_nanos, tokens from reservations "
        "where request_id = ?",
        (request_id,),
    ).fetchall()
    return [Hold((b, s, p), u, t) for b, s, p, u, t in rows]


def settle(
    con: sqlite3.Connection, request_id: str, holds: list[Hold], usage: dict, expires_at: float
) -> None:
    """Replace a request's reservations by its actual amounts."""
    for old in holds_of(con, request_id):
        _add(con, old.key, -old.usd_nanos, -old.tokens)
    con.execute("delete from reservations where request_id = ?", (request_id,))
    for h in holds:
        con.execute(
            "insert into reservations values (?, ?, ?, ?, ?, ?)",
            (request_id, *h.key, h.usd_nanos, h.tokens),
        )
        _add(con, h.key, h.usd_nanos, h.tokens)
    con.execute(
        "update requests set state = 'committed', usage = ?, expires_at = ? where request_id = ?",
        (json.dumps(usage, sort_keys=True), expires_at, request_id),
    )


def call_of(con: sqlite3.Connection, request_id: str) -> tuple[dict, str | None] | None:
    """(the call, its committed usage as JSON or None) of a request still held."""
    row = con.execute(
        "select call, usage from requests where request_id = ?", (request_id,)
    ).fetchone()
    return None if row is None else (json.loads(row[0]), row[1])


def release(con: sqlite3.Connection, request_ids: Iterable[str]) -> int:
    n = 0
    for request_id in request_ids:
        for h in holds_of(con, request_id):
            _add(con, h.key, -h.usd_nanos, -h.tokens)
        con.execute("delete from reservations where request_id = ?", (request_id,))
        n += con.execute("delete from requests where request_id = ?", (request_id,)).rowcount
    if n:
        prune(con)
    return n


def prune(con: sqlite3.Connection) -> None:
    """Drop the totals nothing holds any more."""
    con.execute("delete from totals where usd_nanos = 0 and tokens = 0")


def expire(con: sqlite3.Connection, now: float) -> int:
    due = [
        r[0]
        for r in con.execute(
            "select request_id from requests where expires_at <= ? limit 1000", (now,)
        ).fetchall()
    ]
    return release(con, due)


def open_request_ids(con: sqlite3.Connection) -> list[str]:
    return [r[0] for r in con.execute("select request_id from requests").fetchall()]


def get_meta(con: sqlite3.Connection, key: str) -> str | None:
    row = con.execute("select value from meta where key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def set_meta(con: sqlite3.Connection, key: str, value: str) -> None:
    con.execute(
        "insert into meta values (?, ?) on conflict (key) do update set value = excluded.value",
        (key, value),
    )


def counts(con: sqlite3.Connection) -> dict[str, int]:
    reserved_n, committed_n = con.execute(
        "select count(*) filter (where state = 'reserved'), "
        "count(*) filter (where state = 'committed') from requests"
    ).fetchone()
    return {"reserved": reserved_n or 0, "committed": committed_n or 0}
