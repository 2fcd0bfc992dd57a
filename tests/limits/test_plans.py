"""Plans as the API meets them: `check_plan` before storing, `PlanBook` on every request."""

from __future__ import annotations

import logging
import math

import pytest

from evshare.errors import ConfigError, Unavailable
from evshare.limits import UNLIMITED, PlanBook, check_plan
from evshare.limits.policy import Policy, Quota, Throttle
from evshare.model import Plan
from tests.logs import messages

BASIC = Plan("basic", rate=1, burst=5)
GOLD = Plan("gold", rate=100, burst=500, quota=10_000, period="day")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Plans:
    """What the store holds, and how often the book asked."""

    def __init__(self, *plans: Plan) -> None:
        self.plans = list(plans)
        self.loads = 0
        self.down = False

    async def __call__(self) -> list[Plan]:
        self.loads += 1
        if self.down:
            raise Unavailable("the database cannot answer")
        return list(self.plans)


def book(stored: Plans, default: str = "unlimited") -> tuple[PlanBook, Clock]:
    clock = Clock()
    return PlanBook(stored, default, miss_gap=1.0, clock=clock), clock


def test_check_plan_returns_what_the_plan_imposes() -> None:
    assert check_plan(GOLD) == Policy(Throttle(100, 500, 5), Quota(10_000, "day"))
    quota_only = Plan("q", rate=math.inf, burst=0, quota=5, period="week")
    assert check_plan(quota_only) == Policy(None, Quota(5, "week"))


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (Plan("", rate=1, burst=1), "invalid plan name ''"),
        (Plan("-x", rate=1, burst=1), "invalid plan name '-x'"),
        (Plan("a/b", rate=1, burst=1), "invalid plan name 'a/b'"),
        (Plan("x" * 65, rate=1, burst=1), "invalid plan name"),
        (Plan("unlimited", rate=1, burst=1), "the plan 'unlimited' is built in"),
        (Plan("p", rate=math.inf, burst=3), "plan 'p': a burst needs a finite rate"),
        (Plan("p", rate=math.inf, burst=0), "plan 'p' limits nothing"),
        (Plan("p", rate=0, burst=1), "plan 'p': rate must be > 0, got 0"),
        (Plan("p", rate=1, burst=0), "plan 'p': burst must be >= 1, got 0"),
        (Plan("p", rate=1, burst=1, quota=5), "plan 'p': quota and period go together"),
    ],
)
def test_check_plan_refuses_what_cannot_be_stored(plan: Plan, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        check_plan(plan)


@pytest.mark.anyio
async def test_an_unlimited_default_never_reads_the_store() -> None:
    stored = Plans(BASIC)
    plans, _ = book(stored)
    await plans.start()
    assert await plans.resolve(None) is None
    assert await plans.resolve("unlimited") is None
    assert (stored.loads, plans.loaded) == (0, False)


@pytest.mark.anyio
async def test_a_stored_default_is_loaded_at_start_and_must_exist() -> None:
    plans, _ = book(Plans(BASIC, GOLD), default="gold")
    await plans.start()
    assert plans.loaded
    assert await plans.resolve(None) == GOLD
    assert await plans.resolve("basic") == BASIC
    with pytest.raises(ConfigError, match="EVSHARE_DEFAULT_PLAN: there is no plan named 'x'"):
        await book(Plans(BASIC), default="x")[0].start()


@pytest.mark.anyio
async def test_known_plans_are_answered_from_memory() -> None:
    stored = Plans(BASIC)
    plans, _ = book(stored, default="basic")
    await plans.start()
    for _ in range(100):
        assert await plans.resolve("basic") == BASIC
    assert stored.loads == 1


@pytest.mark.anyio
async def test_a_plan_created_since_the_last_refresh_is_found_on_first_use() -> None:
    stored = Plans(BASIC)
    plans, _ = book(stored, default="basic")
    await plans.start()
    stored.plans.append(GOLD)
    assert await plans.resolve("gold") == GOLD
    assert stored.loads == 2


@pytest.mark.anyio
async def test_an_unknown_plan_gets_the_default_and_reloads_at_most_once_a_gap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored = Plans(BASIC)
    plans, clock = book(stored, default="basic")
    await plans.start()
    with caplog.at_level(logging.WARNING, logger="evshare.limits.plans"):
        assert [await plans.resolve("gone") for _ in range(10)] == [BASIC] * 10
        assert stored.loads == 2
        clock.now += 1.0
        assert await plans.resolve("gone") == BASIC
    assert stored.loads == 3
    assert (
        messages(caplog, "evshare.limits.plans")
        == ["a key names the unknown plan 'gone': the default plan applies"] * 2
    )


@pytest.mark.anyio
async def test_a_store_that_is_down_on_a_miss_leaves_the_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored = Plans(BASIC)
    plans, _ = book(stored, default="basic")
    await plans.start()
    stored.down = True
    with caplog.at_level(logging.WARNING, logger="evshare.limits.plans"):
        assert await plans.resolve("gold") == BASIC
    assert "cannot refresh the plans: the database cannot answer" in caplog.text


@pytest.mark.anyio
async def test_a_deleted_default_keeps_its_last_known_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored = Plans(BASIC, GOLD)
    plans, _ = book(stored, default="basic")
    await plans.start()
    stored.plans = [GOLD]
    with caplog.at_level(logging.WARNING, logger="evshare.limits.plans"):
        await plans.refresh()
    assert await plans.resolve(None) == BASIC
    assert "the default plan 'basic' is no longer in the store" in caplog.text


@pytest.mark.anyio
async def test_a_malformed_stored_plan_is_skipped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored = Plans(Plan("broken", rate=-1, burst=1), BASIC)
    plans, _ = book(stored, default="basic")
    with caplog.at_level(logging.ERROR, logger="evshare.limits.plans"):
        await plans.start()
    assert await plans.resolve("broken") == BASIC  # unknown: the default applies
    assert "plan ignored: plan 'broken': rate must be > 0" in caplog.text


@pytest.mark.anyio
async def test_a_stored_plan_that_limits_nothing_resolves_to_none() -> None:
    plans, _ = book(Plans(Plan("free", rate=math.inf, burst=0), BASIC), default="basic")
    await plans.start()
    assert await plans.resolve("free") is None
    assert await plans.resolve(UNLIMITED.name) is None
