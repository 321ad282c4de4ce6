"""Running it for a team (issue 17): a real PostgreSQL 15, and the webserver, the daemon and the
code server started as separate `costwatch serve` processes against it, the code location over
gRPC. A run launched through the webserver's GraphQL API (as the UI does) succeeds and is recorded
in PostgreSQL; the schedule launches yesterday's run, whose process, killed, is failed by run
monitoring, and the next run proceeds; a second daemon refuses to start; no secret is written
anywhere; each service stops on SIGTERM within 30 s."""

import contextlib
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg2
import pytest

from orchestration.services import LOCATION
from sources.demo.fake_provider import FakeProviderServer
from sources.demo.provider_sample import provider_reports
from sources.demo.sample_data import generate
from sources.processes import descendants, kill_group, running
from tests.conftest import free_port
from tests.deployment.postgres import Postgres, postgres

pytestmark = [pytest.mark.xdist_group("deployment"), pytest.mark.slow]

COSTWATCH = str(Path(sys.executable).parent / "costwatch")
REPO = Path(__file__).resolve().parents[2]
TODAY = dt.datetime.now(dt.UTC).date()
DAYS = [TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1)]
MONITORING_S = 60  # documented: a dead run fails within a monitoring pass (10 s) and change
LAUNCH = """
mutation($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on PipelineNotFoundError { message } ... on InvalidSubsetError { message } } }"""
STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


@dataclass
class Team:
    pg: Postgres
    home: Path
    env: dict[str, str]
    web: str
    logs: Path
    services: dict[str, subprocess.Popen] = field(default_factory=dict)
    schedule_at: dt.datetime = dt.datetime.min

    def serve(self, service: str, *args: str, log: str | None = None) -> subprocess.Popen:
        out = (self.logs / f"{log or service}.log").open("w")
        return subprocess.Popen(
            [COSTWATCH, "serve", service, *args],
            env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        reply = httpx.post(
            f"{self.web}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        return reply.json()["data"]

    def launch(self, day: dt.date, assets: list[list[str]] | None = None) -> str:
        """Launch the daily job for `day` as the UI does; only `assets` (keys) when given."""
        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                         "pipelineName": "daily_refresh"},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": str(day)}]},
            "runConfigData": {},
        }  # fmt: skip
        if assets:
            params["selector"]["assetSelection"] = [{"path": key} for key in assets]
        deadline = time.monotonic() + 120
        while True:  # the webserver may still be loading the code location
            result = self.graphql(LAUNCH, {"p": params})["launchPipelineExecution"]
            if result["__typename"] == "LaunchRunSuccess":
                return result["run"]["runId"]
            assert time.monotonic() < deadline, result
            time.sleep(2)

    def status(self, run_id: str) -> str:
        return self.graphql(STATUS, {"id": run_id})["runOrError"]["status"]

    def wait(self, run_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while (status := self.status(run_id)) not in ("SUCCESS", "FAILURE", "CANCELED"):
            assert time.monotonic() < deadline, f"run {run_id} still {status}"
            time.sleep(2)
        return status

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with contextlib.closing(psycopg2.connect(self.pg.url)) as con, con.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall()


def _schedule_time() -> dt.datetime:
    """A schedule time the daemon reaches during the tests: the minute after the next one."""
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=150)
    return soon.replace(second=0, microsecond=0)


@pytest.fixture(scope="session")  # once per worker, even if other tests run between
def team(tmp_path_factory) -> Iterator[Team]:
    root = tmp_path_factory.mktemp("team")
    ledger = generate(root / "events", DAYS[0], len(DAYS), 6)
    at = _schedule_time()
    # the fake providers' variables go to the services only: this worker's other tests must not
    # see admin keys for the whole session
    with postgres() as pg, FakeProviderServer(provider_reports(ledger)) as providers:
        code, web = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTWATCH_", "DAGSTER_"))}
        env |= {
            "COSTWATCH_HOME": str(root),
            "COSTWATCH_DAGSTER_PG_URL": pg.url,
            "COSTWATCH_CODE_SERVER": f"127.0.0.1:{code}",
            "COSTWATCH_SCHEDULE_TIME": at.strftime("%H:%M"),
            "COSTWATCH_START_DATE": str(DAYS[0] - dt.timedelta(days=3)),
        }
        env |= providers.client_env()
        logs = root / "service-logs"
        logs.mkdir()
        t = Team(pg, root, env, f"http://127.0.0.1:{web}", logs, schedule_at=at)
        t.services["code-server"] = t.serve("code-server", "--port", str(code))
        t.services["webserver"] = t.serve("webserver", "--port", str(web))
        t.services["daemon"] = t.serve("daemon")
        try:
            deadline = time.monotonic() + 120
            while True:
                dead = {n: p.returncode for n, p in t.services.items() if p.poll() is not None}
                assert not dead, (dead, [(p.name, p.read_text()[-2000:]) for p in logs.iterdir()])
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{t.web}/server_info", timeout=2).status_code == 200:
                        break
                assert time.monotonic() < deadline, "the webserver did not answer in 120 s"
                time.sleep(1)
            yield t
        finally:
            for proc in t.services.values():
                kill_group(proc)


def test_a_ui_launched_run_succeeds_on_postgres_with_its_check_results(team: Team):
    run_id = team.launch(DAYS[0])
    assert team.wait(run_id) == "SUCCESS"
    assert team.sql("select status from runs where run_id = %s", (run_id,)) == [("SUCCESS",)]
    (checks,) = team.sql(
        "select count(*) from event_logs where run_id = %s "
        "and dagster_event_type = 'ASSET_CHECK_EVALUATION'",
        (run_id,),
    )[0]
    assert checks > 50
    executions = team.sql(
        "select count(*) from asset_check_executions where run_id = %s", (run_id,)
    )[0][0]
    assert executions > 50
    # the instance's own storage is PostgreSQL: nothing went to SQLite files
    assert not list((team.home / "dagster").rglob("*.db"))


def _worker(team: Team, run_id: str) -> int | None:
    """The process executing the run: the pid its worker recorded when it started."""
    for (event,) in team.sql(
        "select event from event_logs where run_id = %s and dagster_event_type = 'ENGINE_EVENT'",
        (run_id,),
    ):
        found = re.search(r'"text": "(\d+)"\}, "label": "pid"', event)
        if found:
            return int(found.group(1))
    return None


def test_the_schedule_launches_yesterday_and_its_killed_run_is_failed_by_monitoring(team: Team):
    # the schedule fires while the test above runs (at most 150 s after the services start);
    # its run waits for the pool like any other. (A daemon-launched run succeeding is the test
    # above: the UI's launches are queued and launched by the daemon too.)
    deadline = team.schedule_at + dt.timedelta(seconds=150)
    found: list[tuple] = []
    while not found:
        found = team.sql(
            "select r.run_id from runs r join run_tags t on t.run_id = r.run_id "
            "where t.key = 'dagster/schedule_name' and t.value = 'daily_refresh_schedule'"
        )
        assert dt.datetime.now(dt.UTC) < deadline, "the schedule did not launch a run"
        time.sleep(1)
    (run_id,) = found[0]
    partition = team.sql(
        "select value from run_tags where run_id = %s and key = 'dagster/partition'", (run_id,)
    )
    assert partition == [(str(DAYS[1]),)]
    # its worker dies mid-run: run monitoring fails the run
    deadline_s = time.monotonic() + 300
    while (pid := _worker(team, run_id)) is None or team.status(run_id) != "STARTED":
        assert time.monotonic() < deadline_s, team.status(run_id)
        time.sleep(0.5)
    assert Path(f"/proc/{pid}").exists() and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    assert team.wait(run_id, timeout=MONITORING_S + 30) == "FAILURE"
    assert time.monotonic() - killed < MONITORING_S
    # the dead run's pool slot was freed: a run needing the same pool (the ingestion, whose
    # three keys are one step) gets it and succeeds
    nxt = team.launch(DAYS[1], assets=[["raw", "app_events"], ["raw", "event_quarantine"],
                                       ["raw", "model_aliases"]])  # fmt: skip
    assert team.wait(nxt) == "SUCCESS"


def test_a_second_daemon_refuses_to_start_and_the_first_keeps_running(team: Team):
    second = team.serve("daemon", log="second-daemon")
    assert second.wait(timeout=120) == 2
    said = (team.logs / "second-daemon.log").read_text()
    assert "another Dagster daemon" in said and "one daemon per instance" in said
    assert team.services["daemon"].poll() is None


def test_no_secret_is_written_anywhere(team: Team):
    secrets = [team.pg.password, team.env["OPENAI_ADMIN_KEY"], team.env["ANTHROPIC_ADMIN_KEY"]]
    texts = [p.read_bytes().decode(errors="replace") for p in team.logs.iterdir()]
    texts += [
        p.read_bytes().decode(errors="replace")
        for p in (team.home / "dagster").rglob("*")
        if p.is_file()
    ]
    texts += [str(row) for row in team.sql("select run_body from runs")]
    texts += [str(row) for row in team.sql("select event from event_logs")]
    runs = team.graphql(
        "{ runsOrError { ... on Runs { results { runId runConfigYaml tags { key value } } } } }"
    )
    texts.append(json.dumps(runs))
    texts.append(json.dumps(team.graphql("{ instance { info } }")))
    assert len(runs["runsOrError"]["results"]) >= 3
    for secret in secrets:
        assert not [t for t in texts if secret in t]


def test_each_service_stops_on_sigterm_within_30_s(team: Team):
    for name in ("daemon", "webserver", "code-server"):
        proc = team.services[name]
        tree = [proc.pid, *descendants(proc.pid)]
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, name
        assert time.monotonic() - started < 30
        assert [p for p in tree if running(p)] == [], name
