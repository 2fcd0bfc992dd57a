"""The throughput limit: a bare ASGI app that answers every request with one pre-built body.

Served by the same uvicorn stack as `evshare serve` (2 workers, uvloop, httptools), it measures
what the server and the client cost by themselves; every endpoint's throughput is reported as a
fraction of this. The body is JSON of exactly BENCH_BODY_BYTES bytes, so the bytes on the wire
match the endpoint it stands in for:

    BENCH_BODY_BYTES=1500 uvicorn bare_app:create_app --factory --app-dir bench --lifespan off
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_SMALLEST = len(b'{"pad":""}')


def body_of_size(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (at least the size of an empty one)."""
    return b'{"pad":"' + b"x" * max(size - _SMALLEST, 0) + b'"}'


def create_app() -> App:
    body = body_of_size(int(os.environ.get("BENCH_BODY_BYTES", "1500")))
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    finish = {"type": "http.response.body", "body": body}

    async def app(_scope: Scope, _receive: Receive, send: Send) -> None:
        await send(start)
        await send(finish)

    return app
