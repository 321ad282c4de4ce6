"""A Spark standalone cluster on 127.0.0.1 (a master and N one-core workers), started from the
pip-installed pyspark for tests and benchmarks; not a way to run Costwatch in production, where
the team's own cluster is the master (docs/spark.md)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

from sources.http_server import free_port
from sources.processes import stop_groups

SPARK_HOME = Path(pyspark.__file__).parent

# the Spark settings of a test's or benchmark's small data, on this cluster or `local[N]`: two
# shuffle partitions (Spark's 200 suit a real cluster's data)
SMALL_DATA_CONF = "spark.sql.shuffle.partitions 2\n"
# and of the tests' runs, over in minutes on kilobytes: less compiling, which such data never
# repays (the JVMs' C1 compiler only and one GC thread; no generated code, whole-stage or per
# expression; no adaptive re-planning). Measured on the Spark test (docs/spark.md): a two-day run
# on `local[2]` 135-138 CPU-seconds instead of 166-209; no expression code: 310 instead of 340
# for the whole test. The same marts. C1 alone makes the JVM size its code cache for a client VM
# (48 MB), which a Spark driver fills: the sweeper then flushes compiled methods that C1 compiles
# again, so the code cache is Java's tiered default (240 MB; measured in docs/spark.md).
QUICK_JVM = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m -XX:+UseSerialGC"
QUICK_RUN_CONF = (
    f"spark.driver.extraJavaOptions {QUICK_JVM}\n"
    f"spark.executor.extraJavaOptions {QUICK_JVM}\n"
    "spark.sql.adaptive.enabled false\n"
    "spark.sql.codegen.wholeStage false\n"
    "spark.sql.codegen.factoryMode NO_CODEGEN\n"
)


@dataclass
class Cluster:
    master: str  # spark://127.0.0.1:PORT
    web: str  # the master's web UI, whose /json/ lists workers and applications
    event_log: Path  # every application's event log (spark.eventLog.dir)
    conf_dir: Path  # SPARK_CONF_DIR: spark-defaults.conf for the drivers started against it
    daemons: list[int] = field(default_factory=list)  # the master's and workers' process ids

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.web}/json/", timeout=10) as answer:
            return json.load(answer)

    def env(self) -> dict[str, str]:
        """What a driver process needs to use the cluster."""
        return {
            "COSTWATCH_SPARK_MASTER": self.master,
            "SPARK_CONF_DIR": str(self.conf_dir),
            "SPARK_LOCAL_IP": "127.0.0.1",
        }


def executors_with_tasks(event_log: Path) -> dict[str, int]:
    """Executor id -> tasks it finished, from the event logs of every application (Spark 4 writes
    one folder per application, `eventlog_v2_<app>/events_<n>_<app>`, uncompressed here)."""
    counts: dict[str, int] = {}
    for log in sorted(event_log.rglob("events_*")):
        for line in log.read_text().splitlines():
            event = json.loads(line)
            if event.get("Event") == "SparkListenerTaskEnd":
                executor = event["Task Info"]["Executor ID"]
                counts[executor] = counts.get(executor, 0) + 1
    return counts


@contextlib.contextmanager
def local_cluster(
    root: Path,
    workers: int = 2,
    worker_memory: str = "1g",
    extra_conf: str = "",
    daemon_jvm: str = "",
) -> Iterator[Cluster]:
    """A master and `workers` one-core workers on 127.0.0.1, stopped (by process group) on exit;
    their logs are under `root/logs`. `extra_conf`: more spark-defaults.conf lines for the drivers
    started against it (and their executors); `daemon_jvm`: the master's and workers' JVM options
    (the tests give `QUICK_JVM`: they only register and launch executors, work C2's compiling
    never repays; measured in docs/spark.md). Without it they keep the environment's."""
    root.mkdir(parents=True, exist_ok=True)
    logs, events, conf = root / "logs", root / "events", root / "conf"
    for folder in (logs, events, conf):
        folder.mkdir(exist_ok=True)
    (conf / "spark-defaults.conf").write_text(
        "spark.eventLog.enabled true\n"
        "spark.eventLog.compress false\n"
        f"spark.eventLog.dir file://{events}\n"
        f"spark.executor.memory {worker_memory}\n" + SMALL_DATA_CONF + extra_conf
    )
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_CONF_DIR": str(conf)}  # fmt: skip
    if daemon_jvm:
        env["SPARK_DAEMON_JAVA_OPTS"] = daemon_jvm
    port, web_port = free_port(), free_port()
    master = f"spark://127.0.0.1:{port}"
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    commands = [
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
         "--port", str(port), "--webui-port", str(web_port)],
    ] + [
        [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
         "--cores", "1", "--memory", worker_memory, "--webui-port", str(free_port()),
         "--work-dir", str(root / f"work-{i}"), master]
        for i in range(workers)
    ]  # fmt: skip
    processes: list[subprocess.Popen] = []
    cluster = Cluster(master, f"http://127.0.0.1:{web_port}", events, conf)
    try:
        for i, command in enumerate(commands):
            with (logs / f"{'master' if i == 0 else f'worker-{i}'}.log").open("w") as out:
                processes.append(
                    subprocess.Popen(
                        command,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            cluster.daemons.append(processes[-1].pid)  # spark-class execs the JVM
            if i == 0:
                _wait(lambda: cluster.state(), "the master's web UI", processes, logs)
        _wait(
            lambda: (
                len([w for w in cluster.state()["workers"] if w["state"] == "ALIVE"]) == workers
                or None
            ),
            f"{workers} workers registered",
            processes,
            logs,
        )
        yield cluster
    finally:
        stop_groups(processes)


def _wait(ready, what: str, processes: list[subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        dead = [p.args[1] for p in processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{dead} exited; see {logs}")
        with contextlib.suppress(OSError, ValueError):
            if ready():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Spark cluster: no {what} after 120 s; see {logs}")
        time.sleep(1)
