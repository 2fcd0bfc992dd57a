"""The AWS commands run as a user runs them: `evshare aws ...` in a process of its own."""

from __future__ import annotations

import subprocess

from tests.servers import EVSHARE


def refused(*args: str) -> str:
    """`evshare ARGS`, which must refuse: exit 1 with a message and no traceback; its stderr."""
    done = subprocess.run([EVSHARE, *args], capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr
