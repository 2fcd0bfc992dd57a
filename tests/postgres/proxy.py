"""A TCP proxy on 127.0.0.1 in front of PostgreSQL that a test can cut and restore, to show the
server what a network, a proxy or a database in trouble looks like:

- `refuse()`: every connection through it is closed and new ones are refused (a database that
  went away, or a proxy restarting);
- `black_hole()`: connections stay open and new ones are accepted, but nothing gets through in
  either direction (a partitioned network, a hung proxy): only a client's own deadline helps;
- `restore()`: traffic flows again; bytes held in a black hole are then delivered, as TCP would
  after a partition heals.

It runs its own event loop in a thread, so it works the same under a sync or an async test.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Proxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._links: set[asyncio.Task[Any]] = set()
        self.port = 0

    def __enter__(self) -> Proxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def refuse(self) -> None:
        self._call(self._refuse())

    def black_hole(self) -> None:
        self._call(self._black_hole())

    def restore(self) -> None:
        self._call(self._restore())

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _refuse(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        self._close_all()

    async def _black_hole(self) -> None:
        assert self._flowing is not None
        self._flowing.clear()

    async def _restore(self) -> None:
        assert self._flowing is not None
        if self._server is None:
            await self._listen()
        self._flowing.set()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        assert self._flowing is not None
        self._flowing.set()  # let the held links see their sockets close
        self._close_all()
        # Ended here, not left pending when the loop stops: asyncio would report each one as
        # "destroyed but pending" into whichever test happens to be running at collection.
        for link in self._links:
            link.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)

    def _close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _link(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        assert self._flowing is not None
        link = asyncio.current_task()
        assert link is not None
        self._links.add(link)
        self._writers.add(client_out)
        try:
            await self._flowing.wait()  # a black hole accepts, and never answers
            try:
                server_in, server_out = await asyncio.open_connection(*self._upstream)
            except OSError:
                return
            self._writers.add(server_out)
            await asyncio.gather(
                self._pump(client_in, server_out), self._pump(server_in, client_out)
            )
        finally:
            client_out.close()
            self._writers.discard(client_out)
            self._links.discard(link)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        try:
            while data := await source.read(65536):
                await self._flowing.wait()  # a black hole holds what it reads
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()
            self._writers.discard(sink)
            with contextlib.suppress(ConnectionError, OSError):
                await sink.wait_closed()
