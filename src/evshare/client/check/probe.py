"""Sending the check's requests: a hard budget, obedience to 429s, a curl line and a latency
figure for each.

The check never floods a provider: it sends at most `max_requests` requests in all (429s and
retries included), one at a time, and when refused with a 429 it waits what `Retry-After` (or
the `RateLimit` field) asks before it tries again, up to `max_wait` seconds in all.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from evshare.client.retry import advised_wait

KEY_PLACEHOLDER = "$EVSHARE_CHECK_KEY"


class BudgetSpent(Exception):
    """`max_requests` requests were sent; the checks that remain are skipped."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One response as the checks see it (or a timeout/transport failure: status 0)."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    curl: str
    elapsed_ms: float
    failure: str = ""  # "timeout" or a transport error, when status is 0

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))

    def json(self) -> Any:
        """The parsed body; raises ValueError when it is not JSON."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise ValueError(str(exc)) from None


@dataclass
class Prober:
    base_url: str
    key: str
    max_requests: int
    key_reference: str = KEY_PLACEHOLDER
    timeout: float = 30.0
    max_wait: float = 120.0
    retries: int = 2
    sent: int = 0
    waited: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    throttled: list[Answer] = field(default_factory=list)
    failures: list[Answer] = field(default_factory=list)
    _http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Prober:
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            follow_redirects=False,
            headers={"user-agent": "evshare-check", "accept": "application/json"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    def url(self, path: str, params: Sequence[tuple[str, str | int]] = ()) -> str:
        query = urlencode(list(params), safe="[],")
        return f"{self.base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")

    def curl(self, url: str, headers: dict[str, str]) -> str:
        parts = ["curl", "-sS", "-i"]
        for name, value in headers.items():
            shown = value.replace(self.key, self.key_reference) if self.key else value
            # Double quotes so the shell expands the key's variable; nothing else in there.
            parts += [
                "-H",
                f'"{name}: {shown}"'
                if self.key_reference in shown
                else shlex.quote(f"{name}: {shown}"),
            ]
        parts.append(shlex.quote(url))
        return " ".join(parts)

    async def get(
        self,
        path: str,
        params: Sequence[tuple[str, str | int]] = (),
        *,
        headers: dict[str, str] | None = None,
        key: bool = True,
        label: str = "",
    ) -> Answer:
        """GET with the key in x-api-key (unless `key` is False or `headers` say otherwise).
        A 429 is waited out and asked again (within the budget); everything else is returned
        as it came, for the checks to judge."""
        sent_headers = {"x-api-key": self.key} if key and headers is None else {}
        sent_headers.update(headers or {})
        url = self.url(path, params)
        backoff = 1.0
        failed = 0
        while True:
            answer = await self._once(url, sent_headers, label or path)
            if (answer.status == 0 or answer.status >= 500) and failed < self.retries:
                failed += 1  # recorded in `failures`; asked again so the other checks can run
                await asyncio.sleep(0.2 * failed)
                continue
            if answer.status != 429:
                return answer
            self.throttled.append(answer)
            wait = advised_wait(httpx.Response(429, headers=answer.headers))
            if wait is None:
                wait, backoff = backoff, min(backoff * 2, 30.0)
            if self.waited + wait > self.max_wait:
                return answer
            self.waited += wait
            await asyncio.sleep(wait)

    async def _once(self, url: str, headers: dict[str, str], label: str) -> Answer:
        if self.sent >= self.max_requests:
            raise BudgetSpent
        assert self._http is not None  # noqa: S101 - used inside `async with` only
        self.sent += 1
        curl = self.curl(url, headers)
        began = time.perf_counter()
        try:
            response = await self._http.get(url, headers=headers)
        except httpx.TimeoutException:
            answer = Answer(0, httpx.Headers(), b"", url, curl, self._ms(began), "timeout")
            self.failures.append(answer)
            return answer
        except httpx.TransportError as exc:
            answer = Answer(0, httpx.Headers(), b"", url, curl, self._ms(began), str(exc) or "?")
            self.failures.append(answer)
            return answer
        elapsed = self._ms(began)
        self.latencies.setdefault(label, []).append(elapsed)
        answer = Answer(
            response.status_code, response.headers, response.content, url, curl, elapsed
        )
        if response.status_code >= 500:
            self.failures.append(answer)
        return answer

    @staticmethod
    def _ms(began: float) -> float:
        return (time.perf_counter() - began) * 1000
