"""`kill -9` of a real `evshare collect` at random points, then a re-run: the store must equal
that of one clean collect (nothing lost, nothing doubled, the same watermarks)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from evshare.store import schema
from tests.client.conftest import ProviderFactory
from tests.client.providers import KEY
from tests.client.test_collect import provider_rows, stored
from tests.servers import EVSHARE

pytestmark = [pytest.mark.slow, pytest.mark.process]


def start(db: str, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EVSHARE, "collect", "acme", url, "--key-env", "ACME_KEY", "--concurrency", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "EVSHARE_DATABASE_URL": db, "ACME_KEY": KEY},
    )


@pytest.mark.parametrize("store_kind", ["sqlite", "postgres"])
def test_killed_at_random_points_then_rerun_equals_a_clean_collect(
    provider: ProviderFactory, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    if store_kind == "sqlite":
        killed_db = f"sqlite:///{tmp_path / 'killed.db'}"
        schema.upgrade(killed_db)
    else:
        killed_db = str(request.getfixturevalue("database_url_postgres_empty"))
    clean_db = f"sqlite:///{tmp_path / 'clean.db'}"
    schema.upgrade(clean_db)
    seed = int(os.environ.get("EVSHARE_KILL_SEED", str(time.time_ns() % 10**6)))
    chooser = random.Random(seed)  # noqa: S311 - when to kill, not a secret
    with provider(chargers=60, sessions=120, delay=0.03) as (p, url):
        began = time.monotonic()
        clean = start(clean_db, url)
        _, err = clean.communicate(timeout=300)
        assert clean.returncode == 0, err
        whole = time.monotonic() - began
        # Each run is killed within its first third of a whole collect, so that the first three
        # are always killed before they finish (three thirds, each with its own start-up, do
        # not add up to a whole), however fast this machine is; the later ones may finish.
        kills = 0
        for _ in range(6):
            process = start(killed_db, url)
            time.sleep(chooser.uniform(0.1, 0.33) * whole)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(30)
        finished = start(killed_db, url)
        _, err = finished.communicate(timeout=300)
        assert finished.returncode == 0, err
    assert kills >= 3, f"seed {seed}: too few kills landed"
    killed_state = asyncio.run(stored(killed_db))
    clean_state = asyncio.run(stored(clean_db))
    assert killed_state == clean_state, f"seed {seed}"
    assert killed_state[1] == provider_rows("acme", p)
