"""Usage plans: a token bucket throttle and UTC calendar quotas, judged per request.

The math is pure (periods, bucket, headers, policy, decision); `MemoryLimiter` keeps state in
the process, `RedisLimiter` shares it across processes; `GuardedLimiter` applies
`limiter_failure`; `build_limiter` picks one from the settings. `check_plan` vets a plan before
it is stored; `PlanBook` finds a key's plan without a query.
"""

from __future__ import annotations

from evshare.config import Settings
from evshare.limits.decision import Decision, RefusalCode
from evshare.limits.limiter import GuardedLimiter, Limiter
from evshare.limits.memory import MemoryLimiter
from evshare.limits.plans import PlanBook, check_plan
from evshare.limits.policy import UNLIMITED
from evshare.limits.usage import UsageCounter
from evshare.model import UsageRow

__all__ = [
    "UNLIMITED",
    "Decision",
    "GuardedLimiter",
    "Limiter",
    "MemoryLimiter",
    "PlanBook",
    "RefusalCode",
    "UsageCounter",
    "UsageRow",
    "build_limiter",
    "check_plan",
]


def build_limiter(settings: Settings) -> Limiter:
    """Redis (guarded by `limiter_failure`) when `redis_url` is set, else in-process memory.
    No I/O here: Redis is first contacted by the first request."""
    if settings.redis_url is None:
        return MemoryLimiter()
    from evshare.limits.redis import RedisLimiter

    redis = RedisLimiter.from_url(settings.redis_url, timeout=settings.redis_timeout)
    return GuardedLimiter(redis, settings.limiter_failure)
