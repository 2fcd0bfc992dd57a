"""The EnergSync client: async on httpx, with a small synchronous wrapper.

Every call is bounded in time: each attempt by `timeout`, the call with its retries by `budget`.
Transient failures (timeouts, dropped connections, 5xx, 429, a body that is not JSON) are retried
by stamina with exponential backoff and jitter, or after exactly the wait the provider asked for
(`Retry-After`, or the `RateLimit` field's reset when nothing is left); a wait longer than what
is left of the budget gives up at once rather than sleeping past it. 401 and 403 are the same
answer (`AuthRejected`); 404 is `ChargerNotFound`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import TracebackType
from typing import Any, Literal, Self

import httpx
import stamina

from evshare import __version__
from evshare.client.errors import AuthRejected, BadResponse, ChargerNotFound, GaveUp
from evshare.client.parse import ChargerPage, load_json, parse_charger, parse_charger_page
from evshare.client.parse import parse_sessions as _parse_sessions
from evshare.client.retry import RETRYABLE_STATUS, advised_wait
from evshare.model import Charger, Session

ClientProfile = Literal["auto", "1.2.0", "1.0.7"]
AuthStyle = Literal["x-api-key", "bearer"]

MAX_PAGE_SIZE = 1000
IDS_PER_REQUEST = 100  # keeps URLs well under the 8 KB most gateways accept
BAD_JSON_RETRIES = 2  # a truncated body may be transient; a provider that always sends junk is not


@dataclass(slots=True)
class ClientStats:
    """What a client did, for summaries: requests sent, retries, 429s, failed attempts."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    failures: int = 0
    waited_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


class _Transient(Exception):
    """A failure worth another attempt (internal: never escapes the client)."""

    def __init__(self, reason: str, status: int | None = None, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.wait = wait


class ResponseTooLarge(BadResponse):
    """The body passed the caller's `max_bytes` (the caller narrows its request and asks again)."""


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    text = f": {message}" if isinstance(message, str) else ""
    return f"HTTP {response.status_code}{text}"


class EnergSyncClient:
    """An async client for one provider.

    ```python
    async with EnergSyncClient("https://api.example.com/default", key) as client:
        async for page in client.iter_chargers():
            for charger in page:
                sessions = await client.sessions(charger.id, date(2026, 1, 1), date(2026, 1, 31))
    ```
    """

    def __init__(
        self,
        base_url: str,
        key: str | None = None,
        *,
        profile: ClientProfile = "auto",
        auth: AuthStyle = "x-api-key",
        timeout: float = 30.0,
        budget: float = 120.0,
        attempts: int = 10,
        concurrency: int = 4,
        page_size: int = MAX_PAGE_SIZE,
        wait_max: float = 30.0,
        limiter: asyncio.Semaphore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"user-agent": f"evshare/{__version__}", "accept": "application/json"}
        if key is not None:
            headers.update(
                {"x-api-key": key} if auth == "x-api-key" else {"authorization": f"Bearer {key}"}
            )
        self.base_url = base_url.rstrip("/")
        self.profile: ClientProfile = profile
        self.budget = budget
        self.attempts = attempts
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.wait_max = wait_max
        self.stats = ClientStats()
        self._own = asyncio.Semaphore(concurrency)
        self._shared = limiter
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
            follow_redirects=True,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the three operations ------------------------------------------------------------

    async def chargers(self, ids: Sequence[str] | None = None) -> list[Charger]:
        """Every charger the key may see (only `ids`, when given), each once, in the order the
        provider lists them."""
        return [charger async for page in self.iter_chargers(ids) for charger in page]

    async def iter_chargers(self, ids: Sequence[str] | None = None) -> AsyncIterator[list[Charger]]:
        """The chargers page by page, each charger once. Paging ends at an empty or short page
        (never trusting `total`, which some providers get wrong), or at a page with nothing new
        (a provider that ignores `page`). A 1.0.7 bare array is one page."""
        if ids is not None:
            wanted = list(dict.fromkeys(ids))
            for first in range(0, len(wanted), IDS_PER_REQUEST):
                async for page in self._walk(wanted[first : first + IDS_PER_REQUEST]):
                    yield page
            return
        async for page in self._walk(None):
            yield page

    async def _walk(self, ids: list[str] | None) -> AsyncIterator[list[Charger]]:
        seen: set[str] = set()
        number = 1
        while True:
            page = await self.charger_page(number, ids=ids)
            fresh = [c for c in page.chargers if c.id not in seen]
            seen.update(c.id for c in fresh)
            if fresh:
                yield fresh
            if page.bare or not fresh or len(page.chargers) < self.page_size:
                return
            number += 1

    async def charger_page(self, page: int, *, ids: Sequence[str] | None = None) -> ChargerPage:
        """One answer of GET /chargers, as the provider sent it (duplicates included)."""
        params: list[tuple[str, str | int]] = []
        if ids:
            name = "chargerIds[]" if self.profile == "1.0.7" else "chargerIds"
            params += [(name, charger_id) for charger_id in ids]
        if self.profile != "1.0.7":
            params += [("page", page), ("pageSize", self.page_size)]
        response, body = await self.get("/chargers", params)
        parsed = parse_charger_page(body, str(response.url))
        if self.profile == "auto":
            self.profile = "1.0.7" if parsed.bare else "1.2.0"
        return parsed

    async def charger(self, charger_id: str) -> Charger:
        response, body = await self.get(self.charger_path(charger_id), [])
        return parse_charger(body, str(response.url))

    async def sessions(
        self,
        charger_id: str,
        start: date | None = None,
        end: date | None = None,
        *,
        max_bytes: int | None = None,
    ) -> list[Session]:
        """The charger's sessions that started from 00:00 UTC on `start` through the end of
        `end` (either may be None: unbounded). With `max_bytes`, a larger body raises
        `ResponseTooLarge` as soon as it passes the limit, before it is all read."""
        response, body = await self._sessions(charger_id, start, end, max_bytes)
        return _parse_sessions(body, charger_id, str(response.url))

    async def sessions_as(
        self,
        charger_id: str,
        start: date | None,
        end: date | None,
        *,
        prefix: str,
        local_charger: str,
        max_bytes: int | None = None,
    ) -> list[Session]:
        """`sessions()` with each id prefixed and every session under `local_charger`: the ids
        `evshare collect` stores, made while parsing."""
        response, body = await self._sessions(charger_id, start, end, max_bytes)
        return _parse_sessions(
            body, charger_id, str(response.url), prefix=prefix, local_charger=local_charger
        )

    async def _sessions(
        self, charger_id: str, start: date | None, end: date | None, max_bytes: int | None
    ) -> tuple[httpx.Response, Any]:
        params: list[tuple[str, str | int]] = []
        if start is not None:
            params.append(("startDate", start.isoformat()))
        if end is not None:
            params.append(("endDate", end.isoformat()))
        return await self.get(
            self.charger_path(charger_id) + "/sessions", params, max_bytes=max_bytes
        )

    @staticmethod
    def charger_path(charger_id: str) -> str:
        from urllib.parse import quote

        return "/chargers/" + quote(charger_id, safe="")

    # -- one request, retried -------------------------------------------------------------

    async def get(
        self, path: str, params: Sequence[tuple[str, str | int]], *, max_bytes: int | None = None
    ) -> tuple[httpx.Response, Any]:
        """GET `path`, retrying transient failures; the final response and its parsed JSON."""
        started = time.monotonic()
        deadline = started + self.budget
        url = f"{self.base_url}{path}"
        tries = 0
        bad_json = 0

        def backoff(exc: Exception) -> bool | float:
            if not isinstance(exc, _Transient):
                return False
            if exc.wait is not None:
                if exc.wait > deadline - time.monotonic():
                    return False
                self.stats.waited_s += exc.wait
                return exc.wait
            return True

        last: _Transient | None = None
        try:
            async for attempt in stamina.retry_context(
                on=backoff,
                attempts=self.attempts,
                timeout=self.budget,
                wait_initial=0.2,
                wait_max=self.wait_max,
                wait_jitter=1.0,
            ):
                with attempt:
                    tries += 1
                    if tries > 1:
                        self.stats.retries += 1
                    try:
                        response = await self._send(path, params, max_bytes)
                    except _Transient as exc:
                        last = exc
                        raise
                    url = str(response.url)
                    if response.status_code == 200:
                        try:
                            return response, load_json(response.content, url)
                        except BadResponse:
                            bad_json += 1
                            if bad_json > BAD_JSON_RETRIES:
                                raise
                            last = _Transient("the body is not JSON", 200)
                            raise last from None
                    last = self._refusal(response, url)
                    raise last
        except _Transient as exc:
            last = exc
        elapsed = time.monotonic() - started
        reason = last.reason if last else "no answer"
        hint = (
            f"; the provider asked to wait {last.wait:.0f}s, past what was left of the "
            f"{self.budget:.0f}s budget"
            if last is not None and last.wait is not None and last.wait > self.budget - elapsed
            else ""
        )
        raise GaveUp(
            f"{url}: gave up after {tries} attempt(s) in {elapsed:.1f}s: {reason}{hint}",
            url=url,
            status=None if last is None else last.status,
            attempts=tries,
        )

    def _refusal(self, response: httpx.Response, url: str) -> _Transient:
        """The transient failure a non-200 answer is; raises at once for a final one."""
        status = response.status_code
        if status in RETRYABLE_STATUS:
            self.stats.failures += 1
            if status == 429:
                self.stats.throttled += 1
            wait = advised_wait(response) if status in (429, 503) else None
            return _Transient(_reason(response), status, wait)
        if status in (401, 403):
            raise AuthRejected(
                f"{url}: {_reason(response)} - the provider refused the key "
                "(missing, wrong, revoked or expired); check --key/--key-env",
                url=url,
                status=status,
            )
        if status == 404:
            raise ChargerNotFound(f"{url}: {_reason(response)}", url=url, status=status)
        raise BadResponse(f"{url}: {_reason(response)}", url=url, status=status)

    async def _send(
        self, path: str, params: Sequence[tuple[str, str | int]], max_bytes: int | None
    ) -> httpx.Response:
        async with self._own:
            if self._shared is not None:
                async with self._shared:
                    return await self._request(path, params, max_bytes)
            return await self._request(path, params, max_bytes)

    async def _request(
        self, path: str, params: Sequence[tuple[str, str | int]], max_bytes: int | None
    ) -> httpx.Response:
        self.stats.requests += 1
        try:
            if max_bytes is None:
                response = await self._http.get(path, params=list(params))
            else:
                request = self._http.build_request("GET", path, params=list(params))
                response = await self._http.send(request, stream=True)
                try:
                    chunks, size = [], 0
                    async for chunk in response.aiter_raw():
                        size += len(chunk)
                        if size > max_bytes and response.status_code == 200:
                            raise ResponseTooLarge(
                                f"{request.url}: the body passed {max_bytes} bytes",
                                url=str(request.url),
                            )
                        chunks.append(chunk)
                finally:
                    await response.aclose()
                response = httpx.Response(
                    response.status_code,
                    headers=response.headers,
                    content=b"".join(chunks),
                    request=request,
                )
        except httpx.TimeoutException as exc:
            self.stats.failures += 1
            raise _Transient(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            self.stats.failures += 1
            raise _Transient(f"connection failed: {exc or type(exc).__name__}") from None
        self.stats.statuses[response.status_code] = (
            self.stats.statuses.get(response.status_code, 0) + 1
        )
        return response


class Client:
    """The synchronous face of `EnergSyncClient`, for scripts and notebooks.

    ```python
    with Client("http://127.0.0.1:8000", key) as client:
        for charger in client.chargers():
            print(charger.id, len(client.sessions(charger.id, date(2026, 1, 1))))
    ```
    """

    def __init__(self, base_url: str, key: str | None = None, **options: Any) -> None:
        self._runner = asyncio.Runner()
        self._client: EnergSyncClient = self._runner.run(self._open(base_url, key, options))

    @staticmethod
    async def _open(base_url: str, key: str | None, options: dict[str, Any]) -> EnergSyncClient:
        return EnergSyncClient(base_url, key, **options)

    @property
    def stats(self) -> ClientStats:
        return self._client.stats

    def chargers(self, ids: Sequence[str] | None = None) -> list[Charger]:
        return self._runner.run(self._client.chargers(ids))

    def charger(self, charger_id: str) -> Charger:
        return self._runner.run(self._client.charger(charger_id))

    def sessions(
        self, charger_id: str, start: date | None = None, end: date | None = None
    ) -> list[Session]:
        return self._runner.run(self._client.sessions(charger_id, start, end))

    def close(self) -> None:
        try:
            self._runner.run(self._client.aclose())
        finally:
            self._runner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
