"""Stopping `evshare serve` the way a terminal's Ctrl-C does: SIGINT to its whole process group.

The main process then stops each worker with SIGTERM. A worker that also took the SIGINT could
get both stop signals in one turn of its loop, which deadlocked granian's worker in its signal
handler until the main process killed it 15 s later, losing the usage counted since its last
flush (api/server.py, WorkerApp). Every stop here must be prompt and every request counted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from evshare.config import load_settings
from evshare.store import open_store, schema
from tests.api.conftest import seed
from tests.servers import serve

pytestmark = pytest.mark.slow

ROUNDS = 4
REQUESTS = 3
# Well under granian's 15 s before it kills a worker that will not stop.
PROMPT_STOP_S = 5.0


async def _requests_counted(database_url: str, key_name: str) -> int:
    store = await open_store(load_settings(database_url=database_url))
    try:
        return sum(row.requests for row in await store.usage() if row.key_name == key_name)
    finally:
        await store.close()


def _stop_like_ctrl_c(process: subprocess.Popen[bytes]) -> float:
    """SIGINT to the server's process group; the seconds until the server has exited."""
    began = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=3 * PROMPT_STOP_S)
    return time.monotonic() - began


def test_ctrl_c_stops_every_worker_promptly_and_keeps_its_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evshare.db'}"
    schema.upgrade(url)
    keys = asyncio.run(seed(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSHARE_")}
    env["EVSHARE_DATABASE_URL"] = url
    log = tmp_path / "server.log"
    for _ in range(ROUNDS):
        # serve() stops the server itself only if the Ctrl-C did not.
        with serve(env, log, "--workers", "2") as server:
            for _ in range(REQUESTS):
                answer = httpx.get(
                    server.base + "/chargers/CH-001", headers={"x-api-key": keys.all}, timeout=10
                )
                assert answer.status_code == 200
            took = _stop_like_ctrl_c(server.process)
            output = server.output()
        assert server.process.returncode == 0, output
        assert took < PROMPT_STOP_S, output
    # Each worker's last counts reach the database only at its graceful shutdown.
    assert asyncio.run(_requests_counted(url, "all")) == ROUNDS * REQUESTS
