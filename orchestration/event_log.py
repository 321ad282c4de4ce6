"""The embedded instance's event log: Dagster's SQLite event log, keeping its SQLAlchemy engines.

Dagster's `SqliteEventLogStorage` creates an engine for every statement it sends (one database
file per run, plus an index file) and disposes of it afterwards. A run stores a few hundred events
(each step's start, outputs and end, every materialization and check evaluation, a handful of
statements each), so every one of them opened the file, compiled its SQL again (the compiled
statements are cached per engine) and closed it. This storage keeps one engine per file, so a
file stays open and its statements compiled; the files, their schema and what is stored in them
are Dagster's own (a stock instance reads them, and this one reads a stock instance's).

Only the index file and the runs touched last keep an engine (`KEPT_RUN_FILES`): a webserver
reading many runs' logs would otherwise keep every file open. `wipe` closes every engine before
Dagster deletes the files. The Dagster internals used are named in assets/internals.py; the
PostgreSQL instance (COSTWATCH_DAGSTER_PG_URL) keeps Dagster's own storage, which pools already.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as db
from sqlalchemy.engine import Connection, Engine

from assets.internals import SQLITE_BUSY_TIMEOUT_SECONDS, SqliteEventLogStorage

INDEX_FILE = "index"
KEPT_RUN_FILES = 4


class KeptEnginesSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with one engine per database file, kept (see the module)."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.RLock()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def config_type(cls) -> dict:
        return {"instance_dir": dg.StringSource}  # `{env: DAGSTER_HOME}` in dagster.yaml

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # type: ignore[override]
        """The files of Dagster's default SQLite event log of that instance folder."""
        return cls(os.path.join(config_value["instance_dir"], "history", "runs", ""), inst_data)

    def _engine(self, shard: str) -> Engine:
        """The engine of `shard`'s file, created (and the file's schema with it) on first use."""
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = db.create_engine(
                    self.conn_string_for_shard(shard),
                    # `_db_lock` lets one transaction through at a time; `has_table` is outside it
                    pool_size=1,
                    max_overflow=2,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
                self._engines[shard] = engine
                runs = [s for s in self._engines if s != INDEX_FILE]
                for old in runs[: max(0, len(runs) - KEPT_RUN_FILES)]:
                    self._engines.pop(old).dispose()
            self._engines.move_to_end(shard)
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        with self._engine(INDEX_FILE).connect() as conn:  # without `_db_lock`, as Dagster's
            return bool(conn.dialect.has_table(conn, table_name))

    def _close_engines(self) -> None:
        with self._engines_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_engines()  # before the files are deleted under them
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()
