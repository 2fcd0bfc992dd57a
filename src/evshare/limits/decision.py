"""The verdict on one request, and the pure rule both backends apply to reach it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from evshare.errors import QuotaExceeded, Throttled
from evshare.limits.bucket import seconds_until
from evshare.limits.headers import LimitState, rate_limit_headers
from evshare.limits.periods import bounds
from evshare.limits.policy import Policy

RefusalCode = Literal["throttled", "quota_exceeded"]


@dataclass(frozen=True, slots=True)
class Decision:
    """`retry_after` is whole seconds until the call could succeed (0 when admitted);
    `headers` are the RateLimit fields, empty when the plan imposes nothing."""

    allowed: bool
    code: RefusalCode | None = None
    retry_after: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    def raise_if_refused(self) -> None:
        """Raise Throttled or QuotaExceeded (with API Gateway's messages) for a refusal."""
        if self.code == "quota_exceeded":
            raise QuotaExceeded("Limit Exceeded", self.retry_after, self.headers)
        if self.code == "throttled":
            raise Throttled("Too Many Requests", self.retry_after, self.headers)


def decide(policy: Policy, now: float, tokens: float, used: int) -> Decision:
    """Judge a request at epoch second `now` when the bucket holds `tokens` (already refilled to
    `now`) and `used` units of the current period's quota are spent. Admitted only if both the
    throttle and the quota allow it; the caller then takes one token and one unit."""
    throttle, quota = policy.throttle, policy.quota
    short = throttle is not None and tokens < 1
    spent = quota is not None and used >= quota.limit
    allowed = not (short or spent)
    limits: list[LimitState] = []
    waits: list[float] = []
    if throttle is not None:
        left = tokens - 1 if allowed else tokens
        reset = seconds_until(left, throttle.burst, throttle.rate)
        limits.append(
            LimitState("burst", throttle.burst, throttle.window, int(left), math.ceil(reset))
        )
        if short:
            waits.append(seconds_until(tokens, 1, throttle.rate))
    if quota is not None:
        start, end = bounds(quota.period, now)
        spent_after = used + 1 if allowed else used
        remaining = max(0, quota.limit - spent_after)
        limits.append(
            LimitState(quota.period, quota.limit, end - start, remaining, math.ceil(end - now))
        )
        if spent:
            waits.append(end - now)
    headers = rate_limit_headers(limits)
    if allowed:
        return Decision(True, None, 0, headers)
    code: RefusalCode = "quota_exceeded" if spent else "throttled"
    return Decision(False, code, max(1, math.ceil(max(waits))), headers)
