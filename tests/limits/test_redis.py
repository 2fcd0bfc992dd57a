"""The Redis limiter against a real Redis, and against one that is down or silent.

Redis judges on its own clock (TIME), so these tests choose rates that make time irrelevant:
tiny rates (no token comes back during the test) or huge ones (the bucket is always full).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from evshare.errors import Unavailable
from evshare.limits import UNLIMITED, Decision, GuardedLimiter, MemoryLimiter
from evshare.limits.periods import bounds
from evshare.limits.redis import PERIODS_LUA, RedisLimiter
from evshare.model import Period, Plan

TINY = 1e-6  # tokens per second: none comes back while a test runs
HUGE = 1e6
TIMEOUT = 0.2
# What a call may take past TIMEOUT: this suite shares two cores with another, and a process can
# be descheduled for a fifth of a second (seen in CI). A Redis that never answers would hold a
# call without a timeout for good, so the bound still tells the two apart.
WITHIN_TIMEOUT = TIMEOUT + 0.5


@pytest.fixture
async def limiter(redis_url: str) -> AsyncIterator[RedisLimiter]:
    prefix = f"test:limits:{uuid.uuid4().hex}:"
    # These tests judge what Redis decides, not how fast: a generous timeout, so that 250
    # connections opened at once on a busy 2-core machine do not fail them (with 2 s they did).
    limiter = RedisLimiter.from_url(redis_url, timeout=30.0, prefix=prefix)
    yield limiter
    await limiter.close()
    async with Redis.from_url(redis_url) as client:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    async with Redis.from_url(redis_url) as client:
        yield client


async def admits(limiter: RedisLimiter, plan: Plan, n: int, key: str = "k") -> list[bool]:
    return [(await limiter.admit(key, plan)).allowed for _ in range(n)]


@pytest.mark.anyio
async def test_headers_match_the_contract_example(limiter: RedisLimiter) -> None:
    first, after = bounds("month", time.time())
    decision = await limiter.admit(
        "k", Plan("standard", rate=10, burst=20, quota=100_000, period="month")
    )
    assert decision == Decision(
        True,
        None,
        0,
        {
            "RateLimit-Policy": f'"burst";q=20;w=2, "month";q=100000;w={after - first}',
            "RateLimit": '"burst";r=19;t=1',
        },
    )


@pytest.mark.anyio
async def test_burst_then_throttled_until_a_token_is_back(limiter: RedisLimiter) -> None:
    plan = Plan("p", rate=0.001, burst=3)
    assert await admits(limiter, plan, 3) == [True] * 3
    refused = await limiter.admit("k", plan)
    assert (refused.allowed, refused.code, refused.retry_after) == (False, "throttled", 1000)
    assert refused.headers["RateLimit"] == '"burst";r=0;t=3000'


@pytest.mark.anyio
async def test_quota_spent_until_the_period_ends(limiter: RedisLimiter) -> None:
    plan = Plan("p", rate=HUGE, burst=1000, quota=2, period="day")
    assert await admits(limiter, plan, 2) == [True, True]
    refused = await limiter.admit("k", plan)
    _, end = bounds("day", time.time())
    assert (refused.allowed, refused.code) == (False, "quota_exceeded")
    assert abs(refused.retry_after - math.ceil(end - time.time())) <= 1
    assert refused.headers["RateLimit"] == f'"day";r=0;t={refused.retry_after}'


@pytest.mark.anyio
async def test_unlimited_touches_nothing(limiter: RedisLimiter, client: Redis) -> None:
    assert await limiter.admit("k", UNLIMITED) == Decision(True, None, 0, {})
    assert [key async for key in client.scan_iter(match=f"{limiter._prefix}*")] == []


@pytest.mark.anyio
async def test_refusals_consume_nothing(limiter: RedisLimiter, client: Redis) -> None:
    prefix = limiter._prefix
    throttle_first = Plan("p", rate=TINY, burst=1, quota=5, period="day")
    assert await admits(limiter, throttle_first, 4, key="a") == [True, False, False, False]
    assert await client.hget(f"{prefix}{{a}}:day", "n") == b"1"
    quota_first = Plan("p", rate=TINY, burst=5, quota=1, period="day")
    assert await admits(limiter, quota_first, 4, key="b") == [True, False, False, False]
    tokens = await client.hget(f"{prefix}{{b}}:bucket", "t")
    assert tokens is not None
    assert 4 <= float(tokens) < 4.001


@pytest.mark.anyio
async def test_keys_expire_when_their_state_no_longer_matters(
    limiter: RedisLimiter, client: Redis
) -> None:
    prefix = limiter._prefix
    await limiter.admit("k", Plan("p", rate=0.01, burst=10, quota=5, period="week"))
    bucket_ms = await client.pttl(f"{prefix}{{k}}:bucket")
    assert 99_000 <= bucket_ms <= 100_000  # one token short of full, at 0.01 tokens/s
    quota_s = await client.ttl(f"{prefix}{{k}}:week")
    _, end = bounds("week", time.time())
    assert abs(quota_s - (end - time.time())) <= 2


@pytest.mark.anyio
async def test_changing_a_plans_numbers_keeps_the_state(limiter: RedisLimiter) -> None:
    assert await admits(limiter, Plan("p", rate=TINY, burst=5), 6) == [True] * 5 + [False]
    assert await admits(limiter, Plan("p", rate=TINY, burst=2), 1) == [False]
    assert await admits(limiter, Plan("p", rate=TINY, burst=10), 1) == [False]

    def quota(limit: int, period: Period = "day") -> Plan:
        return Plan("p", rate=HUGE, burst=1000, quota=limit, period=period)

    assert await admits(limiter, quota(4), 3, key="q") == [True] * 3
    assert (await limiter.admit("q", quota(2))).headers["RateLimit"].startswith('"day";r=0;')
    assert await admits(limiter, quota(6), 4, key="q") == [True, True, True, False]
    assert await admits(limiter, quota(1, "month"), 2, key="q") == [True, False]


@pytest.mark.anyio
async def test_judges_like_the_memory_backend(limiter: RedisLimiter) -> None:
    plan = Plan("p", rate=TINY, burst=3, quota=5, period="day")
    memory = MemoryLimiter()
    for key, n in (("a", 7), ("b", 2)):
        for _ in range(n):
            shared, local = await limiter.admit(key, plan), await memory.admit(key, plan)
            assert (shared.allowed, shared.code) == (local.allowed, local.code)
            assert shared.headers["RateLimit-Policy"] == local.headers["RateLimit-Policy"]
            assert (
                shared.headers["RateLimit"].split(";")[:2]
                == local.headers["RateLimit"].split(";")[:2]
            )


@pytest.mark.anyio
async def test_concurrent_requests_never_exceed_the_burst(
    redis_url: str, limiter: RedisLimiter
) -> None:
    others = [
        RedisLimiter.from_url(redis_url, timeout=30.0, prefix=limiter._prefix) for _ in range(4)
    ]
    plan = Plan("p", rate=TINY, burst=10)
    try:
        decisions = await asyncio.gather(
            *(one.admit("k", plan) for _ in range(50) for one in [limiter, *others])
        )
    finally:
        for other in others:
            await other.close()
    assert sum(d.allowed for d in decisions) == 10
    assert {d.code for d in decisions if not d.allowed} == {"throttled"}


@pytest.mark.anyio
async def test_concurrent_requests_never_exceed_the_quota(
    redis_url: str, limiter: RedisLimiter
) -> None:
    others = [
        RedisLimiter.from_url(redis_url, timeout=30.0, prefix=limiter._prefix) for _ in range(4)
    ]
    plan = Plan("p", rate=HUGE, burst=1_000_000, quota=25, period="month")
    try:
        decisions = await asyncio.gather(
            *(one.admit("k", plan) for _ in range(30) for one in [limiter, *others])
        )
    finally:
        for other in others:
            await other.close()
    assert sum(d.allowed for d in decisions) == 25
    assert {d.code for d in decisions if not d.allowed} == {"quota_exceeded"}


@pytest.mark.anyio
async def test_reloads_the_script_after_a_flush(limiter: RedisLimiter, client: Redis) -> None:
    plan = Plan("p", rate=TINY, burst=2)
    assert await admits(limiter, plan, 1) == [True]
    await client.script_flush()
    assert await admits(limiter, plan, 2) == [True, False]


@pytest.mark.anyio
async def test_a_redis_error_reply_becomes_unavailable(
    limiter: RedisLimiter, client: Redis
) -> None:
    await client.set(f"{limiter._prefix}{{k}}:bucket", "not a hash")
    with pytest.raises(Unavailable, match="WRONGTYPE"):
        await limiter.admit("k", Plan("p", rate=1, burst=1))


@pytest.fixture(scope="module")
def lua_bounds(redis_url: str) -> Iterator[Callable[[Period, float], tuple[int, int]]]:
    client = redis.Redis.from_url(redis_url)
    script = client.register_script(
        PERIODS_LUA + "return {period_bounds(ARGV[1], tonumber(ARGV[2]))}"
    )

    def lua(period: Period, now: float) -> tuple[int, int]:
        first, after = script(args=[period, repr(now)])
        return first, after

    yield lua
    client.close()


MONTH_STARTS = [
    datetime(y, m, 1, tzinfo=UTC).timestamp() for y in range(1970, 2101) for m in range(1, 13)
]


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_lua_periods_agree_at_every_month_boundary(
    lua_bounds: Callable[[Period, float], tuple[int, int]], period: Period
) -> None:
    for start in MONTH_STARTS:
        for now in (start - 0.000001, start, start + 0.5):
            assert lua_bounds(period, now) == bounds(period, now), (period, now)


@settings(max_examples=300, deadline=None)
@given(
    period=st.sampled_from(["day", "week", "month"]),
    now=st.floats(0, MONTH_STARTS[-1], allow_nan=False),
)
def test_lua_periods_agree_with_python(
    lua_bounds: Callable[[Period, float], tuple[int, int]], period: Period, now: float
) -> None:
    assert lua_bounds(period, now) == bounds(period, now)


@pytest.fixture
async def silent_redis() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"
    server.close()
    await server.wait_closed()


@pytest.fixture(params=["unreachable", "silent"])
def broken_redis(request: pytest.FixtureRequest) -> str:
    if request.param == "unreachable":
        return "redis://127.0.0.1:1/0"
    url: str = request.getfixturevalue("silent_redis")
    return url


async def timed(limiter: RedisLimiter | GuardedLimiter) -> tuple[Decision | Unavailable, float]:
    started = time.monotonic()
    try:
        outcome: Decision | Unavailable = await limiter.admit("k", Plan("p", rate=1, burst=1))
    except Unavailable as exc:
        outcome = exc
    return outcome, time.monotonic() - started


@pytest.mark.anyio
async def test_a_broken_redis_is_unavailable_within_the_timeout(broken_redis: str) -> None:
    limiter = RedisLimiter.from_url(broken_redis, timeout=TIMEOUT)
    try:
        for _ in range(3):
            outcome, elapsed = await timed(limiter)
            assert isinstance(outcome, Unavailable)
            assert elapsed < WITHIN_TIMEOUT
    finally:
        await limiter.close()


@pytest.mark.anyio
async def test_fail_open_admits_within_the_timeout(broken_redis: str) -> None:
    limiter = GuardedLimiter(RedisLimiter.from_url(broken_redis, timeout=TIMEOUT), "open")
    try:
        outcome, elapsed = await timed(limiter)
        assert outcome == Decision(True, None, 0, {})
        assert elapsed < WITHIN_TIMEOUT
        assert limiter.fail_open_count == 1
    finally:
        await limiter.close()


@pytest.mark.anyio
async def test_fail_closed_raises_unavailable_within_the_timeout(broken_redis: str) -> None:
    limiter = GuardedLimiter(RedisLimiter.from_url(broken_redis, timeout=TIMEOUT), "closed")
    try:
        outcome, elapsed = await timed(limiter)
        assert isinstance(outcome, Unavailable)
        assert outcome.retry_after >= 1
        assert elapsed < WITHIN_TIMEOUT
    finally:
        await limiter.close()


@pytest.mark.anyio
async def test_a_fast_plan_is_leased_never_exceeded_and_a_lease_expires(
    limiter: RedisLimiter, redis_url: str
) -> None:
    """A plan of 1,000 requests/s leases 20 at a time (20 ms of its rate): two limiters (two
    workers) asking 150 times each call Redis a few dozen times; and no more is ever admitted
    than the bucket held."""
    prefix = limiter._prefix
    other = RedisLimiter.from_url(redis_url, timeout=2.0, prefix=prefix)
    calls = 0
    for each in (limiter, other):
        script = each._script

        async def counted(*args: object, script: Any = script, **kwargs: object) -> Any:
            nonlocal calls
            calls += 1
            return await script(*args, **kwargs)

        each._script = counted  # type: ignore[assignment]
    try:
        roomy = Plan("fast", rate=1000, burst=400)
        answers = [*(await admits(limiter, roomy, 150)), *(await admits(other, roomy, 150))]
        assert all(answers)
        assert calls < 60  # most requests were answered from a lease
        # A lease is dropped after 20 ms: the next request asks Redis again.
        before = calls
        await asyncio.sleep(0.05)
        await limiter.admit("k", roomy)
        assert calls == before + 1

        # Concurrent requests that find the lease spent wait for one call to take the next.
        before = calls
        crowd = await asyncio.gather(*(limiter.admit("crowd", roomy) for _ in range(100)))
        assert all(d.allowed for d in crowd)
        assert calls - before <= 10

        tight = Plan("tight", rate=1000, burst=100)
        began = time.monotonic()
        answers = [
            *(await admits(limiter, tight, 300, key="t")),
            *(await admits(other, tight, 300, key="t")),
        ]
        elapsed = time.monotonic() - began
        assert sum(answers) <= 100 + 1000 * elapsed + 1
    finally:
        await other.close()


@pytest.mark.anyio
async def test_a_slow_plan_takes_one_token_per_call(limiter: RedisLimiter, client: Redis) -> None:
    plan = Plan("slow", rate=10, burst=5)
    assert await admits(limiter, plan, 7) == [True] * 5 + [False] * 2
