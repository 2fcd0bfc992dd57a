"""The usage-plan rule, through the in-process limiter and an injected clock."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evshare.errors import QuotaExceeded, Throttled
from evshare.limits import UNLIMITED, Decision, MemoryLimiter
from evshare.model import Period, Plan

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: float = 0) -> float:
    whole = int(s)
    return datetime(y, mo, d, h, mi, whole, tzinfo=UTC).timestamp() + (s - whole)


NOON = at(2024, 11, 15, 12)  # a Friday in a 30-day month
FAST = 1_000_000.0  # a rate at which the throttle never bites


async def admits(limiter: MemoryLimiter, plan: Plan, n: int, key: str = "k") -> list[bool]:
    return [(await limiter.admit(key, plan)).allowed for _ in range(n)]


async def test_bucket_starts_full_and_admits_burst_at_once() -> None:
    limiter = MemoryLimiter(Clock(NOON))
    assert await admits(limiter, Plan("p", rate=1, burst=5), 6) == [True] * 5 + [False]


async def test_bucket_refills_one_token_per_one_over_rate_seconds() -> None:
    clock = Clock(NOON)
    limiter = MemoryLimiter(clock)
    plan = Plan("p", rate=4, burst=2)
    assert await admits(limiter, plan, 3) == [True, True, False]
    clock.now += 0.24
    assert await admits(limiter, plan, 1) == [False]
    clock.now += 0.01
    assert await admits(limiter, plan, 2) == [True, False]


async def test_bucket_never_holds_more_than_burst() -> None:
    clock = Clock(NOON)
    limiter = MemoryLimiter(clock)
    plan = Plan("p", rate=10, burst=3)
    await admits(limiter, plan, 3)
    clock.now += 3600
    assert await admits(limiter, plan, 4) == [True, True, True, False]


async def test_fractional_rate() -> None:
    clock = Clock(NOON)
    limiter = MemoryLimiter(clock)
    plan = Plan("p", rate=0.5, burst=1)
    assert (await limiter.admit("k", plan)).allowed
    assert (await limiter.admit("k", plan)).retry_after == 2
    clock.now += 1
    refused = await limiter.admit("k", plan)
    assert (refused.allowed, refused.code, refused.retry_after) == (False, "throttled", 1)
    clock.now += 1
    assert (await limiter.admit("k", plan)).allowed


@pytest.mark.parametrize(
    ("rate", "elapsed", "retry_after"),
    [(3, 0, 1), (0.3, 0, 4), (0.3, 3.3, 1), (0.01, 0, 100), (0.01, 99.5, 1), (2.5, 0, 1)],
)
async def test_throttle_retry_after_is_whole_seconds_until_a_token(
    rate: float, elapsed: float, retry_after: int
) -> None:
    clock = Clock(NOON)
    limiter = MemoryLimiter(clock)
    plan = Plan("p", rate=rate, burst=1)
    await limiter.admit("k", plan)
    clock.now += elapsed
    decision = await limiter.admit("k", plan)
    assert (decision.allowed, decision.code, decision.retry_after) == (
        False,
        "throttled",
        retry_after,
    )


@pytest.mark.parametrize(
    ("plan", "now", "next_period"),
    [
        (Plan("d", FAST, 1000, 3, "day"), at(2024, 3, 10, 23, 59, 59.5), at(2024, 3, 11)),
        (Plan("d", FAST, 1000, 3, "day"), at(2024, 3, 10), at(2024, 3, 11)),
        (Plan("w", FAST, 1000, 3, "week"), at(2024, 1, 7, 22), at(2024, 1, 8)),
        (Plan("w", FAST, 1000, 3, "week"), at(2024, 1, 1), at(2024, 1, 8)),
        (Plan("m", FAST, 1000, 3, "month"), at(2024, 2, 29, 12), at(2024, 3, 1)),
        (Plan("m", FAST, 1000, 3, "month"), at(2023, 2, 28, 12), at(2023, 3, 1)),
        (Plan("m", FAST, 1000, 3, "month"), at(2023, 12, 31, 23), at(2024, 1, 1)),
    ],
)
async def test_quota_is_spent_until_the_period_ends(
    plan: Plan, now: float, next_period: float
) -> None:
    clock = Clock(now)
    limiter = MemoryLimiter(clock)
    assert await admits(limiter, plan, 3) == [True] * 3
    refused = await limiter.admit("k", plan)
    assert (refused.allowed, refused.code) == (False, "quota_exceeded")
    assert refused.retry_after == max(1, math.ceil(next_period - now))
    clock.now = next_period - 0.001
    assert not (await limiter.admit("k", plan)).allowed
    clock.now = next_period
    assert await admits(limiter, plan, 4) == [True] * 3 + [False]


async def test_when_both_are_exceeded_the_quota_is_reported_with_the_longer_wait() -> None:
    clock = Clock(at(2024, 3, 10, 12))
    limiter = MemoryLimiter(clock)
    plan = Plan("p", rate=1 / 60, burst=1, quota=1, period="day")
    await limiter.admit("k", plan)
    decision = await limiter.admit("k", plan)
    assert (decision.code, decision.retry_after) == ("quota_exceeded", 12 * 3600)


async def test_the_wait_for_a_token_counts_when_it_outlasts_the_period() -> None:
    clock = Clock(at(2024, 3, 10, 23, 59, 55))
    limiter = MemoryLimiter(clock)
    plan = Plan("p", rate=0.001, burst=1, quota=1, period="day")
    await limiter.admit("k", plan)
    decision = await limiter.admit("k", plan)
    assert (decision.code, decision.retry_after) == ("quota_exceeded", 1000)


async def test_a_throttled_request_spends_no_quota() -> None:
    clock = Clock(NOON)
    limiter = MemoryLimiter(clock)
    plan = Plan("p", rate=1, burst=1, quota=2, period="day")
    assert await admits(limiter, plan, 5) == [True] + [False] * 4
    clock.now += 1
    assert await admits(limiter, plan, 1) == [True]
    clock.now += 1
    assert (await limiter.admit("k", plan)).code == "quota_exceeded"


async def test_a_request_over_quota_takes_no_token() -> None:
    clock = Clock(at(2024, 3, 10, 23, 59, 59))
    limiter = MemoryLimiter(clock)
    plan = Plan("p", rate=0.001, burst=3, quota=1, period="day")
    assert await admits(limiter, plan, 4) == [True, False, False, False]
    clock.now += 1
    assert await admits(limiter, plan, 3) == [True, False, False]
    assert (await limiter.admit("k", plan)).code == "quota_exceeded"
    clock.now += 86_400
    assert await admits(limiter, plan, 1) == [True]


async def test_headers_match_the_contract_example() -> None:
    limiter = MemoryLimiter(Clock(NOON))
    plan = Plan("standard", rate=10, burst=20, quota=100_000, period="month")
    decision = await limiter.admit("k", plan)
    assert decision == Decision(
        allowed=True,
        code=None,
        retry_after=0,
        headers={
            "RateLimit-Policy": '"burst";q=20;w=2, "month";q=100000;w=2592000',
            "RateLimit": '"burst";r=19;t=1',
        },
    )


async def test_headers_on_a_refusal() -> None:
    limiter = MemoryLimiter(Clock(NOON))
    plan = Plan("p", rate=0.25, burst=2, quota=100, period="day")
    await admits(limiter, plan, 2)
    decision = await limiter.admit("k", plan)
    assert decision.headers == {
        "RateLimit-Policy": '"burst";q=2;w=8, "day";q=100;w=86400',
        "RateLimit": '"burst";r=0;t=8',
    }


async def test_headers_report_the_quota_once_it_is_the_tighter() -> None:
    limiter = MemoryLimiter(Clock(NOON))
    plan = Plan("p", rate=1, burst=10, quota=3, period="week")
    decisions = [await limiter.admit("k", plan) for _ in range(4)]
    friday_noon_to_monday = (2 * 24 + 12) * 3600
    assert [d.headers["RateLimit"] for d in decisions] == [
        f'"week";r=2;t={friday_noon_to_monday}',
        f'"week";r=1;t={friday_noon_to_monday}',
        f'"week";r=0;t={friday_noon_to_monday}',
        f'"week";r=0;t={friday_noon_to_monday}',
    ]
    assert decisions[0].headers["RateLimit-Policy"] == '"burst";q=10;w=10, "week";q=3;w=604800'


async def test_quota_only_plan() -> None:
    limiter = MemoryLimiter(Clock(NOON))
    plan = Plan("q", rate=math.inf, burst=0, quota=2, period="day")
    decisions = [await limiter.admit("k", plan) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[0].headers == {
        "RateLimit-Policy": '"day";q=2;w=86400',
        "RateLimit": '"day";r=1;t=43200',
    }


@pytest.mark.parametrize(
    "plan", [UNLIMITED, Plan("unlimited", rate=1, burst=1, quota=1, period="day")]
)
async def test_unlimited_imposes_nothing_and_sends_no_headers(plan: Plan) -> None:
    limiter = MemoryLimiter(Clock(NOON))
    for _ in range(1000):
        assert await limiter.admit("k", plan) == Decision(True, None, 0, {})


async def test_keys_are_limited_separately() -> None:
    limiter = MemoryLimiter(Clock(NOON))
    plan = Plan("p", rate=1, burst=1)
    assert await admits(limiter, plan, 2, key="a") == [True, False]
    assert await admits(limiter, plan, 2, key="b") == [True, False]


async def test_changing_a_plans_throttle_keeps_the_bucket() -> None:
    limiter = MemoryLimiter(Clock(NOON))
    assert await admits(limiter, Plan("p", rate=0.001, burst=5), 6) == [True] * 5 + [False]
    assert await admits(limiter, Plan("p", rate=0.001, burst=2), 1) == [False]
    assert await admits(limiter, Plan("p", rate=0.001, burst=10), 1) == [False]
    assert await admits(limiter, Plan("p", rate=0.001, burst=5), 1, key="c") == [True]
    assert await admits(limiter, Plan("p", rate=0.001, burst=2), 3, key="c") == [True, True, False]


async def test_changing_a_plans_quota_keeps_the_count() -> None:
    limiter = MemoryLimiter(Clock(NOON))

    def plan(quota: int, period: Period = "day") -> Plan:
        return Plan("p", rate=FAST, burst=100, quota=quota, period=period)

    assert await admits(limiter, plan(4), 3) == [True] * 3
    shrunk = await limiter.admit("k", plan(2))
    assert (shrunk.code, shrunk.headers["RateLimit"]) == ("quota_exceeded", '"day";r=0;t=43200')
    assert await admits(limiter, plan(6), 4) == [True, True, True, False]
    assert await admits(limiter, plan(1, "month"), 2) == [True, False]


async def test_a_clock_that_goes_back_adds_no_tokens() -> None:
    clock = Clock(NOON)
    limiter = MemoryLimiter(clock)
    plan = Plan("p", rate=1, burst=1)
    await limiter.admit("k", plan)
    clock.now -= 10
    assert not (await limiter.admit("k", plan)).allowed
    clock.now = NOON + 1
    assert (await limiter.admit("k", plan)).allowed


async def test_refusals_raise_the_matching_errors() -> None:
    limiter = MemoryLimiter(Clock(NOON))
    plan = Plan("p", rate=0.5, burst=1, quota=1, period="day")
    admitted = await limiter.admit("k", plan)
    admitted.raise_if_refused()
    refused = await limiter.admit("k", plan)
    with pytest.raises(QuotaExceeded, match="Limit Exceeded") as quota:
        refused.raise_if_refused()
    assert (quota.value.retry_after, quota.value.headers) == (43_200, refused.headers)
    throttled = await limiter.admit("other", Plan("p", rate=0.5, burst=1))
    throttled = await limiter.admit("other", Plan("p", rate=0.5, burst=1))
    with pytest.raises(Throttled, match="Too Many Requests") as throttle:
        throttled.raise_if_refused()
    assert (throttle.value.retry_after, throttle.value.headers) == (2, throttled.headers)


@given(
    rate=st.sampled_from([0.5, 1.0, 3.7, 10.0, 0.01]),
    burst=st.integers(1, 10),
    steps=st.lists(st.floats(0, 3, allow_nan=False), max_size=200),
)
def test_admitted_never_exceed_burst_plus_refill(
    rate: float, burst: int, steps: list[float]
) -> None:
    async def run() -> None:
        clock = Clock(NOON)
        limiter = MemoryLimiter(clock)
        plan = Plan("p", rate=rate, burst=burst)
        admitted = 0
        for step in steps:
            clock.now += step
            decision = await limiter.admit("k", plan)
            admitted += decision.allowed
            assert admitted <= burst + rate * (clock.now - NOON) + 1e-9
            if not decision.allowed:
                assert decision.retry_after >= 1
                # refused consumed nothing: the same request at the same instant is judged alike
                assert await limiter.admit("k", plan) == decision

    asyncio.run(run())


@given(
    quota=st.integers(1, 20),
    steps=st.lists(st.floats(0, 7200, allow_nan=False), max_size=100),
)
def test_admitted_never_exceed_the_quota_in_a_period(quota: int, steps: list[float]) -> None:
    async def run() -> None:
        clock = Clock(at(2024, 3, 10))
        limiter = MemoryLimiter(clock)
        plan = Plan("p", rate=FAST, burst=1000, quota=quota, period="day")
        per_day: dict[int, int] = {}
        for step in steps:
            clock.now += step
            if (await limiter.admit("k", plan)).allowed:
                day = int(clock.now // 86_400)
                per_day[day] = per_day.get(day, 0) + 1
        assert all(count <= quota for count in per_day.values())

    asyncio.run(run())
