"""The connection pool, and the one way the adapter uses it: bounded in time, failures as
Unavailable.

Safe behind PgBouncer (transaction pooling) and RDS Proxy:

- no server-side prepared statements unless `db_prepare` is set (`prepare_threshold=None`): a
  transaction pooler may run the next statement on a server connection that never saw the PREPARE;
- no startup `options` (PgBouncer rejects them): the statement timeout is a `SET` in the pool's
  `configure` callback. Behind PgBouncer in transaction mode that `SET` reaches only the server
  connection it ran on, so there set it on the role as well
  (`ALTER ROLE evshare SET statement_timeout = '5s'`); the client-side deadline below bounds every
  call whatever the server does;
- every write is one explicit transaction, and its temporary table lives only inside it.

Connections are not checked when taken from the pool: that is a round trip per call (in a loop of
charger lookups, 5,000 calls/s instead of 7,000). A read whose connection turns out dead (a
restarted server, a failover) is repeated on another, after dropping the dead idle ones.

Each call runs as a task with a deadline: the time to get a connection, plus the statement timeout
for each statement the call runs, plus a margin. A server that stops answering without closing the
socket (a black-holed network, a hung proxy) never trips the server's statement timeout, and
psycopg's own cancellation of an interrupted query can itself wait on that socket for seconds; so
at the deadline the caller gets Unavailable at once and the task finishes its cleanup on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from evshare.config import Settings
from evshare.errors import Unavailable

log = logging.getLogger("evshare.store.postgres")

T = TypeVar("T")
Connection = psycopg.AsyncConnection[TupleRow]
Work = Callable[[Connection], Awaitable[T]]

# Far past any real timestamp, inside bigint: stands for an open end of a range.
FAR_PAST = -(2**62)
FAR_FUTURE = 2**62

# Beyond the sum of the database's own limits: lets the server's statement timeout, which leaves
# the connection usable, fire before the client gives up on the connection.
_MARGIN_S = 1.0
# The pool retries a failed connection with doubling delays until this many seconds have passed,
# then starts afresh on the next request: the server is back in use within seconds of the database.
_RECONNECT_WINDOW_S = 10.0


def _kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        # The reads are single statements: autocommit saves a BEGIN and a COMMIT round trip each.
        # Writes open their transaction explicitly.
        "autocommit": True,
        # libpq counts whole seconds and enforces at least 2.
        "connect_timeout": max(2, math.ceil(settings.db_connect_timeout)),
        "application_name": "evshare",
    }
    if not settings.db_prepare:
        kwargs["prepare_threshold"] = None
    return kwargs


class Database:
    """The pool of one process, and every call the adapter makes through it."""

    def __init__(self, pool: AsyncConnectionPool[Connection], settings: Settings) -> None:
        self._pool = pool
        self._wait_s = settings.db_connect_timeout
        self._statement_s = settings.db_statement_timeout
        # Tasks given up on at their deadline, kept referenced until their cleanup ends.
        self._abandoned: set[asyncio.Task[Any]] = set()

    @classmethod
    async def open(cls, settings: Settings) -> Database:
        """Open the pool; connections are made in the background (no wait for the database)."""
        timeout_ms = round(settings.db_statement_timeout * 1000)

        async def configure(conn: Connection) -> None:
            await conn.execute(
                "SELECT set_config('statement_timeout', %s, false)", (str(timeout_ms),)
            )

        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            settings.database_url,
            kwargs=_kwargs(settings),
            min_size=min(settings.db_pool_min, settings.db_pool_max),
            max_size=settings.db_pool_max,
            configure=configure,
            timeout=settings.db_connect_timeout,
            reconnect_timeout=_RECONNECT_WINDOW_S,
            name="evshare",
            open=False,
        )
        await pool.open(wait=False)
        return cls(pool, settings)

    async def close(self) -> None:
        for task in list(self._abandoned):
            task.cancel()
        await self._pool.close()

    async def read(self, work: Work[T], *, statements: int = 1) -> T:
        """Run `work` (at most `statements` statements) on a pooled connection."""
        return await self._bounded(self._read(work), statements=statements)

    async def write(self, work: Work[T], *, statements: int) -> T:
        """Run `work` (at most `statements` statements) in one transaction."""
        return await self._bounded(self._write(work), statements=statements)

    @asynccontextmanager
    async def transaction(self, *, commit: bool = True) -> AsyncIterator[Transaction]:
        """One connection and one transaction held across many calls (an import), committed on a
        clean exit if `commit`, else rolled back; rolled back on an error."""
        with _translated_errors():
            conn = await self._pool.getconn()
        held = Transaction(self, conn)
        try:
            await held.run(_execute("BEGIN"), statements=1)
            try:
                yield held
            except BaseException:
                with contextlib.suppress(Unavailable):
                    await held.run(_execute("ROLLBACK"), statements=1)
                raise
            await held.run(_execute("COMMIT" if commit else "ROLLBACK"), statements=1)
        finally:
            if held.lost:
                # A call given up on may still be using it: it must never be handed out again.
                await conn.close()
            await self._pool.putconn(conn)

    async def _read(self, work: Work[T]) -> T:
        with _translated_errors():
            # A restarted or failed-over server leaves every pooled connection dead. A read is
            # safe to repeat: drop the dead idle ones and try again, as often as the pool could
            # hold dead connections (each one found is discarded).
            for _ in range(self._pool.max_size):
                try:
                    return await self._on_connection(work)
                except _BrokenConnection:
                    await self._pool.check()
            return await self._on_connection(work)

    async def _write(self, work: Work[T]) -> T:
        async def in_transaction(conn: Connection) -> T:
            async with conn.transaction():
                return await work(conn)

        with _translated_errors():
            return await self._on_connection(in_transaction)

    async def _on_connection(self, work: Work[T]) -> T:
        async with self._pool.connection() as conn:
            try:
                return await work(conn)
            except psycopg.OperationalError as exc:
                if conn.broken:
                    raise _BrokenConnection from exc
                raise

    async def _bounded(self, call: Awaitable[T], *, statements: int) -> T:
        deadline = self._wait_s + statements * self._statement_s + _MARGIN_S
        task = asyncio.ensure_future(call)
        try:
            done, _ = await asyncio.wait((task,), timeout=deadline)
        except asyncio.CancelledError:
            task.cancel()  # the caller went away: so does its work
            raise
        if done:
            return task.result()
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(_forget(self._abandoned))
        raise Unavailable(f"the database did not answer within {deadline:g} s")


class Transaction:
    """Calls on the connection of `Database.transaction`, each bounded like any other. Once one
    is given up on, the transaction is lost: every later call is Unavailable at once."""

    def __init__(self, db: Database, conn: Connection) -> None:
        self._db = db
        self._conn = conn
        self.lost = False

    async def run(self, work: Work[T], *, statements: int) -> T:
        if self.lost:
            raise Unavailable("the database stopped answering during this transaction")
        try:
            return await self._db._bounded(self._call(work), statements=statements)
        except Unavailable:
            self.lost = True
            raise

    async def _call(self, work: Work[T]) -> T:
        with _translated_errors():
            return await work(self._conn)


def _execute(statement: str) -> Work[None]:
    async def work(conn: Connection) -> None:
        await conn.execute(statement)

    return work


class _BrokenConnection(Exception):
    """The connection itself failed (closed by the server or the network), not the statement."""


def _forget(abandoned: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        abandoned.discard(task)
        # Its caller was answered Unavailable already; retrieving the outcome keeps asyncio from
        # reporting it as never retrieved.
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.debug("abandoned database call ended with %r", exc)

    return done


@contextmanager
def _translated_errors() -> Iterator[None]:
    """A lost connection, a pool timeout or a statement timeout is a temporary unavailability;
    other database errors are bugs, and stay errors."""
    try:
        yield
    except _BrokenConnection as exc:
        raise _unavailable(exc.__cause__) from None
    except psycopg.OperationalError as exc:
        raise _unavailable(exc) from None


def _unavailable(exc: BaseException | None) -> Unavailable:
    lines = str(exc).strip().splitlines()
    return Unavailable(f"the database cannot answer: {lines[0] if lines else type(exc).__name__}")
