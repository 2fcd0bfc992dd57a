"""The ways a test runs the API: in-process (the ASGI app called directly, no socket), or as a
real `evshare serve` process on a free loopback port. One of each, shared by every test.

Prefer `InProcess`: it runs the app's real lifespan and every byte of its request path, and
costs no process and no port. Use `serve` for what only a real server shows: workers, signals,
HTTP parsing by granian, the CLI's flags.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

EVSHARE = str(Path(sys.executable).with_name("evshare"))
BASE = "http://testserver"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- in-process --------------------------------------------------------------------------------


class _Transport(httpx.BaseTransport):
    """Synchronous httpx requests to an `InProcess` app. Closing a client leaves the app be."""

    def __init__(self, app: InProcess) -> None:
        self._app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self._app.handle(request)

    def close(self) -> None:
        pass


class InProcess:
    """An ASGI app on an event loop of its own (in a thread), its lifespan started on entry and
    finished on exit, and httpx clients to it. Requests go straight to the app's `__call__`, as
    uvicorn would hand them over."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._transport = httpx.ASGITransport(app=app)
        self._lifespan: asyncio.Queue[dict[str, Any]] | None = None
        self._lifespan_done: asyncio.Future[None] | None = None
        self._sent: asyncio.Queue[dict[str, Any]] | None = None

    def _run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def __enter__(self) -> InProcess:
        self._thread.start()
        self._run(self._startup())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(self._shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    async def _startup(self) -> None:
        receive: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._lifespan, self._sent = receive, sent
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._lifespan_done = asyncio.ensure_future(self._app(scope, receive.get, sent.put))
        await receive.put({"type": "lifespan.startup"})
        message = await sent.get()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {message}")

    async def _shutdown(self) -> None:
        assert self._lifespan is not None
        assert self._sent is not None
        assert self._lifespan_done is not None
        await self._lifespan.put({"type": "lifespan.shutdown"})
        message = await self._sent.get()
        await self._lifespan_done
        if message["type"] != "lifespan.shutdown.complete":
            raise RuntimeError(f"the app did not stop cleanly: {message}")

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._transport.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)

    def handle(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self._run(self._handle(request))
        return response

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {} if key is None else {"x-api-key": key}
        return httpx.Client(transport=_Transport(self), base_url=BASE, headers=headers, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as http:
            return http.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", path, **kwargs)


# --- a real server process ---------------------------------------------------------------------


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def serve(
    env: dict[str, str], log: Path, *args: str, wrapper: Sequence[str] = ()
) -> Iterator[Server]:
    """`evshare serve ARGS` on a free port, yielded once /health answers 200; stopped with
    SIGTERM (its workers flush their usage), then SIGKILL of its process group, whatever
    happens. `wrapper`: a command that sets something up and execs the server (it keeps the
    server's pid), e.g. one that lowers a limit first."""
    port = free_port()
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*wrapper, EVSHARE, "serve", "--port", str(port), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its own process group: workers go with it
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{server.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(server.base + "/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within 30 s:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        else:
            with contextlib.suppress(ProcessLookupError):  # a worker the supervisor left behind
                os.killpg(process.pid, signal.SIGKILL)


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The caller's environment, with the database and any EVSHARE_* settings given."""
    return {**os.environ, "EVSHARE_DATABASE_URL": database_url, **extra}
