"""Running the app for `evshare serve`: granian, with the front door bounded.

Why granian rather than uvicorn (measured on this project's 2-core machine, bench/ and
docs/deployment.md): its HTTP/1 parser is Rust (hyper), so the server's own cost per request is
lower, and it bounds what uvicorn's httptools path does not:

- the request line and headers are read into a buffer of at most `max_header_bytes`; a larger
  head is answered 431 and the connection closed;
- headers must arrive within `header_timeout`, and an idle keep-alive connection is closed after
  the same time: a client that trickles its headers (slowloris) or opens a connection and sends
  nothing is dropped;
- each worker holds at most `max_connections` connections; past that it stops accepting and new
  connections wait in the kernel's listen backlog (backpressure) instead of taking descriptors.

At start-up the soft limit on open files is raised to the hard limit, and the connection limit is
kept below it with room for the database, the log and the listening socket, so that a flood of
connections can never make `accept` or a database connection fail for want of a descriptor.

The app itself is plain ASGI (the same object Lambda and the tests run); requests granian refuses
before they reach the app (431, 400 for a malformed request line) carry no body, since there is
no app to shape one.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import resource
import signal
from typing import Any

from evshare.api.app import EnergSyncApp, app_from_environment
from evshare.config import Settings
from evshare.errors import ConfigError

log = logging.getLogger("evshare.serve")

# Descriptors a worker needs besides its connections: the listening socket, stdio, the SQLite
# file and its WAL, a Redis connection, pipes of the event loop and the server's runtime.
_RESERVED_FDS = 64
_NOFILE_CEILING = 1 << 20


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit where allowed; the soft limit after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _NOFILE_CEILING if hard == resource.RLIM_INFINITY else min(hard, _NOFILE_CEILING)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return _NOFILE_CEILING if soft == resource.RLIM_INFINITY else soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open files limit from %d to %d: %s", soft, wanted, exc)
        return soft
    return wanted


def connection_limit(settings: Settings, open_files: int) -> int:
    """`max_connections`, lowered if a worker could not hold that many descriptors."""
    reserved = _RESERVED_FDS + (settings.db_pool_max if _is_postgres(settings) else 0)
    room = max(open_files - reserved, 16)
    if settings.max_connections > room:
        log.warning(
            "EVSHARE_MAX_CONNECTIONS=%d does not fit in the open files limit (%d, of which %d are "
            "kept for the database and the server): each worker holds at most %d connections; "
            "raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd) to allow more",
            settings.max_connections,
            open_files,
            reserved,
            room,
        )
        return room
    return settings.max_connections


def _is_postgres(settings: Settings) -> bool:
    return settings.database_url.startswith(("postgresql://", "postgres://"))


class WorkerApp(EnergSyncApp):
    """The app in a worker process of `evshare serve`: stopped by the main process only.

    Ctrl-C in a terminal sends SIGINT to the whole process group, and the main process then
    stops each worker with SIGTERM: a worker got two stop signals, and when both landed in one
    turn of its event loop granian's worker (2.8) deadlocked in its signal handler until the
    main process killed it 15 s later, losing the usage counted since the last flush (3 of 5
    Ctrl-C stops right after `evshare demo`). A worker therefore ignores SIGINT and stops on
    the main process's SIGTERM alone. Run under systemd with `KillMode=mixed`, so that the stop
    signal goes to the main process only (docs/deployment.md)."""

    async def startup(self) -> None:
        # granian installed its handler in the worker's loop before the app's startup: take it
        # off (that restores the default, which kills), then ignore the signal.
        asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        await super().startup()


def worker_app() -> EnergSyncApp:
    """The factory granian's workers call: the app from the settings `run` exported."""
    return app_from_environment(WorkerApp)


def run(settings: Settings, log_config: dict[str, Any]) -> None:
    """Serve `worker_app` (which reads the settings the caller exported to the environment)
    until SIGINT/SIGTERM to the main process; each worker shuts the app down gracefully."""
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    logging.config.dictConfig(log_config)
    open_files = raise_open_files_limit()
    connections = connection_limit(settings, open_files)
    log.info(
        "limits: headers %d bytes within %g s, idle connections closed after %g s, "
        "%d connections per worker (open files limit %d)",
        settings.max_header_bytes,
        settings.header_timeout,
        settings.header_timeout,
        connections,
        open_files,
    )
    server = Server(
        "evshare.api.server:worker_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        loop=Loops.uvloop,
        # HTTP/1.1 only: what EnergSync clients speak; a proxy in front may offer HTTP/2.
        http=HTTPModes.http1,
        websockets=False,
        backlog=max(1024, connections),
        backpressure=connections,
        http1_settings=HTTP1Settings(
            header_read_timeout=round(settings.header_timeout * 1000),
            keep_alive=True,
            max_buffer_size=settings.max_header_bytes,
        ),
        log_enabled=True,
        log_level=LogLevels(settings.log_level),
        log_dictconfig=log_config,
        log_access=False,  # the app writes its own access log
        workers_kill_timeout=15,
        # A worker that dies (the OOM killer, a crash in native code) is replaced rather than
        # taking the whole server down; one that dies again within seconds of its respawn is a
        # crash loop, and then the server exits with the error in its log.
        respawn_failed_workers=True,
    )
    try:
        server.serve()
    except RuntimeError as exc:  # granian's for a socket it cannot bind (a Rust io::Error)
        if "os error" not in str(exc):
            raise
        raise ConfigError(
            f"cannot listen on {settings.host}:{settings.port}: {exc}; choose another "
            "--port or --host, or stop what is using it"
        ) from None
