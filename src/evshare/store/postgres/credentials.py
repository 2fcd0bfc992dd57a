"""Credentials kept in memory while PostgreSQL says when keys change.

Reading a request's credential was a round trip of its own, 40 % of a `/chargers/{id}` request
(bench/fixed_path.py: 200 µs of 490). Keys change rarely; requests are many. So each process
keeps the credentials it has read, and a listener connection of its own (`LISTEN evshare_keys`)
drops them all whenever a statement that writes `api_keys` or `key_secrets` commits (the triggers
of migration 0007): a revoked, rotated or expired key is refused within milliseconds of the
command that changed it, on every server.

The cache is used only while the listener is known to hear:

- until `LISTEN` has run on a fresh connection, and from the moment that connection fails, every
  lookup goes to the database (and the cache is emptied, since changes may have been missed);
- every `BEAT_S` the listener notifies itself and must hear that within `BEAT_S`: a connection
  that silently stopped delivering (a transaction pooler such as PgBouncer, which gives each
  statement any server connection, or a half-open socket) turns the cache off the same way;
- a lookup that was in flight when keys changed does not store what it read (`_generation`).

So the cache can only make a request cheaper, never let a changed key through for longer than the
notification takes to arrive. Expiry needs no notification: `keys.accepts` checks the times on
every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from evshare.model import Credential

log = logging.getLogger("evshare.store.postgres")

CHANNEL = "evshare_keys"
BEAT_S = 5.0
_RETRY_S = (0.5, 1.0, 2.0, 5.0)
_MAX_ENTRIES = 100_000  # past this many keys' secrets, start over rather than grow


class CredentialCache:
    """`lookup(lookup_id, read)`: the credential from memory, or from `read` (the database)."""

    def __init__(self, conninfo: str, connect_kwargs: dict[str, Any]) -> None:
        self._conninfo = conninfo
        self._kwargs = {**connect_kwargs, "autocommit": True}
        self._entries: dict[str, Credential | None] = {}
        self._generation = 0
        self._live = False
        self._task: asyncio.Task[None] | None = None
        self._beat = f"beat:{secrets.token_hex(8)}"

    @property
    def live(self) -> bool:
        """Whether lookups are served from memory now."""
        return self._live

    async def lookup(
        self, lookup_id: str, read: Callable[[], Awaitable[Credential | None]]
    ) -> Credential | None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="evshare-key-listener")
        if not self._live:
            return await read()
        try:
            return self._entries[lookup_id]
        except KeyError:
            pass
        generation = self._generation
        credential = await read()
        # Misses are not kept: a flood of made-up keys must not fill memory or push real ones out.
        if credential is not None and self._live and generation == self._generation:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[lookup_id] = credential
        return credential

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._forget(live=False)

    def _forget(self, *, live: bool) -> None:
        self._entries.clear()
        self._generation += 1
        self._live = live

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen_once()
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if self._live:  # it was working: log once, and reconnect at once
                    failures = 0
                    log.warning(
                        "key change listener lost (%s): credentials are read from the database "
                        "on every request until it is back",
                        exc,
                    )
                self._forget(live=False)
                await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
                failures += 1

    async def _listen_once(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, **self._kwargs)
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
            # Anything that changed before LISTEN ran is unknown: start from nothing.
            self._forget(live=True)
            log.info("key change listener on: credentials are kept in memory")
            while True:
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._beat))
                heard = False
                async for note in conn.notifies(timeout=BEAT_S):
                    if note.payload == self._beat:
                        heard = True
                    elif not note.payload.startswith("beat:"):  # others' beats change nothing
                        self._forget(live=True)
                if not heard:
                    raise TimeoutError(f"no notification heard within {BEAT_S:g} s")
        finally:
            await conn.close()
