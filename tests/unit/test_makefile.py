"""`make test` on a fresh machine (the README's second command, what CI runs): it installs the
Python stack and the missing Debian packages before it runs anything (read from `make -n`, with a
virtualenv that does not exist yet)."""

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_make_test_installs_what_it_needs_before_the_suite(tmp_path):
    dry = subprocess.run(
        ["make", "-n", "test", f"VENV={tmp_path / 'venv'}"],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()  # fmt: skip

    def first(needle: str) -> int:
        return next(i for i, line in enumerate(dry) if needle in line)

    suite = first("-m pytest")
    assert first("-m venv") < first("-r requirements.lock") < first("ruff check") < suite
    assert first("apt-get install") < suite  # whatever is missing, in one apt-get
    assert sum("apt-get update" in line for line in dry) == 1
