"""GuardedLimiter applies `limiter_failure`; build_limiter picks a backend from the settings."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import pytest

from evshare.config import Settings
from evshare.errors import ConfigError, Unavailable
from evshare.limits import UNLIMITED, Decision, GuardedLimiter, MemoryLimiter, build_limiter
from evshare.limits.redis import RedisLimiter
from evshare.model import Plan
from tests.logs import messages

pytestmark = pytest.mark.anyio

Failure = Literal["open", "closed"]
PLAN = Plan("p", rate=1, burst=1)
ADMITTED = Decision(True, None, 0, {"RateLimit": '"burst";r=0;t=1'})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Backend:
    """A limiter whose backend is up or down at the test's word."""

    def __init__(self) -> None:
        self.down = False
        self.calls: list[tuple[str, Plan]] = []
        self.closed = False

    async def admit(self, key: str, plan: Plan) -> Decision:
        self.calls.append((key, plan))
        if self.down:
            raise Unavailable("Redis: connection refused")
        return ADMITTED

    async def close(self) -> None:
        self.closed = True


def guarded(
    failure: Failure, cooldown: float = 1.0, log_interval: float = 60.0
) -> tuple[GuardedLimiter, Backend, Clock]:
    backend, clock = Backend(), Clock()
    limiter = GuardedLimiter(
        backend, failure, cooldown=cooldown, log_interval=log_interval, clock=clock
    )
    return limiter, backend, clock


@pytest.mark.parametrize("failure", ["open", "closed"])
async def test_passes_decisions_through_while_the_backend_is_up(failure: Failure) -> None:
    limiter, backend, _ = guarded(failure)
    assert await limiter.admit("k", PLAN) is ADMITTED
    assert (backend.calls, limiter.fail_open_count) == ([("k", PLAN)], 0)


async def test_closed_raises_unavailable_and_rests_the_backend_for_the_cooldown() -> None:
    limiter, backend, clock = guarded("closed", cooldown=2.0)
    backend.down = True
    with pytest.raises(Unavailable, match="connection refused"):
        await limiter.admit("k", PLAN)
    clock.now += 0.5
    with pytest.raises(Unavailable, match="connection refused") as resting:
        await limiter.admit("k", PLAN)
    assert resting.value.retry_after == 2
    assert len(backend.calls) == 1
    backend.down = False
    clock.now += 1.5
    assert await limiter.admit("k", PLAN) is ADMITTED
    assert (len(backend.calls), limiter.fail_open_count) == (2, 0)


class Straggler(Backend):
    """A backend whose first call hangs until released, then fails: a call that was in flight
    while the backend recovered."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def admit(self, key: str, plan: Plan) -> Decision:
        if not self.calls:
            self.calls.append((key, plan))
            await self.release.wait()
            raise Unavailable("Redis: connection reset")
        return await super().admit(key, plan)


async def test_a_call_in_flight_before_a_success_does_not_rest_the_backend_again() -> None:
    backend, clock = Straggler(), Clock()
    limiter = GuardedLimiter(backend, "closed", cooldown=1.0, clock=clock)
    straggler = asyncio.create_task(limiter.admit("k", PLAN))
    await asyncio.sleep(0)  # the straggler is in flight
    assert await limiter.admit("k", PLAN) is ADMITTED  # a later call succeeds
    backend.release.set()
    with pytest.raises(Unavailable):
        await straggler
    # The backend answered after the straggler began: no rest, the next call goes to it.
    assert await limiter.admit("k", PLAN) is ADMITTED
    assert len(backend.calls) == 3


async def test_open_admits_unchecked_and_counts() -> None:
    limiter, backend, clock = guarded("open", cooldown=1.0)
    backend.down = True
    for _ in range(3):
        assert await limiter.admit("k", PLAN) == Decision(True, None, 0, {})
    assert (len(backend.calls), limiter.fail_open_count) == (1, 3)
    clock.now += 1.0
    await limiter.admit("k", PLAN)
    assert (len(backend.calls), limiter.fail_open_count) == (2, 4)
    backend.down = False
    clock.now += 1.0
    assert await limiter.admit("k", PLAN) is ADMITTED
    assert limiter.fail_open_count == 4


async def test_open_logs_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    limiter, backend, clock = guarded("open", cooldown=0.0, log_interval=60.0)
    backend.down = True
    with caplog.at_level(logging.WARNING, logger="evshare.limits.limiter"):
        for _ in range(50):
            clock.now += 1.0
            await limiter.admit("k", PLAN)
        assert len(messages(caplog, "evshare.limits.limiter")) == 1
        clock.now += 11.0
        await limiter.admit("k", PLAN)
    assert messages(caplog, "evshare.limits.limiter") == [
        "rate limiter unavailable, 1 request(s) admitted unchecked since the last report: "
        "Redis: connection refused",
        "rate limiter unavailable, 50 request(s) admitted unchecked since the last report: "
        "Redis: connection refused",
    ]
    assert limiter.fail_open_count == 51


async def test_unlimited_plans_are_served_even_while_the_backend_rests() -> None:
    limiter, backend, _ = guarded("closed", cooldown=10.0)
    backend.down = True
    with pytest.raises(Unavailable):
        await limiter.admit("k", PLAN)
    backend.down = False
    assert await limiter.admit("k", UNLIMITED) is ADMITTED


async def test_other_errors_are_not_swallowed() -> None:
    limiter = GuardedLimiter(MemoryLimiter(), "open")
    with pytest.raises(ConfigError):
        await limiter.admit("k", Plan("bad", rate=0, burst=1))
    assert limiter.fail_open_count == 0


async def test_close_closes_the_backend() -> None:
    limiter, backend, _ = guarded("open")
    await limiter.close()
    assert backend.closed


async def test_build_limiter_without_redis_is_in_memory() -> None:
    limiter = build_limiter(Settings.model_validate({"redis_url": None}))
    assert isinstance(limiter, MemoryLimiter)
    await limiter.close()


@pytest.mark.parametrize("failure", ["open", "closed"])
async def test_build_limiter_with_redis_is_guarded(failure: Failure) -> None:
    settings = Settings.model_validate(
        {"redis_url": "redis://127.0.0.1:1/0", "limiter_failure": failure}
    )
    limiter = build_limiter(settings)
    assert isinstance(limiter, GuardedLimiter)
    assert isinstance(limiter._inner, RedisLimiter)
    if failure == "open":
        assert (await limiter.admit("k", PLAN)).allowed
        assert limiter.fail_open_count == 1
    else:
        with pytest.raises(Unavailable):
            await limiter.admit("k", PLAN)
    await limiter.close()
