"""The EnergSync ASGI application: `create_app(settings)`.

A plain ASGI callable rather than a framework: the contract has three read-only routes and a
few utility ones, and on this hot path a framework's request/response objects cost more than
the database query (see DESIGN.md's measurements and bench/). The pieces are small modules:
params (parsing), auth (credentials), errors (the one error table), contract (the served spec).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from evshare.api import auth, params
from evshare.api.asgi import Headers, Receive, Scope, Send
from evshare.api.contract import docs_html, document_json
from evshare.api.errors import INTERNAL, METHOD_NOT_ALLOWED, NOT_FOUND, ErrorResponse, to_response
from evshare.config import Settings, load_settings
from evshare.errors import EvshareError, NotFound
from evshare.store import Scope as Visibility
from evshare.store import Store, open_store

access_log = logging.getLogger("evshare.access")
log = logging.getLogger("evshare.api")

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_JSON = (b"content-type", b"application/json")
_PRIVATE = (b"cache-control", b"no-store")
_PUBLIC = (b"cache-control", b"public, max-age=300")
_HEALTHY = b'{"status":"ok"}'
_SESSIONS_SUFFIX = "/sessions"


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    headers: Headers
    key_name: str = "-"


class EnergSyncApp:
    """Serves the contract for `settings.profile` over `store` (opened at startup if not given)."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self._owns_store = store is None
        self._paged = settings.profile == "1.2.0"
        self._root = settings.root_path
        self._openapi = document_json(settings.profile)
        self._docs = docs_html(settings.profile, settings.root_path)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the app has not started: no store")
        return self._store

    async def _ensure_started(self) -> None:
        # Servers without lifespan events (AWS Lambda through Mangum) start the app on first use;
        # a warm Lambda container then keeps the store between invocations.
        if self._store is None:
            await self.startup()

    async def startup(self) -> None:
        if self._store is None:
            self._store = await open_store(self.settings)

    async def shutdown(self) -> None:
        if self._owns_store and self._store is not None:
            await self._store.close()
            self._store = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except EvshareError as exc:
                    log.error("cannot start: %s", exc)  # noqa: TRY400 - a user error, not a bug
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, send: Send) -> None:
        started = time.perf_counter()
        api_key = authorization = request_id = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                api_key = value
            elif name == b"authorization":
                authorization = value
            elif name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
                request_id = value
        if request_id is None:
            request_id = secrets.token_hex(16).encode()
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        try:
            await self._ensure_started()
            reply = await self._dispatch(scope, raw_path.decode("latin-1"), api_key, authorization)
        except EvshareError as exc:
            reply = _error_reply(to_response(exc))
        except Exception:
            log.exception("unhandled error serving %s", raw_path.decode("latin-1"))
            reply = _error_reply(INTERNAL)
        headers = reply.headers
        headers.append((b"content-length", str(len(reply.body)).encode()))
        headers.append((b"x-request-id", request_id))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else reply.body})
        if access_log.isEnabledFor(logging.INFO):
            query = scope.get("query_string", b"")
            access_log.info(
                "%s %s%s %d %.1fms key=%s id=%s",
                scope["method"],
                raw_path.decode("latin-1"),
                "?" + query.decode("latin-1") if query else "",
                reply.status,
                (time.perf_counter() - started) * 1000,
                reply.key_name,
                request_id.decode(),
            )

    async def _dispatch(
        self, scope: Scope, path: str, api_key: bytes | None, authorization: bytes | None
    ) -> Reply:
        if self._root and path.startswith(self._root + "/"):
            path = path[len(self._root) :]
        if path == "/chargers":
            operation, charger_id = "list", ""
        elif path.startswith("/chargers/"):
            rest = path[len("/chargers/") :]
            if rest.endswith(_SESSIONS_SUFFIX):
                operation, rest = "sessions", rest[: -len(_SESSIONS_SUFFIX)]
            else:
                operation = "detail"
            if not rest or "/" in rest:
                return _error_reply(NOT_FOUND)
            # The path came as bytes (decoded latin-1 to route on); ids are UTF-8.
            charger_id = unquote_to_bytes(rest.encode("latin-1")).decode("utf-8", "replace")
        else:
            return await self._utility(scope, path)
        if scope["method"] not in ("GET", "HEAD"):
            return _error_reply(METHOD_NOT_ALLOWED)

        credential = await auth.authenticate(
            self.store, auth.presented_token(api_key, authorization)
        )
        visibility = Visibility(credential.key_name, credential.all_chargers)
        query = params.parse_query(scope.get("query_string", b""))
        try:
            body = await self._operation(operation, visibility, charger_id, query)
        except EvshareError as exc:
            reply = _error_reply(to_response(exc))
        else:
            reply = Reply(200, body, [_JSON, _PRIVATE])
        reply.key_name = credential.key_name
        return reply

    async def _operation(
        self, operation: str, visibility: Visibility, charger_id: str, query: dict[str, list[str]]
    ) -> bytes:
        store = self.store
        if operation == "sessions":
            window = params.session_query(query)
            sessions = await store.sessions_json(visibility, charger_id, window.start, window.end)
            if sessions is None:
                raise NotFound(charger_id)
            return sessions
        if operation == "detail":
            charger = await store.charger_json(visibility, charger_id)
            if charger is None:
                raise NotFound(charger_id)
            return charger
        wanted = params.charger_query(query, paged=self._paged)
        if not self._paged:
            chargers, _ = await store.chargers_json(visibility, wanted.ids, 0, None)
            return chargers
        chargers, total = await store.chargers_json(
            visibility, wanted.ids, wanted.offset, wanted.page_size
        )
        return b'{"chargers":' + chargers + b',"total":' + str(total).encode() + b"}"

    async def _utility(self, scope: Scope, path: str) -> Reply:
        if path not in ("/health", "/openapi.json", "/docs"):
            return _error_reply(NOT_FOUND)
        if scope["method"] not in ("GET", "HEAD"):
            return _error_reply(METHOD_NOT_ALLOWED)
        if path == "/openapi.json":
            return Reply(200, self._openapi, [_JSON, _PUBLIC])
        if path == "/docs":
            return Reply(200, self._docs, [(b"content-type", b"text/html; charset=utf-8"), _PUBLIC])
        await self.store.ping()
        return Reply(200, _HEALTHY, [_JSON, _PRIVATE])


def _error_reply(error: ErrorResponse) -> Reply:
    return Reply(error.status, error.body, [_JSON, _PRIVATE, *error.headers])


def create_app(settings: Settings, store: Store | None = None) -> EnergSyncApp:
    return EnergSyncApp(settings, store)


def app_from_environment() -> EnergSyncApp:
    """The factory uvicorn workers import (`evshare serve` passes its flags as EVSHARE_*)."""
    return create_app(load_settings())
