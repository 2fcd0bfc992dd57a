"""The EnergSync ASGI application: `create_app(settings)`.

A plain ASGI callable rather than a framework: the contract has three read-only routes and a
few utility ones, and on this hot path a framework's request/response objects cost more than
the database query (see DESIGN.md's measurements and bench/). The pieces are small modules:
params (parsing), auth (credentials), errors (the one error table), contract (the served spec).

Usage plans: after authentication each request is judged by the limiter under its key's plan
(found in memory by `PlanBook`), so a 401 comes before a 429, and a 429 before any 400 or 404.
Requests and refusals are counted in memory per key and UTC day and written to the store by a
housekeeping task every few seconds, and once more at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import unquote_to_bytes

from evshare.api import auth, params
from evshare.api.asgi import Headers, Receive, Scope, Send
from evshare.api.contract import docs_html, document_json
from evshare.api.errors import INTERNAL, METHOD_NOT_ALLOWED, NOT_FOUND, ErrorResponse, to_response
from evshare.config import Settings, load_settings
from evshare.errors import EvshareError, NotFound
from evshare.limits import (
    Decision,
    GuardedLimiter,
    Limiter,
    PlanBook,
    UsageCounter,
    build_limiter,
)
from evshare.store import Store, open_store

access_log = logging.getLogger("evshare.access")
log = logging.getLogger("evshare.api")

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_JSON = (b"content-type", b"application/json")
_PRIVATE = (b"cache-control", b"no-store")
_PUBLIC = (b"cache-control", b"public, max-age=300")
_HEALTHY = b'{"status":"ok"}'
_SESSIONS_SUFFIX = "/sessions"
_ACCESS_LINE = "%s %s%s %d %.1fms key=%s id=%s"
_NO_LIMITS = Decision(True)
_RATE_LIMIT_NAMES = {"RateLimit-Policy": b"ratelimit-policy", "RateLimit": b"ratelimit"}
_EPOCH_DAY = date(1970, 1, 1)
_DAY_S = 86_400
_FINAL_FLUSH_ATTEMPTS = 5
_FINAL_FLUSH_PAUSE_S = 0.2


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    headers: Headers
    key_name: str = "-"


class EnergSyncApp:
    """Serves the contract for `settings.profile` over `store`, judging requests with `limiter`
    (each built at startup if not given). Usage counts reach the store every
    `usage_flush_interval` seconds (give or take a fifth, so that workers do not all write at
    once) and at shutdown."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        limiter: Limiter | None = None,
        *,
        usage_flush_interval: float = 5.0,
    ) -> None:
        self.settings = settings
        self._store = store
        self._owns_store = store is None
        self._limiter = limiter
        self._owns_limiter = limiter is None
        # A lambda, not the bound method: the store may be opened only at startup.
        self._plans = PlanBook(lambda: self.store.list_plans(), settings.default_plan)  # noqa: PLW0108
        self._usage = UsageCounter()
        self._flush_interval = usage_flush_interval
        self._housekeeping: asyncio.Task[None] | None = None
        self._started = False
        self._start_lock = asyncio.Lock()
        self._day = _EPOCH_DAY
        self._day_ends = -math.inf
        self._paged = settings.profile == "1.2.0"
        self._root = settings.root_path
        self._gateway = settings.auth == "gateway"
        self._auth = auth.build_authenticator(settings, lambda: self.store)
        self._openapi = document_json(settings.profile, auth.bearer_issuers(self._auth))
        self._docs = docs_html(settings.profile, settings.root_path)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the app has not started: no store")
        return self._store

    @property
    def limiter(self) -> Limiter:
        if self._limiter is None:
            raise RuntimeError("the app has not started: no limiter")
        return self._limiter

    async def _ensure_started(self) -> None:
        # Servers without lifespan events (AWS Lambda through Mangum) start the app on first use;
        # a warm Lambda container then keeps the store between invocations.
        if not self._started:
            async with self._start_lock:
                if not self._started:
                    await self.startup()

    async def startup(self) -> None:
        if self._store is None:
            self._store = await open_store(self.settings)
        if self._limiter is None:
            # A store that can hold the limits itself (DynamoDB) shares them across processes
            # and Lambdas without Redis; Redis, when set, still wins.
            shared = getattr(self._store, "shared_limiter", None)
            if shared is not None and self.settings.redis_url is None:
                self._limiter = GuardedLimiter(shared(), self.settings.limiter_failure)
            else:
                self._limiter = build_limiter(self.settings)
        await self._plans.start()
        await self._auth.start()
        self._housekeeping = asyncio.create_task(self._housekeep(), name="evshare-housekeeping")
        self._started = True

    async def shutdown(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
            self._housekeeping = None
        await self._auth.close()
        if self._store is not None:
            # The last chance to save them: try a few times (several workers may be writing
            # their own final counts to SQLite at this very moment).
            for attempt in range(_FINAL_FLUSH_ATTEMPTS):
                if attempt:
                    await asyncio.sleep(_FINAL_FLUSH_PAUSE_S)
                if await self.flush_usage():
                    break
            else:
                log.error("usage counts lost at shutdown: the store would not take them")
        if self._owns_limiter and self._limiter is not None:
            await self._limiter.close()
            self._limiter = None
        if self._owns_store and self._store is not None:
            await self._store.close()
            self._store = None
        self._started = False

    async def flush_usage(self) -> bool:
        """Write the usage counted since the last flush; whether it was. On failure the counts
        stay in memory for the next flush: a database that is down costs no counts and no
        request."""
        rows = self._usage.drain()
        if not rows:
            return True
        try:
            await self.store.add_usage(rows)
        except EvshareError as exc:
            self._usage.restore(rows)
            log.warning("usage not saved yet, kept for the next flush: %s", exc)
            return False
        except BaseException:
            # A bug, or the task cancelled at shutdown (whose final flush will retry): keep them.
            self._usage.restore(rows)
            raise
        return True

    async def _housekeep(self) -> None:
        while True:
            jitter = 0.8 + 0.4 * random.random()  # noqa: S311 - spreading writes, not a secret
            await asyncio.sleep(self._flush_interval * jitter)
            try:
                await self.flush_usage()
                if self._plans.loaded:
                    await self._plans.refresh()
            except EvshareError as exc:
                log.warning("housekeeping: %s", exc)
            except Exception:
                log.exception("housekeeping failed; trying again in %g s", self._flush_interval)

    def _today(self) -> date:
        """The UTC day, worked out once a day rather than per request."""
        now = time.time()
        if now >= self._day_ends:
            days = math.floor(now / _DAY_S)
            self._day = _EPOCH_DAY + timedelta(days=days)
            self._day_ends = (days + 1) * _DAY_S
        return self._day

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
                api_key = value if api_key is None else auth.AMBIGUOUS
            elif name == b"authorization":
                authorization = value if authorization is None else auth.AMBIGUOUS
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
        # Logged before sending, so that the line exists once the client has its answer.
        if access_log.isEnabledFor(logging.INFO):
            query = scope.get("query_string", b"")
            args = (
                scope["method"],
                raw_path.decode("latin-1"),
                "?" + query.decode("latin-1") if query else "",
                reply.status,
                (time.perf_counter() - started) * 1000,
                reply.key_name,
                request_id.decode(),
            )
            # makeRecord + handle rather than .info(): the same record, without logging's walk
            # up the stack to find the caller, which is always this line.
            access_log.handle(
                access_log.makeRecord(
                    access_log.name, logging.INFO, __file__, 0, _ACCESS_LINE, args, None
                )
            )
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else reply.body})

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

        if self._gateway:
            credential = await auth.authenticate_gateway(self.store, scope, api_key)
            caller = auth.key_caller(credential)
        else:
            caller = await self._auth.authenticate(scope, api_key, authorization)
        account = caller.account
        rate_limit: Headers = []
        try:
            # With auth=gateway, API Gateway's usage plans have judged the request already.
            plan = None if self._gateway else await self._plans.resolve(caller.plan)
            decision = _NO_LIMITS if plan is None else await self.limiter.admit(account, plan)
            self._usage.record(account, self._today(), not decision.allowed)
            decision.raise_if_refused()  # a 429 carries its own RateLimit fields
            rate_limit = [(_RATE_LIMIT_NAMES[k], v.encode()) for k, v in decision.headers.items()]
            query = params.parse_query(scope.get("query_string", b""))
            body = await self._operation(operation, caller, charger_id, query)
        except EvshareError as exc:
            reply = _error_reply(to_response(exc))
            reply.headers.extend(rate_limit)
        else:
            reply = Reply(200, body, [_JSON, _PRIVATE, *rate_limit])
        reply.key_name = caller.name
        return reply

    async def _operation(
        self, operation: str, caller: auth.Caller, charger_id: str, query: dict[str, list[str]]
    ) -> bytes:
        store = self.store
        visibility, only = caller.visibility, caller.only
        if operation == "sessions":
            window = params.session_query(query)
            if only is not None and charger_id not in only:
                raise NotFound(charger_id)
            sessions = await store.sessions_json(visibility, charger_id, window.start, window.end)
            if sessions is None:
                raise NotFound(charger_id)
            return sessions
        if operation == "detail":
            if only is not None and charger_id not in only:
                raise NotFound(charger_id)
            charger = await store.charger_json(visibility, charger_id)
            if charger is None:
                raise NotFound(charger_id)
            return charger
        wanted = params.charger_query(query, paged=self._paged)
        ids: Sequence[str] | None = wanted.ids
        if only is not None:  # an identity's own chargers, and of those only the ones asked for
            ids = sorted(only) if ids is None else [i for i in ids if i in only]
        if not self._paged:
            chargers, _ = await store.chargers_json(visibility, ids, 0, None)
            return chargers
        chargers, total = await store.chargers_json(
            visibility, ids, wanted.offset, wanted.page_size
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


def create_app(
    settings: Settings, store: Store | None = None, limiter: Limiter | None = None
) -> EnergSyncApp:
    return EnergSyncApp(settings, store, limiter)


def app_from_environment() -> EnergSyncApp:
    """The factory uvicorn workers import (`evshare serve` passes its flags as EVSHARE_*)."""
    return create_app(load_settings())
