"""Run the real `evshare` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import EVSHARE


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Cli:
    database_url: str
    cwd: Path

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        full_env = {**os.environ, "EVSHARE_DATABASE_URL": self.database_url, "COLUMNS": "200"}
        full_env.update(env or {})
        done = subprocess.run(
            [EVSHARE, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=full_env,
            cwd=self.cwd,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(f"sqlite:///{tmp_path / 'cli.db'}", tmp_path)
