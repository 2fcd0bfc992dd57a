"""`evshare demo`, `evshare db` and `evshare serve` on PostgreSQL, as real subprocesses: the demo
set loads, two workers each open their own pool and answer real requests, and a schema that is
not current is refused with the command that fixes it."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from evshare.config import load_settings
from evshare.errors import SchemaOutOfDate
from evshare.store import open_store, schema
from tests.servers import EVSHARE, serve, server_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def evshare(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [EVSHARE, *args, "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=server_env(database_url, COLUMNS="200"),
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def evshare_connections(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as admin:
        [(count,)] = admin.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'evshare'"
        ).fetchall()
    return int(count)


def test_the_demo_set_served_by_two_workers_each_with_its_own_pool(
    empty_database: str, tmp_path: Path
) -> None:
    loaded = evshare("demo", database_url=empty_database)
    assert loaded.returncode == 0, loaded.stderr
    assert re.search(r"loaded demo data: 36 chargers, \d{5} sessions", loaded.stderr)
    match = re.search(r"evs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", loaded.stdout)
    assert match is not None, loaded.stdout
    token = match[0]

    env = server_env(empty_database, EVSHARE_DB_POOL_MIN="3", EVSHARE_DB_POOL_MAX="5")
    with serve(env, tmp_path / "server.log", "--workers", "2") as server:

        def fetch(path: str) -> httpx.Response:
            # A connection per request, so that both workers get some.
            return httpx.get(server.base + path, headers={"x-api-key": token}, timeout=30)

        with ThreadPoolExecutor(8) as pool:
            pages = list(pool.map(fetch, ["/chargers?pageSize=1000"] * 40))
        assert {page.status_code for page in pages} == {200}
        chargers = pages[0].json()
        assert chargers["total"] == 36
        assert all(page.json() == chargers for page in pages)
        ids = [charger["id"] for charger in chargers["chargers"]]
        assert ids == sorted(ids, key=str.encode)
        every = fetch(f"/chargers/{ids[0]}/sessions").json()
        assert len(every) > 100
        assert every == sorted(every, key=lambda s: (s["startTime"], s["id"].encode()))
        day = every[50]["startTime"][:10]
        one_day = fetch(f"/chargers/{ids[0]}/sessions?startDate={day}&endDate={day}").json()
        assert one_day == [s for s in every if s["startTime"].startswith(day)]

        # Each worker opened its own pool at startup: twice the minimum, never above the maxima.
        deadline = time.monotonic() + 10
        while (held := evshare_connections(empty_database)) < 2 * 3:
            assert time.monotonic() < deadline, f"{held} connections, not 2 pools of at least 3"
            time.sleep(0.1)
        assert held <= 2 * 5
        log = server.output()
        assert len(set(re.findall(r"Started server process \[(\d+)\]", log))) == 2, log
        assert log.count("Application startup complete") == 2, log


def migrate_to(database_url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(schema.__file__).with_name("migrations")))
    engine = sa.create_engine(schema.sqlalchemy_url(database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


@pytest.mark.parametrize("revision", [None, "0001"])
def test_a_schema_that_is_not_current_is_refused_until_upgraded(
    empty_database: str, tmp_path: Path, revision: str | None
) -> None:
    if revision is not None:
        migrate_to(empty_database, revision)
    have = revision or "an empty database"
    head = schema.head_revision()
    assert head != revision

    with pytest.raises(SchemaOutOfDate, match=f"at {have}, this evshare needs {head}"):
        asyncio.run(open_store(load_settings(database_url=empty_database)))
    refused = evshare("serve", "--port", "0", database_url=empty_database)
    assert refused.returncode == 1
    assert "run `evshare db upgrade`" in refused.stderr
    current = evshare("db", "current", database_url=empty_database)
    assert current.returncode == 1
    assert "out of date: run `evshare db upgrade`" in current.stdout

    upgraded = evshare("db", "upgrade", database_url=empty_database)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"to {head}" in upgraded.stdout
    current = evshare("db", "current", database_url=empty_database)
    assert current.returncode == 0
    assert "up to date" in current.stdout
    with serve(server_env(empty_database), tmp_path / "server.log") as server:
        assert httpx.get(server.base + "/health", timeout=10).status_code == 200
