"""dbt's process, forked from the run's process instead of started from nothing.

A run's process has imported dbt already (dagster-dbt imports it to read the project): a dbt
started with `exec` imports it again, 2.5-3 CPU-seconds of every run on 2 cores
(docs/performance.md). A child forked from the run's process starts with dbt imported and runs
the same command line (`dbt.cli.main.cli`, what the `dbt` script runs) in a process of its own: its
own pid, exit code, standard output and signals, as dagster-dbt expects of a subprocess.

Forking copies only the thread that forks. That is safe when every thread of the process is a
Python thread (they wait for the interpreter's lock, which the fork hands to the child, and the
child touches none of their objects); a thread started by a library's C code (DuckDB's workers
while a database is open, gRPC's) may hold a lock the child then needs. So the run forks only
when the operating system's threads of the process are all Python threads, and otherwise starts
dbt as before (`subprocess.Popen`); the process's `how` says which, and why.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from sources.spark.jvm import jvm_running

# the dbt of this environment: the only executable that the forked child stands in for
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
TASKS = Path("/proc/self/task")
# how dagster-dbt starts dbt: output and errors on one pipe (anything else is started anew)
ONE_PIPE = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}


def fork_refusal(args: Sequence[str]) -> str | None:
    """Why dbt cannot be forked from this process now (None: it can)."""
    if not args or str(args[0]) != DBT_EXECUTABLE:
        return f"the dbt executable is {args[0] if args else None!r}, not {DBT_EXECUTABLE}"
    if not hasattr(os, "fork") or not TASKS.is_dir():
        return "this system cannot tell the process's threads apart (no /proc/self/task)"
    if multiprocessing.current_process().daemon:
        return "the process is a daemonic multiprocessing child, which may not start one"
    if jvm_running():
        # a stopped session keeps its JVM: a forked dbt would reuse it, with the run's settings
        return (
            "the process has started Spark's JVM (a forked dbt would share it, not start its own)"
        )
    # every Python thread has a frame, those of `threading` and of `_thread` (pytest-xdist's) alike
    threads, python_threads = len(os.listdir(TASKS)), len(sys._current_frames())
    if threads != python_threads:
        return (
            f"the process runs {threads - python_threads} thread(s) of a library's own "
            "(an open DuckDB database, OpenBLAS, pyarrow's jemalloc)"
        )
    return None


class ForkedDbt:
    """The part of `subprocess.Popen` that dagster-dbt uses, for dbt run in a forked child.

    The child is a `multiprocessing` process of the fork start method, which prepares a forked
    child as Python's own pools do: the parent's finalizers are not the child's, `at-fork` hooks
    run, and at its end the child's own finalizers run (dbt's semaphores are released) and none of
    the parent's exit handlers."""

    def __init__(
        self,
        args: Sequence[str],
        env: dict[str, str],
        cwd: str | os.PathLike,
        main: Callable[[list[str]], object] | None = None,
    ):
        self.args = list(args)
        for stream in (sys.stdout, sys.stderr):  # nothing of ours is written twice by the child
            stream.flush()
        read, write = os.pipe()
        self._process = multiprocessing.get_context("fork").Process(
            target=_child, args=(self.args, env, cwd, read, write, main or _dbt_main), name="dbt"
        )
        # the child's garbage collector leaves the parent's objects alone (it would otherwise
        # write to each one's header and so copy nearly every page of the parent's heap)
        gc.freeze()
        try:
            self._process.start()
        finally:
            gc.unfreeze()
            os.close(write)
        self.pid = self._process.pid
        self.stdout = os.fdopen(read, "rb")

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _dbt_main(args: list[str]) -> None:
    """What the `dbt` script runs."""
    from dbt.cli.main import cli

    cli(args=args[1:], prog_name="dbt")


def _child(
    args: list[str], env: dict[str, str], cwd: str | os.PathLike, read: int, write: int, main
) -> None:
    """`main` (dbt's command line) in the forked child, as the `dbt` script runs it: its exit code
    is the child's; a KeyboardInterrupt ends it by SIGINT, as it ends a Python process."""
    os.close(read)
    # the signals as in a new Python process (the run's process has handlers of its own)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    os.dup2(write, 1)
    os.dup2(write, 2)
    os.close(write)
    # new stream objects: the inherited ones may hold a lock another thread held at the fork
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), line_buffering=True)  # noqa: SIM115
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), line_buffering=True)  # noqa: SIM115
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = args
    try:
        main(args)
    except KeyboardInterrupt:
        traceback.print_exc()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


def start(
    args: Sequence[str], env: dict[str, str], cwd: str | os.PathLike, **popen: object
) -> ForkedDbt | subprocess.Popen:
    """dbt's process for `args` (with its output and errors on one pipe, as dagster-dbt asks),
    forked when it can be; its `how` says which, with the reason when it is not (the run's log
    shows it)."""
    refusal = fork_refusal(args)
    if refusal is None and popen != ONE_PIPE:
        refusal = f"dagster-dbt asked for {popen}, not output and errors on one pipe"
    if refusal is None:
        process: ForkedDbt | subprocess.Popen = ForkedDbt(args, env, cwd)
        how = "forked from the run's process"
    else:
        process, how = subprocess.Popen(args, env=env, cwd=cwd, **popen), f"started anew: {refusal}"
    process.how = how  # type: ignore[union-attr]
    return process
