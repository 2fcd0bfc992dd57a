"""What the PostgreSQL adapter promises beyond the store contract: it is chosen by the URL, opens
without waiting for the database, answers Unavailable promptly when there is none, sets the
statement timeout on its connections, and prepares no statements unless told to (PgBouncer)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from evshare.config import load_settings
from evshare.errors import Unavailable
from evshare.model import Charger
from evshare.store import Visibility, open_store
from evshare.store.postgres import PostgresStore
from evshare.store.postgres.connection import Connection
from evshare.store.sqlite import SqliteStore
from tests.postgres.conftest import with_port
from tests.servers import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

EVERYONE = Visibility("admin", all_chargers=True)
Opener = Callable[..., Awaitable[PostgresStore]]


@pytest.fixture
async def opened(postgres_database: str) -> AsyncIterator[Opener]:
    """Opens PostgreSQL stores with the given settings, and closes them at the end."""
    stores: list[PostgresStore] = []

    async def open_with(**settings: object) -> PostgresStore:
        store = await open_store(load_settings(database_url=postgres_database, **settings))
        assert isinstance(store, PostgresStore)
        stores.append(store)
        return store

    yield open_with
    for store in stores:
        await store.close()


async def session_setting(store: PostgresStore, query: str) -> object:
    """A value read on one of the store's own pooled connections."""

    async def read(conn: Connection) -> object:
        cursor = await conn.execute(query)
        [(value,)] = await cursor.fetchall()
        return value

    return await store._db.read(read)


async def test_the_url_chooses_the_store(postgres_database: str, tmp_path: Path) -> None:
    for url in (postgres_database, postgres_database.replace("postgresql://", "postgres://", 1)):
        store = await open_store(load_settings(database_url=url))
        try:
            assert isinstance(store, PostgresStore)
            await store.ping()
        finally:
            await store.close()
    sqlite = await open_store(
        load_settings(database_url=f"sqlite:///{tmp_path}/x.db"), check_schema=False
    )
    try:
        assert isinstance(sqlite, SqliteStore)
    finally:
        await sqlite.close()


async def test_no_database_is_unavailable_promptly_and_opening_does_not_wait(
    postgres_database: str,
) -> None:
    nowhere = with_port(postgres_database, free_port())
    settings = load_settings(
        database_url=nowhere, db_connect_timeout=1, db_statement_timeout=1, db_pool_min=1
    )
    started = time.monotonic()
    store = await open_store(settings, check_schema=False)
    try:
        with pytest.raises(Unavailable, match="the database cannot answer"):
            await store.ping()
        with pytest.raises(Unavailable):
            await store.chargers_json(EVERYONE, None, 0, 10)
        with pytest.raises(Unavailable):
            await store.upsert_chargers([Charger(id="CA-1", name="one")])
    finally:
        await store.close()
    assert time.monotonic() - started < 10  # bounded: never a hang


async def test_connections_carry_the_statement_timeout(opened: Opener) -> None:
    store = await opened(db_statement_timeout=2.5)
    assert await session_setting(store, "SHOW statement_timeout") == "2500ms"


@pytest.mark.parametrize(("prepare", "prepared"), [(False, 0), (True, 1)])
async def test_statements_are_prepared_only_when_asked(
    opened: Opener, prepare: bool, prepared: int
) -> None:
    # One connection, so every call runs on the session that is then inspected.
    store = await opened(db_prepare=prepare, db_pool_min=1, db_pool_max=1)
    for _ in range(10):
        assert await store.charger_json(EVERYONE, "CA-404") is None
    count = await session_setting(
        store, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%chargers c%'"
    )
    assert count == prepared
