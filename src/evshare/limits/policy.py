"""What a `Plan` imposes, checked once per plan: a throttle, a quota, both, or nothing.

The built-in plan (model.UNLIMITED_PLAN) imposes nothing whatever its numbers. An infinite
`rate` means no throttle (the bucket is always full); no `quota` means no quota.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from evshare.errors import ConfigError
from evshare.model import UNLIMITED_PLAN, Period, Plan

UNLIMITED = Plan(name=UNLIMITED_PLAN, rate=math.inf, burst=0)


@dataclass(frozen=True, slots=True)
class Throttle:
    rate: float  # tokens per second
    burst: int  # bucket capacity
    window: int  # whole seconds to refill an empty bucket, at least 1


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    period: Period


@dataclass(frozen=True, slots=True)
class Policy:
    throttle: Throttle | None
    quota: Quota | None


@lru_cache(maxsize=256)
def policy_for(plan: Plan) -> Policy | None:
    """The limits `plan` imposes, or None if it imposes none. ConfigError if it makes no sense."""
    if plan.name == UNLIMITED_PLAN:
        return None
    throttle = None
    if not (plan.rate > 0):  # also rejects NaN
        raise ConfigError(f"plan {plan.name!r}: rate must be > 0, got {plan.rate}")
    if math.isfinite(plan.rate):
        if plan.burst < 1:
            raise ConfigError(f"plan {plan.name!r}: burst must be >= 1, got {plan.burst}")
        throttle = Throttle(plan.rate, plan.burst, max(1, math.ceil(plan.burst / plan.rate)))
    quota = None
    if (plan.quota is None) != (plan.period is None):
        raise ConfigError(f"plan {plan.name!r}: quota and period go together")
    if plan.quota is not None and plan.period is not None:
        if plan.quota < 1:
            raise ConfigError(f"plan {plan.name!r}: quota must be >= 1, got {plan.quota}")
        if plan.period not in ("day", "week", "month"):
            raise ConfigError(f"plan {plan.name!r}: unknown period {plan.period!r}")
        quota = Quota(plan.quota, plan.period)
    if throttle is None and quota is None:
        return None
    return Policy(throttle, quota)
