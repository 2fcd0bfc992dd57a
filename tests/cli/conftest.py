"""Run the `evshare` command as a user would: its real entry point (`evshare.cli:main`) with
the arguments, environment and working folder given, its output captured.

In-process by default: starting a Python for each command cost more than all the rest of the
CLI tests together. EVSHARE_TEST_CLI=subprocess runs the installed `evshare` script instead
(the real process, as CI may want now and then); tests that need a real process (`evshare
serve`) start one themselves (tests/servers.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import EVSHARE

# Rich reads the width once, when its consoles are made (on import of evshare.cli).
os.environ.setdefault("COLUMNS", "200")
SUBPROCESS = os.environ.get("EVSHARE_TEST_CLI") == "subprocess"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@contextlib.contextmanager
def _environment(env: dict[str, str], cwd: Path) -> Iterator[None]:
    saved, folder = dict(os.environ), os.getcwd()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(saved)


def run_in_process(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> Result:
    from evshare.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, code = sys.argv, 0
    sys.argv = ["evshare", *args]
    try:
        with (
            _environment(env, cwd),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except Exception:
        pytest.fail(f"evshare {' '.join(args)} raised:\n{traceback.format_exc()}")
    finally:
        sys.argv = argv
    return Result(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class Cli:
    database_url: str
    cwd: Path

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        overrides = {"EVSHARE_DATABASE_URL": self.database_url, "COLUMNS": "200", **(env or {})}
        if not SUBPROCESS:
            return run_in_process(args, overrides, self.cwd)
        done = subprocess.run(
            [EVSHARE, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **overrides},
            cwd=self.cwd,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path)
