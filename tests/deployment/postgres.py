"""A real PostgreSQL 15 for the tests: initdb in a temporary folder, a free loopback port,
password authentication over TCP, stopped at the end. As root, it runs as the `postgres` user
(initdb refuses root)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str
    password: str
    database: str = "postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"


def _as_owner(cmd: list[str]) -> list[str]:
    """The command as the `postgres` user when this process is root."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A running server with a fresh cluster, in a folder of its own under the system temporary
    folder (pytest's are private to root, and the server runs as `postgres`)."""
    assert (BIN / "initdb").exists(), "PostgreSQL 15 is needed: `make test` installs postgresql"
    folder = Path(tempfile.mkdtemp(prefix="costwatch-pg-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir(exist_ok=True)
    password = secrets.token_hex(12)
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(pwfile, "postgres")
    pg = Postgres(free_port(), "costwatch", password)
    subprocess.run(
        _as_owner([str(BIN / "initdb"), "-D", str(data), "-U", pg.user, f"--pwfile={pwfile}",
                   "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8"]),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pwfile.unlink()
    options = f"-c listen_addresses=127.0.0.1 -p {pg.port} -k {sockets}"
    log = folder / "postgres.log"
    subprocess.run(
        _as_owner([str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w",
                   "start"]),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    try:
        yield pg
    finally:
        subprocess.run(
            _as_owner([str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
