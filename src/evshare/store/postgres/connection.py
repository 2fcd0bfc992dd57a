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
restarted server, a failover) is repeated on another; the pool replaces each dead one returned.

Every call has a deadline: the time to get a connection, plus the statement timeout for each
statement the call runs, plus a margin. Getting a connection is bounded by the pool's own timeout.
What the call then runs on the connection is bounded by a timer, armed for the call and cancelled
after it, that at the deadline shuts the connection's socket down. A server that stops answering
without closing the socket (a black-holed network, a hung proxy) never trips the server's statement
timeout; but with its socket shut, libpq fails at once, the caller gets Unavailable, and the pool
replaces the connection. The caller is not cancelled instead: psycopg answers a cancellation by
sending the server a cancel request and waiting for the query to end, up to 10 s on such a server.
(A caller cancelled by someone else, a task stopped at shutdown, does wait for that request: at
once on a server that answers, 5 s at most on one that does not.)

The timer and the slot (below) cost about 10 µs per call. Running each call as a task of its own
under `asyncio.wait`, and queueing callers in the pool, cost 20 to 40 µs and two more turns of the
event loop: a fifth of the throughput of a server doing two short queries a request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
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
        # One slot per connection the pool may hold. Callers beyond them queue here, on a plain
        # future each, rather than in the pool, whose queue costs a task, a condition and a timer
        # per waiting caller: a server with more requests in flight than connections waits there
        # on every call.
        self._slots = asyncio.Semaphore(pool.max_size)

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

    @property
    def size(self) -> int:
        """The most connections the pool holds."""
        return self._pool.max_size

    async def close(self) -> None:
        await self._pool.close()

    async def read(self, work: Work[T], *, statements: int = 1) -> T:
        """Run `work` (at most `statements` statements) on a pooled connection."""
        deadline = self._deadline(statements)
        try:
            # A restarted or failed-over server leaves every pooled connection dead. A read is
            # safe to repeat: try again, as often as the pool could hold dead connections (each
            # one found is replaced), all within the one deadline.
            for _ in range(self._pool.max_size):
                try:
                    return await self._on_connection(work, deadline)
                except _BrokenConnection:
                    pass
            return await self._on_connection(work, deadline)
        except _BrokenConnection as exc:
            raise _unavailable(exc.__cause__) from None
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from None

    async def write(self, work: Work[T], *, statements: int) -> T:
        """Run `work` (at most `statements` statements) in one transaction."""

        async def in_transaction(conn: Connection) -> T:
            async with conn.transaction():
                return await work(conn)

        try:
            return await self._on_connection(in_transaction, self._deadline(statements))
        except _BrokenConnection as exc:
            raise _unavailable(exc.__cause__) from None
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from None

    @asynccontextmanager
    async def transaction(self, *, commit: bool = True) -> AsyncIterator[Transaction]:
        """One connection and one transaction held across many calls (an import), committed on a
        clean exit if `commit`, else rolled back; rolled back on an error."""
        try:
            conn = await self._checkout(self._deadline(0))
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from None
        held = Transaction(self, conn)
        try:
            await held.run(_execute("BEGIN"), statements=1)
            try:
                yield held
            except BaseException:
                with suppress(Unavailable):
                    await held.run(_execute("ROLLBACK"), statements=1)
                raise
            await held.run(_execute("COMMIT" if commit else "ROLLBACK"), statements=1)
        finally:
            if held.lost:
                # Its transaction is beyond use, and perhaps its connection: the server rolls back
                # what a closed connection leaves.
                await conn.close()
            await self._checkin(conn)

    def _deadline(self, statements: int) -> float:
        """When a call of `statements` statements starting now is given up on, in loop time."""
        loop = asyncio.get_running_loop()
        return loop.time() + self._wait_s + statements * self._statement_s + _MARGIN_S

    async def _on_connection(self, work: Work[T], deadline: float) -> T:
        conn = await self._checkout(deadline)
        try:
            return await _watched(conn, work, deadline)
        finally:
            await self._checkin(conn)

    async def _checkout(self, deadline: float) -> Connection:
        """A slot and a connection, within the time allowed to get a connection."""
        loop = asyncio.get_running_loop()
        wait_until = min(loop.time() + self._wait_s, deadline)
        if self._slots.locked():
            try:
                async with asyncio.timeout_at(wait_until):
                    await self._slots.acquire()
            except TimeoutError:
                raise Unavailable(
                    f"the database cannot answer: no connection free within {self._wait_s:g} s"
                ) from None
        else:
            await self._slots.acquire()  # free: returns at once
        try:
            # The pool refuses a timeout that is not positive; with none left it times out at once.
            return await self._pool.getconn(timeout=max(wait_until - loop.time(), 1e-3))
        except BaseException:
            self._slots.release()
            raise

    async def _checkin(self, conn: Connection) -> None:
        try:
            # A connection returned broken or closed is discarded and replaced by the pool.
            await self._pool.putconn(conn)
        finally:
            self._slots.release()


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
            return await _watched(self._conn, work, self._db._deadline(statements))
        except _BrokenConnection as exc:
            self.lost = True
            raise _unavailable(exc.__cause__) from None
        except psycopg.OperationalError as exc:
            # A statement timeout: the transaction is aborted, nothing more can run in it.
            self.lost = True
            raise _unavailable(exc) from None
        except Unavailable:
            self.lost = True
            raise


async def _watched(conn: Connection, work: Work[T], deadline: float) -> T:
    """`work(conn)`, its connection shut at `deadline` (loop time) if it is still running then."""
    watchdog = _Watchdog(conn)
    timer = asyncio.get_running_loop().call_at(deadline, watchdog.bite)
    try:
        return await work(conn)
    except psycopg.Error as exc:
        if watchdog.bitten:
            raise Unavailable("the database cannot answer: no answer in time") from None
        if isinstance(exc, psycopg.OperationalError) and conn.broken:
            raise _BrokenConnection from exc
        raise
    finally:
        timer.cancel()
        if watchdog.bitten:
            # Its socket is shut even if the work got its answer first: never to be used again.
            await conn.close()


class _Watchdog:
    """Shuts a connection's socket down when called (once its deadline has passed)."""

    __slots__ = ("_conn", "bitten")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.bitten = False

    def bite(self) -> None:
        self.bitten = True
        log.info("the database did not answer in time: dropping the connection")
        # shutdown() acts on the socket, not the descriptor: shutting a duplicate down wakes
        # libpq, waiting on the original, with an end of file at once; the original stays libpq's
        # to close.
        with (
            suppress(psycopg.Error, OSError),
            socket.socket(fileno=os.dup(self._conn.pgconn.socket)) as sock,
        ):
            sock.shutdown(socket.SHUT_RDWR)


def _execute(statement: str) -> Work[None]:
    async def work(conn: Connection) -> None:
        await conn.execute(statement)

    return work


class _BrokenConnection(Exception):
    """The connection itself failed (closed by the server or the network), not the statement."""


def _unavailable(exc: BaseException | None) -> Unavailable:
    """A lost connection, a pool timeout or a statement timeout is a temporary unavailability;
    other database errors are bugs, and stay errors."""
    lines = str(exc).strip().splitlines()
    return Unavailable(f"the database cannot answer: {lines[0] if lines else type(exc).__name__}")
