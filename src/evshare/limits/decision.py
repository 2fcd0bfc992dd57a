"""The verdict on one request, and the pure rule both backends apply to reach it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
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
    throttle and the quota allow it; the caller then takes one token and one unit.

    The headers are those `rate_limit_headers` gives for the plan's limits, built without the
    intermediate objects (this runs on every request): the policy field is the same for every
    request of a plan and period length, and is formatted once."""
    throttle, quota = policy.throttle, policy.quota
    short = throttle is not None and tokens < 1
    spent = quota is not None and used >= quota.limit
    allowed = not (short or spent)
    name, remaining, reset = "", -1, 0
    wait = 0.0
    window = 0
    if throttle is not None:
        left = tokens - 1 if allowed else tokens
        name, remaining = "burst", int(left)
        reset = math.ceil(seconds_until(left, throttle.burst, throttle.rate))
        if short:
            wait = seconds_until(tokens, 1, throttle.rate)
    if quota is not None:
        start, end = bounds(quota.period, now)
        window = end - start
        left_units = max(0, quota.limit - (used + 1 if allowed else used))
        # RateLimit reports the limit with the least remaining; the quota on a tie.
        if throttle is None or left_units <= remaining:
            name, remaining, reset = quota.period, left_units, math.ceil(end - now)
        if spent:
            wait = max(wait, end - now)
    if throttle is None and quota is None:
        headers: dict[str, str] = {}
    else:
        headers = {
            "RateLimit-Policy": _policy_field(policy, window),
            "RateLimit": f'"{name}";r={remaining};t={reset}',
        }
    if allowed:
        return Decision(True, None, 0, headers)
    code: RefusalCode = "quota_exceeded" if spent else "throttled"
    return Decision(False, code, max(1, math.ceil(wait)), headers)


@lru_cache(maxsize=1024)
def _policy_field(policy: Policy, quota_window: int) -> str:
    limits = []
    if policy.throttle is not None:
        throttle = policy.throttle
        limits.append(LimitState("burst", throttle.burst, throttle.window, 0, 0))
    if policy.quota is not None:
        limits.append(LimitState(policy.quota.period, policy.quota.limit, quota_window, 0, 0))
    return rate_limit_headers(limits)["RateLimit-Policy"]
