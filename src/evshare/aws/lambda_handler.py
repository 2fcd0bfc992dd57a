"""The AWS Lambda entry point behind API Gateway (REST API or HTTP API, payload 1.0 or 2.0).

Configure the function with EVSHARE_* environment variables (EVSHARE_DATABASE_URL at least) and
the handler `evshare.aws.lambda_handler.handler`. Importing this module does no I/O and imports
little (a cold start pays for every import): the app, its store and its event loop are built on
the first invocation and kept while the container stays warm.

Usage counts are written before each invocation returns: a Lambda container may be frozen after
any invocation and reclaimed without notice, so counts kept for a later flush could be lost.
"""

from __future__ import annotations

import asyncio
from typing import Any

from evshare.api.app import EnergSyncApp, create_app
from evshare.api.asgi import Headers, Message
from evshare.aws.events import to_result, to_scope
from evshare.config import Settings, load_settings


class LambdaAdapter:
    """Runs the ASGI app for one proxy event at a time on an event loop of its own."""

    def __init__(self, app: EnergSyncApp) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:  # noqa: ARG002
        return self._loop.run_until_complete(self._invoke(event))

    async def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        scope = to_scope(event)
        status = 500
        headers: Headers = []
        chunks: list[bytes] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        await self.app.flush_usage()
        return to_result(event, status, headers, b"".join(chunks))

    def close(self) -> None:
        self._loop.run_until_complete(self.app.shutdown())
        self._loop.close()


def make_handler(settings: Settings) -> LambdaAdapter:
    # No lifespan events on Lambda: the app starts itself on its first request.
    return LambdaAdapter(create_app(settings))


_handler: LambdaAdapter | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler  # noqa: PLW0603 - one app per warm container, built on first invocation
    if _handler is None:
        _handler = make_handler(load_settings())
    return _handler(event, context)
