"""The `Limiter` port, and the guard that applies `limiter_failure` when a backend is down."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Literal, Protocol

from evshare.errors import Unavailable
from evshare.limits.decision import Decision
from evshare.limits.policy import policy_for
from evshare.model import Plan

log = logging.getLogger(__name__)


class Limiter(Protocol):
    async def admit(self, key: str, plan: Plan) -> Decision:
        """Judge one request by the key named `key` under `plan`, consuming one token and one
        unit of quota if (and only if) it is admitted. Raises Unavailable if the backend is."""
        ...

    async def close(self) -> None: ...


class GuardedLimiter:
    """Wraps a limiter whose backend can fail. On Unavailable: "closed" re-raises it (the API
    answers 503); "open" admits the request unchecked, counts it and logs a warning at most
    once per `log_interval` seconds. After a failure the backend is left alone for `cooldown`
    seconds, so that a hung Redis costs one timeout per cooldown rather than one per request.
    A success ends the rest at once, and a failure of a call that began before the last success
    (one that was already in flight while the backend recovered) does not start another."""

    def __init__(
        self,
        inner: Limiter,
        failure: Literal["open", "closed"],
        *,
        cooldown: float = 1.0,
        log_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._failure = failure
        self._cooldown = cooldown
        self._log_interval = log_interval
        self._clock = clock
        self._down_until = -math.inf
        self._last_success = -math.inf  # when the last call that succeeded began
        self._last_error = ""
        self._fail_open_count = 0
        self._unreported = 0
        self._next_report = -math.inf

    @property
    def fail_open_count(self) -> int:
        """Requests admitted unchecked because the backend was unavailable."""
        return self._fail_open_count

    async def admit(self, key: str, plan: Plan) -> Decision:
        if policy_for(plan) is None:
            return await self._inner.admit(key, plan)  # nothing to ask the backend
        now = self._clock()
        if now >= self._down_until:
            began = now
            try:
                decision = await self._inner.admit(key, plan)
            except Unavailable as exc:
                now = self._clock()
                if began > self._last_success:
                    self._down_until = now + self._cooldown
                self._last_error = str(exc)
                if self._failure == "closed":
                    raise
            else:
                self._last_success = max(self._last_success, began)
                self._down_until = -math.inf
                return decision
        elif self._failure == "closed":
            retry_after = max(1, math.ceil(self._down_until - now))
            raise Unavailable(f"rate limiter unavailable: {self._last_error}", retry_after)
        self._fail_open_count += 1
        self._unreported += 1
        if now >= self._next_report:
            log.warning(
                "rate limiter unavailable, %d request(s) admitted unchecked since the last "
                "report: %s",
                self._unreported,
                self._last_error,
            )
            self._unreported = 0
            self._next_report = now + self._log_interval
        return Decision(True)

    async def close(self) -> None:
        await self._inner.close()
