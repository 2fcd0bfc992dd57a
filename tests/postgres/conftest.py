"""Real evshare servers (`evshare serve` subprocesses) over real PostgreSQL databases of their own.

Every server is stopped (SIGTERM, then SIGKILL of its process group) and every database dropped,
whatever happens; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from evshare import keys
from evshare.config import load_settings
from evshare.model import Charger, Session
from evshare.store import open_store, schema

CHARGER = Charger(id="CH-001", name="Calgary L2", max_output_power_w=7200, number_of_connectors=2)
SESSION = Session(
    id="s-1",
    charger_id="CH-001",
    start_time=datetime(2025, 3, 1, 8, tzinfo=UTC),
    end_time=datetime(2025, 3, 1, 9, tzinfo=UTC),
    energy_wh=17934.1,
    charging_duration_s=3000,
)


def with_port(database_url: str, port: int) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


@contextmanager
def new_database(postgres_url: str) -> Iterator[str]:
    """An empty database (no schema) of its own, dropped at the end."""
    name = f"evshare_pg_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    with new_database(postgres_url) as url:
        yield url


@dataclass(frozen=True)
class Served:
    database_url: str
    token: str  # sees every charger


async def _seed(database_url: str) -> str:
    store = await open_store(load_settings(database_url=database_url))
    try:
        await store.upsert_chargers([CHARGER])
        await store.upsert_sessions([SESSION])
        return await keys.create(store, "tester", now=datetime.now(UTC), all_chargers=True)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def served_database(postgres_url: str) -> Iterator[Served]:
    """A migrated database with one charger, its session and a key."""
    with new_database(postgres_url) as url:
        schema.upgrade(url)
        yield Served(url, asyncio.run(_seed(url)))
