"""The access log: one line per request, written in bulk under `evshare serve`.

Through `logging`, a line cost about 20 us of the request (a LogRecord, a formatter, a lock, a
write and a flush each time): more than authentication, the plan and usage together. Under
`evshare serve` the app keeps each request's fields in a list instead and writes the lines a few
times a second, many per system call (`BufferedAccessLog`). Lines look exactly as the `logging`
configuration of `evshare serve` would print them, and reach stderr at most `interval` seconds
late; they are written before shutdown completes.

Elsewhere (tests, AWS Lambda, another ASGI server) the app logs each line through the
`evshare.access` logger (`LoggingAccessLog`), so that handlers configured there see it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Protocol

ACCESS_LINE = "%s %s%s %d %.1fms key=%s id=%s"
_LOGGER = "evshare.access"
# One write to a pipe is atomic up to PIPE_BUF (4096 on Linux): lines from several workers
# sharing stderr never interleave mid-line if each write holds whole lines and stays under it.
_PIPE_BUF = 4096
_MAX_PENDING = 512

_Fields = tuple[str, str, str, int, float, str, str]


class AccessLog(Protocol):
    def request(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        millis: float,
        key_name: str,
        request_id: str,
    ) -> None:
        """Record one request (`query` is '' or starts with '?')."""
        ...

    def flush(self) -> None:
        """Write whatever is still held."""
        ...


class LoggingAccessLog:
    """Each line as a record of the `evshare.access` logger, at INFO."""

    def __init__(self) -> None:
        self._logger = logging.getLogger(_LOGGER)

    def request(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        millis: float,
        key_name: str,
        request_id: str,
    ) -> None:
        logger = self._logger
        if logger.isEnabledFor(logging.INFO):
            args = (method, path, query, status, millis, key_name, request_id)
            # makeRecord + handle rather than .info(): the same record, without logging's walk
            # up the stack to find the caller.
            logger.handle(
                logger.makeRecord(logger.name, logging.INFO, __file__, 0, ACCESS_LINE, args, None)
            )

    def flush(self) -> None:
        """Nothing is held."""


class BufferedAccessLog:
    """Lines written to file descriptor `fd` in batches: `interval` seconds after the first line
    of a batch, or as soon as `_MAX_PENDING` lines wait, whichever comes first. Each line is
    `asctime levelname name: message`, asctime as logging prints it (local time, milliseconds)."""

    def __init__(self, fd: int, *, interval: float = 0.2) -> None:
        self._fd = fd
        self._interval = interval
        self._pending: list[tuple[float, _Fields]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._stamp = ""

    def request(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        millis: float,
        key_name: str,
        request_id: str,
    ) -> None:
        pending = self._pending
        pending.append((time.time(), (method, path, query, status, millis, key_name, request_id)))
        if len(pending) >= _MAX_PENDING:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(self._interval, self.flush)

    def _format(self, at: float, fields: _Fields) -> bytes:
        second = int(at)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        millis = int((at - second) * 1000)
        line = f"{self._stamp},{millis:03d} INFO {_LOGGER}: {ACCESS_LINE % fields}\n"
        return line.encode("utf-8", "backslashreplace")

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        chunk: list[bytes] = []
        size = 0
        for at, fields in pending:
            line = self._format(at, fields)
            if chunk and size + len(line) > _PIPE_BUF:
                self._write(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            pass  # stderr gone (a closed pipe): the log is lost, the requests are not
