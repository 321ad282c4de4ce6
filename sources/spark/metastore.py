"""A Hive metastore service on 127.0.0.1, from the pip-installed pyspark's jars (Hive 2.3), for the
tests and benchmarks that show every Spark process sharing one catalog; not a way to run one in
production, where the team's metastore (or its cloud's catalog) is COSTWATCH_SPARK_METASTORE_URI.

Hive's own launcher (`HiveMetaStore.main`) listens on every interface, whatever its settings: it
opens its socket with no host. This one builds the same server (the metastore's handler behind a
Thrift thread-pool server, binary protocol, no SASL) on a socket bound to 127.0.0.1, in a JVM
started through py4j as pyspark starts its own. Its catalog is a Derby database: a lake's
embedded one (`<lake>/metastore_db`) is served as it is, so the tables a `local[N]` run declared
are the service's.

    python -m sources.spark.metastore --db LAKE/metastore_db --warehouse LAKE/warehouse --port N
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sources.http_server import free_port
from sources.processes import stop_groups

READY = "metastore: serving"  # the line the service prints once it accepts connections
# every metastore call, one line each (ugi, client address, command): what the tests count
AUDIT_LOGGER = "org.apache.hadoop.hive.metastore.HiveMetaStore.audit"


def serve(db: Path, warehouse: Path, port: int) -> None:
    """Serve the Derby catalog at `db` on 127.0.0.1:`port` until killed."""
    from pyspark import SparkConf
    from pyspark.java_gateway import launch_gateway

    conf = SparkConf().set("spark.driver.memory", "512m")  # Derby's log: the working folder's
    jvm = launch_gateway(conf).jvm
    levels = jvm.org.apache.logging.log4j
    levels.core.config.Configurator.setLevel(AUDIT_LOGGER, levels.Level.INFO)
    hive = jvm.org.apache.hadoop.hive.conf.HiveConf()
    hive.set("javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={db};create=true")
    hive.set("hive.metastore.warehouse.dir", str(warehouse))
    hive.set("datanucleus.schema.autoCreateAll", "true")  # as Spark's embedded client does
    hive.set("hive.metastore.schema.verification", "false")
    # Hive's default is a new /tmp/<session id>_resources per session, never removed
    hive.set("hive.downloaded.resources.dir", str(db.parent / "hive-resources"))
    metastore = jvm.org.apache.hadoop.hive.metastore
    handler = metastore.HiveMetaStore.newRetryingHMSHandler("costwatch metastore", hive, False)
    thrift = jvm.org.apache.thrift
    bound = thrift.transport.TServerSocket(jvm.java.net.InetSocketAddress("127.0.0.1", port))
    args = (
        getattr(thrift.server, "TThreadPoolServer$Args")(bound)
        .processor(metastore.TSetIpAddressProcessor(handler))
        .transportFactory(thrift.transport.TTransportFactory())
        .protocolFactory(getattr(thrift.protocol, "TBinaryProtocol$Factory")())
    )
    server = thrift.server.TThreadPoolServer(args)
    serving = threading.Thread(target=server.serve, daemon=True)  # blocks in the JVM
    serving.start()
    print(READY, flush=True)
    serving.join()


@contextlib.contextmanager
def local_metastore(db: Path, warehouse: Path, logs: Path) -> Iterator[str]:
    """The service (`serve`) in a process group of its own, its output in `logs`/metastore.log;
    yields its URI (thrift://127.0.0.1:PORT) once it accepts connections, stops it on exit."""
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = logs / "metastore.log"
    # the logs folder as its conf folder, no spark-defaults.conf: this JVM runs no Spark app
    env = {**os.environ, "SPARK_CONF_DIR": str(logs)}
    command = [sys.executable, "-m", "sources.spark.metastore", "--db", str(db),
               "--warehouse", str(warehouse), "--port", str(port)]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, env=env, cwd=logs, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for(port, proc, log)
        yield f"thrift://127.0.0.1:{port}"
    finally:
        stop_groups([proc])


def _wait_for(port: int, proc: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while READY not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            raise RuntimeError(f"the metastore exited ({proc.returncode}); see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the metastore did not start in {seconds:.0f} s; see {log}")
        time.sleep(0.5)
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        pass


def audited_calls(log: Path) -> list[tuple[str, str]]:
    """The calls the service's audit log recorded, in order: (the client's address, the call as
    Hive words it, e.g. `get_table : db=marts tbl=sessions`)."""
    calls = []
    for line in log.read_text(errors="replace").splitlines():
        _, found, call = line.partition("\tcmd=source:")
        if found:
            address, _, words = call.partition(" ")
            calls.append((address, words.strip()))
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(args.db.resolve(), args.warehouse.resolve(), args.port)


if __name__ == "__main__":
    main()
