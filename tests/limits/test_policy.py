from __future__ import annotations

import math

import pytest

from evshare.errors import ConfigError
from evshare.limits.policy import UNLIMITED, Policy, Quota, Throttle, policy_for
from evshare.model import Plan


@pytest.mark.parametrize(
    "plan",
    [
        UNLIMITED,
        Plan("unlimited", rate=1, burst=1, quota=1, period="day"),
        Plan("no-limits", rate=math.inf, burst=0),
    ],
)
def test_plans_that_impose_nothing(plan: Plan) -> None:
    assert policy_for(plan) is None


@pytest.mark.parametrize(
    ("rate", "burst", "window"),
    [(10, 20, 2), (3, 1, 1), (0.5, 5, 10), (2, 3, 2), (1000, 1, 1), (0.3, 1, 4)],
)
def test_throttle_window_is_refill_time_rounded_up(rate: float, burst: int, window: int) -> None:
    assert policy_for(Plan("p", rate=rate, burst=burst)) == Policy(
        Throttle(rate, burst, window), None
    )


def test_infinite_rate_leaves_only_the_quota() -> None:
    plan = Plan("quota-only", rate=math.inf, burst=0, quota=500, period="week")
    assert policy_for(plan) == Policy(None, Quota(500, "week"))


@pytest.mark.parametrize(
    ("plan", "complaint"),
    [
        (Plan("p", rate=0, burst=5), "rate must be > 0"),
        (Plan("p", rate=-1, burst=5), "rate must be > 0"),
        (Plan("p", rate=math.nan, burst=5), "rate must be > 0"),
        (Plan("p", rate=1, burst=0), "burst must be >= 1"),
        (Plan("p", rate=1, burst=1, quota=10), "quota and period go together"),
        (Plan("p", rate=1, burst=1, period="day"), "quota and period go together"),
        (Plan("p", rate=1, burst=1, quota=0, period="day"), "quota must be >= 1"),
        (Plan("p", rate=1, burst=1, quota=5, period="year"), "unknown period"),  # type: ignore[arg-type]
    ],
)
def test_nonsense_plans_are_config_errors(plan: Plan, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        policy_for(plan)
