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
import itertools
import logging
import math
import os
import random
import re
import secrets
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import unquote_to_bytes

from evshare.api import auth, params
from evshare.api.accesslog import AccessLog, BufferedAccessLog, LoggingAccessLog
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
from evshare.store.port import SessionPages

log = logging.getLogger("evshare.api")

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_JSON = (b"content-type", b"application/json")
_PRIVATE = (b"cache-control", b"no-store")
_PUBLIC = (b"cache-control", b"public, max-age=300")
_HEALTHY = b'{"status":"ok"}'
_SESSIONS_SUFFIX = "/sessions"
_NO_LIMITS = Decision(True)
_RATE_LIMIT_NAMES = {"RateLimit-Policy": b"ratelimit-policy", "RateLimit": b"ratelimit"}
_EPOCH_DAY = date(1970, 1, 1)
_DAY_S = 86_400
_FINAL_FLUSH_ATTEMPTS = 5
_FINAL_FLUSH_PAUSE_S = 0.2
# Sessions per streamed page: about 15 KB, read by SQLite in a fraction of a millisecond.
_PAGE_ROWS = 100


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    headers: Headers
    key_name: str = "-"
    # A body sent in pieces after `body`, of unknown length (a charger's whole history).
    pages: AsyncIterator[bytes] | None = None


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
        access_log: AccessLog | None = None,
    ) -> None:
        self.settings = settings
        # None: no access log at all (not even a level check per request).
        self._access: AccessLog | None = access_log or LoggingAccessLog()
        if not settings.access_log:
            self._access = None
        # Request ids: unique, not secret, so a random prefix per process and a counter.
        self._request_ids = map(
            (secrets.token_hex(8) + "%016x").__mod__, itertools.count(random.getrandbits(32))
        )
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
        self._page_turn = asyncio.Lock()  # streamed histories read one page at a time
        self._pages: SessionPages | None = None
        self._root = settings.root_path
        self._gateway = settings.auth == "gateway"
        self._auth = auth.build_authenticator(settings, lambda: self.store)
        # Built on first request: a Lambda cold start should not pay for YAML and Markdown.
        self._openapi: bytes | None = None
        self._docs: bytes | None = None

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
        # Servers without lifespan events (the Lambda adapter) start the app on first use;
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
        # Checked once: a runtime Protocol check costs microseconds.
        self._pages = self._store if isinstance(self._store, SessionPages) else None
        self._housekeeping = asyncio.create_task(self._housekeep(), name="evshare-housekeeping")
        self._started = True
        log.info("ready to serve (process %d)", os.getpid())

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
        if self._access is not None:
            self._access.flush()
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
                request_id = value.decode()
        if request_id is None:
            request_id = next(self._request_ids)
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        try:
            await self._ensure_started()
            reply = await self._dispatch(scope, path, api_key, authorization)
        except EvshareError as exc:
            reply = _error_reply(to_response(exc))
        except Exception:
            log.exception("unhandled error serving %s", path)
            reply = _error_reply(INTERNAL)
        headers = reply.headers
        if reply.pages is None:
            headers.append((b"content-length", b"%d" % len(reply.body)))
        headers.append((b"x-request-id", request_id.encode()))
        # Recorded before sending, so that the line exists once the client has its answer.
        if self._access is not None:
            query = scope.get("query_string", b"")
            self._access.request(
                scope["method"],
                path,
                "?" + query.decode("latin-1") if query else "",
                reply.status,
                (time.perf_counter() - started) * 1000,
                reply.key_name,
                request_id,
            )
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        head = scope["method"] == "HEAD"
        if reply.pages is not None and not head:
            await _stream(send, reply.pages, path, self._page_turn)
            return
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

        caller = await self._caller(scope, api_key, authorization)
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
            reply = _ok(body, [_JSON, _PRIVATE, *rate_limit])
        reply.key_name = caller.name
        return reply

    async def _caller(
        self, scope: Scope, api_key: bytes | None, authorization: bytes | None
    ) -> auth.Caller:
        if self._gateway:  # API Gateway checked the key; its id in the request context names it
            return auth.key_caller(await auth.authenticate_gateway(self.store, scope, api_key))
        return await self._auth.authenticate(scope, api_key, authorization)

    async def _operation(
        self, operation: str, caller: auth.Caller, charger_id: str, query: dict[str, list[str]]
    ) -> bytes | AsyncIterator[bytes]:
        store = self.store
        visibility, only = caller.visibility, caller.only
        if operation == "sessions":
            window = params.session_query(query)
            if only is not None and charger_id not in only:
                raise NotFound(charger_id)
            pages = self._pages
            if (window.start is None or window.end is None) and pages is not None:
                # A history without an end: streamed in pages (see _stream).
                if not await pages.charger_visible(visibility, charger_id):
                    raise NotFound(charger_id)
                return pages.session_pages(charger_id, window.start, window.end, _PAGE_ROWS)
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
            if self._openapi is None:
                issuers = auth.bearer_issuers(self._auth)
                self._openapi = document_json(self.settings.profile, self._root, issuers)
            return Reply(200, self._openapi, [_JSON, _PUBLIC])
        if path == "/docs":
            if self._docs is None:
                self._docs = docs_html(self.settings.profile, self._root)
            return Reply(200, self._docs, [(b"content-type", b"text/html; charset=utf-8"), _PUBLIC])
        await self.store.ping()
        return Reply(200, _HEALTHY, [_JSON, _PRIVATE])


def _ok(body: bytes | AsyncIterator[bytes], headers: Headers) -> Reply:
    """A 200 with the body whole, or streamed page by page."""
    if isinstance(body, bytes):
        return Reply(200, body, headers)
    return Reply(200, b"", headers, pages=body)


async def _stream(send: Send, pages: AsyncIterator[bytes], path: str, turn: asyncio.Lock) -> None:
    """A JSON array sent page by page, other requests served between pages: a charger's whole
    history holds neither the worker nor more than a page of memory. Streams take `turn`s (one
    page at a time in the worker) and rest as long as each page took, so that however many
    histories are being pulled, other requests keep at least half the worker. A store that
    fails midway cannot change the 200 already sent: the connection is then closed without the
    closing bracket (and the chunked body's end), which every client sees as a broken
    response."""
    await send({"type": "http.response.body", "body": b"[", "more_body": True})
    separator = b""
    try:
        while True:
            async with turn:
                began = time.perf_counter()
                page = await anext(pages, None)
                if page is None:
                    break
                await send(
                    {"type": "http.response.body", "body": separator + page, "more_body": True}
                )
                spent = time.perf_counter() - began
            separator = b","
            # As long again for everything else: all the streams of a worker together take at
            # most half its time, however many there are.
            await asyncio.sleep(spent)
    except EvshareError as exc:
        log.warning("streaming %s stopped: %s", path, exc)
        raise
    await send({"type": "http.response.body", "body": b"]"})


def _error_reply(error: ErrorResponse) -> Reply:
    return Reply(error.status, error.body, [_JSON, _PRIVATE, *error.headers])


def create_app(
    settings: Settings, store: Store | None = None, limiter: Limiter | None = None
) -> EnergSyncApp:
    return EnergSyncApp(settings, store, limiter)


def app_from_environment(kind: type[EnergSyncApp] = EnergSyncApp) -> EnergSyncApp:
    """The app of a server process: settings from EVSHARE_* (how `evshare serve` passes its
    flags to its workers), the access log to stderr in batches (see accesslog.py)."""
    settings = load_settings()
    return kind(settings, access_log=BufferedAccessLog(sys.stderr.fileno()))
