"""Shared fixtures: a temporary COSTWATCH_HOME with generated events, built by real Dagster runs."""

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest

from sources.dbt_process import DBT_EXECUTABLE
from sources.demo.fake_provider import FakeProviderData
from sources.demo.ledger import Ledger
from sources.demo.provider_sample import provider_reports
from sources.demo.sample_data import generate
from sources.http_server import free_port  # noqa: F401 (the tests import it from here)

START = dt.date(2026, 11, 1)
DAYS = 3
USERS = 15
COSTWATCH_VARS = (
    "COSTWATCH_HOME",
    "COSTWATCH_EVENTS_DIR",
    "COSTWATCH_WAREHOUSE",
    "COSTWATCH_PUBLISHED",
    "COSTWATCH_PRICES_URL",
    "COSTWATCH_RETENTION_DAYS",
    "DAGSTER_HOME",
    # Never let a developer's real admin key reach a real API from a test.
    "OPENAI_ADMIN_KEY",
    "ANTHROPIC_ADMIN_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
)


# the variables as the test session found them: a test or fixture that changes one must restore it
# by the end of the test, or every later test on its worker runs with it (an admin key a session
# fixture left set made a "no key is set" test call a closed port)
VARS_AT_START = {name: os.environ.get(name) for name in COSTWATCH_VARS}


@pytest.fixture(autouse=True)
def _variables_restored() -> Iterator[None]:
    yield  # torn down after the test's other function-scoped fixtures (monkeypatch included)
    left = sorted(n for n in COSTWATCH_VARS if os.environ.get(n) != VARS_AT_START[n])
    assert not left, (
        f"{left} changed in os.environ and not restored after the test: set them in a subprocess's "
        "env, with monkeypatch, or with sources.settings.temporary_env"
    )


@contextmanager
def serving(server, **client_options) -> Iterator[httpx.Client]:
    """A costwatch HTTP server (sources/http_server.Server) answering from a thread, and a client
    for it. The socket listens already: connections wait in its backlog until uvicorn accepts."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with httpx.Client(base_url=base, **client_options) as client:
            yield client
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@dataclass
class Home:
    root: Path
    ledger: Ledger

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "analytics.duckdb"

    @property
    def days(self) -> list[dt.date]:
        return self.ledger.day_list

    retention_days: int = 36_500  # the fixed test dates never age out, whatever the date

    @contextmanager
    def active(self, extra: dict[str, str] | None = None) -> Iterator["Home"]:
        """Point the costwatch environment at this home (plus `extra` variables) for the
        duration of the block."""
        from sources import settings

        # every costwatch/Dagster variable of the developer's shell or an earlier test is cleared
        cleared = [k for k in os.environ if k.startswith(("COSTWATCH_", "DAGSTER_"))]
        env: dict[str, str | None] = dict.fromkeys([*COSTWATCH_VARS, *cleared])
        env["COSTWATCH_HOME"] = str(self.root)
        env["COSTWATCH_RETENTION_DAYS"] = str(self.retention_days)
        env.update(extra or {})
        with settings.temporary_env(env):
            settings.apply()
            yield self

    def run(
        self,
        start: dt.date,
        end: dt.date,
        providers: FakeProviderData | None = None,
        env: dict[str, str] | None = None,
        **kwargs,
    ):
        """Materialize the days, serving `providers` (default: reports matching the ledger)."""
        from orchestration.runs import run_range
        from sources.demo.fake_provider import fake_providers

        with self.active(env), fake_providers(providers or provider_reports(self.ledger)):
            return run_range(start, end, **kwargs)

    def query(self, sql: str, params=None, published: bool = False) -> list[tuple]:
        path = self.published if published else self.warehouse
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


UNGROUPED = pytest.StashKey[str]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop when `--dist loadgroup` cannot group: a group's tests share what they build (one
    warehouse, one cluster, one PostgreSQL) and, spread over both workers, build it twice and
    wait on each other. pytest 9.2 made xdist 3.8 drop the groups without a word
    (pytest-dev/pytest-xdist#1386). Each grouped test then fails before its fixtures are built,
    saying why (an error raised here would crash xdist's worker without the message)."""
    if not getattr(session.config.option, "loadgroup", False):  # xdist sets it in its workers
        return
    grouped = [item for item in session.items if item.get_closest_marker("xdist_group")]
    if any("@" not in item.nodeid for item in grouped):
        session.config.stash[UNGROUPED] = (
            f"--dist loadgroup did not group the xdist_group tests: pytest {pytest.__version__} "
            "with this pytest-xdist drops the marks. Install the locked versions (make install) "
            "or run without -n."
        )


# xdist hands out work units (a group, or a test) in collection order (`--no-loadscope-reorder`,
# pyproject): the long units first, so that neither worker is left with one at the end
LONG_GROUPS_FIRST = ("spark", "built", "deployment", "otel")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):
        return

    def rank(item: pytest.Item) -> int:
        group = item.get_closest_marker("xdist_group")
        if group and group.args[0] in LONG_GROUPS_FIRST:
            return LONG_GROUPS_FIRST.index(group.args[0])
        return len(LONG_GROUPS_FIRST) + (0 if item.get_closest_marker("slow") else 1)

    items.sort(key=rank)  # stable: each file keeps its order


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = item.config.stash.get(UNGROUPED, None)
    if reason and item.get_closest_marker("xdist_group"):
        pytest.fail(reason, pytrace=False)


def make_home(root: Path, days: int = DAYS, users: int = USERS) -> Home:
    ledger = generate(root / "events", START, days, users)
    return Home(root, ledger)


@pytest.fixture(scope="session")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """Sample data for DAYS days, built by one `costwatch run` over the whole range."""
    home = make_home(tmp_path_factory.mktemp("home"))
    outcomes = home.run(home.days[0], home.days[-1])
    assert [o.success for o in outcomes] == [True]
    # as built, before any test changes it: what `built_copy` hands out
    shutil.copytree(home.root, _as_built(home))
    return home


def _as_built(home: Home) -> Path:
    return home.root.with_name(home.root.name + "-as-built")


@pytest.fixture
def built_copy(built_home: Home, tmp_path: Path) -> Home:
    """A home of the test's own, as `built_home` was right after its run (warehouse, published
    copy, Dagster instance and event files with their times), for a test that changes it. A test
    using it is in the "built" xdist group, else its worker builds `built_home` again."""
    root = tmp_path / "home"
    shutil.copytree(_as_built(built_home), root)
    return Home(root, built_home.ledger)


def hash40(event_id: str) -> int:
    """The dedup key of an event id as sources/events/tables.py defines it (the top 40 of the
    low 64 bits of its md5), computed here with hashlib, not with the code under test."""
    return int.from_bytes(hashlib.md5(event_id.encode()).digest()[8:], "little") >> 24


# each row's text computed once, tested against every needle (a substring, not a LIKE pattern)
HOLDING = (
    "select list_distinct(flatten(list(list_filter($needles::VARCHAR[], "
    "lambda n: contains(row_text, n))))) from (select t::VARCHAR as row_text from {relation} t)"
)


def relations_holding_each(
    path: Path, needles: list[str], views: bool = False
) -> dict[str, list[str]]:
    """For each needle, the relations of a DuckDB file with a row whose text holds it (whatever the
    compression): base tables, and views too when asked; each relation read once for all
    needles."""
    kinds = ["BASE TABLE", "VIEW"] if views else ["BASE TABLE"]
    hits: dict[str, list[str]] = {needle: [] for needle in needles}
    with duckdb.connect(str(path), read_only=True) as con:
        relations = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type in (select unnest($kinds::VARCHAR[])) "
            "and table_schema not in ('information_schema', 'pg_catalog') order by 1, 2",
            {"kinds": kinds},
        ).fetchall()
        for schema, table in relations:
            relation = f'"{schema}"."{table}"'  # names from the catalog, quoted
            found = con.execute(
                HOLDING.format(relation=relation), {"needles": list(needles)}
            ).fetchall()[0][0]
            for needle in found or []:
                hits[needle].append(f"{schema}.{table}")
    return hits


def run_dbt(warehouse: Path, tmp: Path, *args: str, day: dt.date | None = None) -> list[dict]:
    """`dbt <args>` in a subprocess on `warehouse` (a test's copy), for the window of `day` (None:
    no window, all history); the run results of its nodes (not the project's hooks)."""
    from sources.settings import DBT_PROJECT_DIR

    target = tmp / "target"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTWATCH_")}
    env["COSTWATCH_WAREHOUSE"] = str(warehouse)
    if day:
        env |= {"COSTWATCH_WINDOW_START": str(day), "COSTWATCH_WINDOW_END": str(day)}
    subprocess.run(
        [DBT_EXECUTABLE, *args,
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(target), "--log-path", str(tmp / "logs")],
        env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    results = json.loads((target / "run_results.json").read_text())["results"]
    return [r for r in results if not r["unique_id"].startswith("operation.")]
