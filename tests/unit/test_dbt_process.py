"""dbt forked from the run's process (sources/dbt_process.py): the same command line, output, exit
code, environment and working folder as the `dbt` executable started anew; signals as in a new
process; and no fork while a library's own thread runs (a DuckDB database open).

Each case runs in a fresh Python process of its own, so the threads of the test's process (pytest,
xdist) do not decide what is tested."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sources.dbt_process import DBT_EXECUTABLE

REPO = Path(__file__).resolve().parents[2]


def _in_fresh_process(code: str, cwd: Path, env: dict[str, str] | None = None) -> dict:
    """Run `code` (which sets `result`) in a new interpreter; its `result`, from JSON."""
    script = "import json, sys\n" + code + "\nprint('RESULT ' + json.dumps(result))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**(os.environ if env is None else env), "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


START = """
import os, sys
from pathlib import Path
from sources.dbt_process import DBT_EXECUTABLE, ForkedDbt, start
import subprocess

def through(args, env, cwd):
    process = start(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reason = process.how
    output = process.stdout.read().decode()
    return {"forked": isinstance(process, ForkedDbt), "reason": reason,
            "code": process.wait(), "output": output}
"""


def _anew(args: list[str], env: dict[str, str], cwd: Path) -> dict:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    return {"code": done.returncode, "output": done.stdout + done.stderr}


def _timeless(output: str) -> str:
    """dbt's lines without the clock time each starts with."""
    return re.sub(r"(?<!\d)\d\d:\d\d:\d\d(?!\d)", "hh:mm:ss", output)


def test_a_forked_dbt_answers_as_the_executable_does(tmp_path: Path):
    """`--version`, an unknown command (exit code 2, click's usage error) and `debug --config-dir`,
    which prints the profiles folder: from DBT_PROFILES_DIR when set, else the working folder
    when it holds a profiles.yml."""
    (tmp_path / "profiles.yml").write_text("{}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    cases = [
        (["--version"], env),
        (["no-such-command"], env),
        (["debug", "--config-dir"], env),
        (["debug", "--config-dir"], env | {"DBT_PROFILES_DIR": str(elsewhere)}),
    ]
    code = START + "result = [through([DBT_EXECUTABLE, *a], e, sys.argv[-1]) for a, e in CASES]"
    got = _in_fresh_process(
        f"CASES = {cases!r}\nsys.argv.append({str(tmp_path)!r})\n" + code, tmp_path
    )
    for (args, env_), forked in zip(cases, got, strict=True):
        assert forked["forked"], forked["reason"]
        assert forked["reason"] == "forked from the run's process"
        expected = _anew([DBT_EXECUTABLE, *args], env_, tmp_path)
        assert forked["code"] == expected["code"], args
        assert _timeless(forked["output"]) == _timeless(expected["output"]), args
    assert [g["code"] for g in got] == [0, 2, 0, 0]
    assert str(tmp_path) in got[2]["output"] and str(elsewhere) in got[3]["output"]


def test_an_open_duckdb_database_means_dbt_starts_anew(tmp_path: Path):
    """DuckDB's worker threads are not Python threads: no fork while they run; after the database
    is closed the process forks again."""
    code = START + (
        "import duckdb\n"
        "con = duckdb.connect(config={'threads': 2})\n"
        "con.execute('select 1').fetchall()\n"
        "open_db = through([DBT_EXECUTABLE, '--version'], dict(os.environ), '.')\n"
        "con.close(); del con\n"
        "closed = through([DBT_EXECUTABLE, '--version'], dict(os.environ), '.')\n"
        "result = [open_db, closed]"
    )
    open_db, closed = _in_fresh_process(code, tmp_path)
    assert not open_db["forked"] and open_db["code"] == 0
    assert open_db["reason"].startswith("started anew: the process runs ")
    assert "thread(s) of a library's own" in open_db["reason"]
    assert closed["forked"] and closed["output"] == open_db["output"]


def test_another_executable_or_other_popen_arguments_are_started_anew(tmp_path: Path):
    code = START + (
        "other = through([sys.executable, '-c', 'print(42)'], dict(os.environ), '.')\n"
        "process = start([DBT_EXECUTABLE, '--version'], env=dict(os.environ), cwd='.',\n"
        "    stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "reason = process.how\n"
        "process.communicate()\n"
        "result = [other, {'forked': isinstance(process, ForkedDbt), 'reason': reason}]"
    )
    other, separate_errors = _in_fresh_process(code, tmp_path)
    assert (other["forked"], other["output"], other["code"]) == (False, "42\n", 0)
    assert other["reason"] == f"started anew: the dbt executable is {sys.executable!r}, not " + (
        DBT_EXECUTABLE
    )
    assert not separate_errors["forked"]
    assert "output and errors on one pipe" in separate_errors["reason"]


def test_the_child_has_a_new_processs_signals_and_stops_on_sigint(tmp_path: Path):
    """The run's process handles SIGINT and SIGTERM its own way (here: ignores them); the child
    does not inherit that, so dagster-dbt's SIGINT on a cancelled run stops dbt."""
    code = START + (
        "import signal, time\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "def main(args):\n"
        "    print(signal.getsignal(signal.SIGINT) is signal.default_int_handler,\n"
        "          signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, flush=True)\n"
        "    time.sleep(60)\n"
        "process = ForkedDbt([DBT_EXECUTABLE, 'build'], dict(os.environ), '.', main=main)\n"
        "first = process.stdout.readline().decode()\n"
        "began = time.monotonic()\n"
        "process.send_signal(signal.SIGINT)\n"
        "code = process.wait(timeout=30)\n"
        "rest = process.stdout.read().decode()\n"
        "result = {'first': first, 'code': code, 'seconds': time.monotonic() - began,\n"
        "          'rest': rest}"
    )
    got = _in_fresh_process(code, tmp_path)
    assert got["first"] == "True True\n"
    assert got["code"] == -2  # killed by SIGINT, as a Python process stopped by Ctrl-C is
    assert "KeyboardInterrupt" in got["rest"]
    assert got["seconds"] < 30


# a library that starts threads of its own on import, the variable that stops it, the value
# `sources` gives it and one that lets it start them
LIBRARY_THREADS = [
    # numpy (pandas): OpenBLAS's pool, one thread per further core
    pytest.param("numpy", "OPENBLAS_NUM_THREADS", "1", "2", id="numpy"),
    # pyarrow, which pandas imports wherever it is installed: its jemalloc's background thread
    # (not among this project's requirements: run where a developer's environment has it, as a
    # team's often does)
    pytest.param(
        "pandas, pyarrow",
        "JE_ARROW_MALLOC_CONF",
        "background_thread:false",
        "background_thread:true",
        id="pyarrow",
    ),
]


@pytest.mark.parametrize(("modules", "variable", "default", "threaded"), LIBRARY_THREADS)
def test_a_library_leaves_the_run_forkable_unless_the_environment_gives_it_threads(
    tmp_path: Path, modules: str, variable: str, default: str, threaded: str
):
    """Importing the library starts threads of its own unless `variable` says otherwise;
    `sources` says so unless the environment has a value."""
    for module in modules.split(", "):
        pytest.importorskip(module)
    code = START + (
        f"import {modules}\n"
        f"result = [os.environ[{variable!r}],\n"
        "          through([DBT_EXECUTABLE, '--version'], dict(os.environ), '.')]"
    )
    env = {k: v for k, v in os.environ.items() if k != variable}
    (given, forked) = _in_fresh_process(code, tmp_path, env)
    assert (given, forked["forked"]) == (default, True)
    (given, anew) = _in_fresh_process(code, tmp_path, env | {variable: threaded})
    assert (given, anew["forked"]) == (threaded, False)
    assert anew["reason"] == (
        "started anew: the process runs 1 thread(s) of a library's own (an open DuckDB database, "
        "OpenBLAS, pyarrow's jemalloc)"
    )


def test_a_process_holding_sparks_jvm_starts_dbt_anew_until_the_jvm_is_stopped(tmp_path: Path):
    """The Spark ingestion stops its session but pyspark keeps the JVM it launched (the class's
    gateway): a forked dbt-spark would reuse that JVM with the run's settings instead of its own.
    The dbt step stops it first (`stop_jvm`): the JVM process exits, dbt forks, and a later
    session in the process launches a JVM of its own."""
    code = START + (
        "import pyspark\n"
        "from sources.spark.jvm import jvm_running, stop_jvm\n"
        "pyspark.SparkContext._ensure_initialized()  # what a session starts with: the JVM\n"
        "jvm = pyspark.SparkContext._gateway.proc\n"
        "held = through([DBT_EXECUTABLE, '--version'], dict(os.environ), '.')\n"
        "stopped = stop_jvm()\n"
        "after = through([DBT_EXECUTABLE, '--version'], dict(os.environ), '.')\n"
        "pyspark.SparkContext._ensure_initialized()\n"
        "again = pyspark.SparkContext._gateway.proc\n"
        "result = [held, stopped, jvm.poll(), after, again.poll(), jvm_running(), stop_jvm(),\n"
        "          again.poll(), stop_jvm()]"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYSPARK_GATEWAY_PORT"}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    held, stopped, jvm_exit, after, running, listed, stopped_again, exited, none_left = (
        _in_fresh_process(code, tmp_path, env)
    )
    assert not held["forked"]
    assert held["reason"] == (
        "started anew: the process has started Spark's JVM (a forked dbt would share it, not "
        "start its own)"
    )
    assert stopped is True and jvm_exit is not None  # the JVM process has exited
    assert after["forked"] and after["output"] == held["output"]
    assert running is None and listed is True  # a new JVM for a new session
    assert stopped_again is True and exited is not None and none_left is False
