"""The client-side deadline and the connection slots of the PostgreSQL adapter, in process: a call
on a black-holed connection is Unavailable at its deadline (not seconds later), its connection is
dropped and replaced, a held transaction is lost, and more callers than connections all get their
answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest

from evshare.config import load_settings
from evshare.errors import Unavailable
from evshare.model import Charger
from evshare.store import Visibility, open_store
from evshare.store.postgres import PostgresStore
from evshare.store.postgres.connection import Connection
from tests.postgres.conftest import with_port
from tests.postgres.proxy import Proxy

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

EVERYONE = Visibility("admin", all_chargers=True)
# The deadline of a one-statement call here: 1 s to get a connection + 1 s statement + 1 s margin.
DEADLINE_S = 3.0
SLACK_S = 1.0


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[Proxy]:
    parts = urlsplit(postgres_url)
    with Proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as running:
        yield running


async def open_through(proxy: Proxy, database_url: str, pool_max: int) -> PostgresStore:
    settings = load_settings(
        database_url=with_port(database_url, proxy.port),
        db_connect_timeout=1,
        db_statement_timeout=1,
        db_pool_min=1,
        db_pool_max=pool_max,
    )
    opened = await open_store(settings, check_schema=False)
    assert isinstance(opened, PostgresStore)
    return opened


@pytest.fixture
async def store(postgres_database: str, proxy: Proxy) -> AsyncIterator[PostgresStore]:
    opened = await open_through(proxy, postgres_database, pool_max=2)
    try:
        yield opened
    finally:
        proxy.restore()
        await opened.close()


@pytest.fixture
async def single(postgres_database: str, proxy: Proxy) -> AsyncIterator[PostgresStore]:
    """A store of one connection, so that every call runs on the same one while it lives."""
    opened = await open_through(proxy, postgres_database, pool_max=1)
    try:
        yield opened
    finally:
        proxy.restore()
        await opened.close()


async def backend_pid(store: PostgresStore) -> int:
    async def query(conn: Connection) -> int:
        cursor = await conn.execute("SELECT pg_backend_pid()")
        [(pid,)] = await cursor.fetchall()
        return int(pid)

    return await store._db.read(query)


async def test_a_black_hole_is_unavailable_at_the_deadline_and_its_connection_replaced(
    single: PostgresStore, proxy: Proxy
) -> None:
    store = single
    before = await backend_pid(store)
    proxy.black_hole()
    started = time.monotonic()
    with pytest.raises(Unavailable, match="the database cannot answer"):
        await store.charger_json(EVERYONE, "CA-404")
    took = time.monotonic() - started
    # Not psycopg's cancel-and-wait (up to 10 s): the socket is shut at the deadline.
    assert DEADLINE_S - SLACK_S < took < DEADLINE_S + SLACK_S
    proxy.restore()
    # The connection given up on is never handed out again: a new one answers.
    deadline = time.monotonic() + 30
    while True:
        try:
            after = await backend_pid(store)
            break
        except Unavailable:
            assert time.monotonic() < deadline, "the store did not recover"
            await asyncio.sleep(0.1)
    assert after != before


async def test_a_transaction_given_up_on_is_lost_and_later_calls_are_unavailable_at_once(
    store: PostgresStore, proxy: Proxy
) -> None:
    failures: list[str] = []

    async def import_into_a_black_hole() -> None:
        async with store.importing() as session:
            proxy.black_hole()
            try:
                await session.upsert_chargers([Charger(id="CA-1", name="one")])
            except Unavailable as exc:
                failures.append(str(exc))
            started = time.monotonic()
            try:
                await session.repeated(["CA-1"])
            except Unavailable as exc:
                failures.append(str(exc))
            assert time.monotonic() - started < 0.5  # at once: the transaction is lost

    with pytest.raises(Unavailable, match="stopped answering"):  # its COMMIT
        await import_into_a_black_hole()
    assert len(failures) == 2, failures
    assert "stopped answering" in failures[1]
    proxy.restore()
    assert await store.charger_json(EVERYONE, "CA-1") is None  # nothing was written


async def test_more_callers_than_connections_all_get_their_answer(store: PostgresStore) -> None:
    answers = await asyncio.gather(*(store.charger_json(EVERYONE, "CA-404") for _ in range(50)))
    assert answers == [None] * 50


async def test_callers_waiting_for_a_connection_give_up_within_the_connection_wait(
    store: PostgresStore, proxy: Proxy
) -> None:
    await asyncio.gather(*(backend_pid(store) for _ in range(4)))  # both connections open
    proxy.black_hole()
    started = time.monotonic()
    results = await asyncio.gather(
        *(store.charger_json(EVERYONE, "CA-404") for _ in range(6)), return_exceptions=True
    )
    took = time.monotonic() - started
    assert all(isinstance(result, Unavailable) for result in results), results
    # Two hold the connections until their deadline; the others wait 1 s for one at most.
    assert took < DEADLINE_S + SLACK_S
