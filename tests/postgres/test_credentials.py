"""Credentials kept in memory on PostgreSQL (store/postgres/credentials.py), against a real server:
read once while the listener hears, dropped within a notification when any key changes, and not
kept at all while the listener is lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from evshare import keys
from evshare.config import load_settings
from evshare.model import Credential
from evshare.store import open_store, schema
from evshare.store.postgres import PostgresStore
from tests.postgres.conftest import new_database

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _open(url: str) -> PostgresStore:
    store = await open_store(load_settings(database_url=url))
    assert isinstance(store, PostgresStore)
    return store


@pytest.fixture
async def stores(postgres_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore, str]]:
    """A server's store and a second one standing for the CLI, on a database with one key."""
    with new_database(postgres_url) as url:
        schema.upgrade(url)
        server, cli = await _open(url), await _open(url)
        try:
            token = await keys.create(cli, "acme", now=NOW, all_chargers=True)
            yield server, cli, token
        finally:
            await server.close()
            await cli.close()


async def _until(check: Callable[[], Awaitable[bool]], seconds: float) -> float:
    """Seconds until `check()` holds, polled; fails the test after `seconds`."""
    began = time.monotonic()
    while not await check():
        assert time.monotonic() - began < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - began


def _count_reads(store: PostgresStore) -> list[int]:
    """Counts the store's own database calls from now on."""
    calls = [0]
    read = store._db.read

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await read(*args, **kwargs)

    store._db.read = counted  # type: ignore[method-assign]
    return calls


async def _lookup(store: PostgresStore, token: str) -> Credential | None:
    lookup = keys.lookup_id_of(token)
    assert lookup is not None
    return await store.find_credential(lookup)


async def _live(store: PostgresStore) -> bool:
    return store._credentials.live


async def test_a_credential_is_read_once_while_the_listener_hears(
    stores: tuple[PostgresStore, PostgresStore, str],
) -> None:
    server, _, token = stores
    assert await _lookup(server, token) is not None  # starts the listener
    await _until(lambda: _live(server), 10)
    reads = _count_reads(server)
    for _ in range(50):
        found = await _lookup(server, token)
        assert found is not None
        assert found.key_name == "acme"
    assert reads[0] == 1


async def test_a_key_revoked_elsewhere_is_refused_within_a_notification(
    stores: tuple[PostgresStore, PostgresStore, str],
) -> None:
    server, cli, token = stores
    await _lookup(server, token)
    await _until(lambda: _live(server), 10)
    cached = await _lookup(server, token)
    assert cached is not None
    assert not cached.revoked

    await cli.revoke_key("acme", NOW)

    async def revoked() -> bool:
        found = await _lookup(server, token)
        return found is not None and found.revoked

    assert await _until(revoked, 2) < 1.0


async def test_unknown_secrets_are_not_kept(
    stores: tuple[PostgresStore, PostgresStore, str],
) -> None:
    server, _, token = stores
    await _lookup(server, token)
    await _until(lambda: _live(server), 10)
    await _lookup(server, token)  # kept: the cache is live now
    reads = _count_reads(server)
    for n in range(5):
        assert await server.find_credential(f"nosuchlookup{n:04d}") is None
        assert await server.find_credential(f"nosuchlookup{n:04d}") is None
    assert reads[0] == 10
    assert list(server._credentials._entries) == [keys.lookup_id_of(token)]


async def test_a_lost_listener_turns_the_cache_off_until_it_is_back(
    stores: tuple[PostgresStore, PostgresStore, str],
) -> None:
    server, cli, token = stores
    await _lookup(server, token)
    await _until(lambda: _live(server), 10)
    with psycopg.connect(server._credentials._conninfo, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE (query LIKE 'LISTEN evshare_keys%' OR query LIKE '%pg_notify(%') "
            "AND pid <> pg_backend_pid() AND datname = current_database()"
        ).fetchall()
    assert killed

    async def off() -> bool:
        return not server._credentials.live

    await _until(off, 5)
    # While it is off, a change cannot be missed: every lookup reads the database.
    reads = _count_reads(server)
    await cli.revoke_key("acme", NOW)
    found = await _lookup(server, token)
    assert found is not None
    assert found.revoked
    assert reads[0] == 1
    # It comes back by itself, empty (what changed meanwhile was not heard).
    await _until(lambda: _live(server), 10)
    again = await _lookup(server, token)
    assert again is not None
    assert again.revoked
