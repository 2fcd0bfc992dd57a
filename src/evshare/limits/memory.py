"""The in-process limiter: exact for one worker process, shared with no other."""

from __future__ import annotations

import time
from collections.abc import Callable

from evshare.limits.bucket import level
from evshare.limits.decision import Decision, decide
from evshare.limits.periods import bounds
from evshare.limits.policy import policy_for
from evshare.model import Period, Plan


class MemoryLimiter:
    """State lives per key, not per plan, so a key moved to another plan keeps what it spent;
    quotas are counted per period kind, as in the Redis backend. `clock` gives epoch seconds.
    `admit` never awaits, so requests in one event loop cannot interleave within it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key: (tokens, at)
        self._counts: dict[tuple[str, Period], tuple[int, int]] = {}  # (key, period): (start, used)

    async def admit(self, key: str, plan: Plan) -> Decision:
        policy = policy_for(plan)
        if policy is None:
            return Decision(True)
        now = self._clock()
        throttle, quota = policy.throttle, policy.quota
        tokens = 0.0
        if throttle is not None:
            bucket = self._buckets.get(key)
            tokens = float(throttle.burst)
            if bucket is not None:
                tokens = level(*bucket, now, throttle.rate, throttle.burst)
        start = used = 0
        if quota is not None:
            start = bounds(quota.period, now)[0]
            count = self._counts.get((key, quota.period))
            if count is not None and count[0] == start:
                used = count[1]
        decision = decide(policy, now, tokens, used)
        if decision.allowed:
            if throttle is not None:
                self._buckets[key] = (tokens - 1, now)
            if quota is not None:
                self._counts[key, quota.period] = (start, used + 1)
        return decision

    async def close(self) -> None:
        """Nothing to release."""
