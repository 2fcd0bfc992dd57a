"""The plan and usage parts of the store contract, on every store."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest

from evshare import keys
from evshare.config import load_settings
from evshare.errors import KeyManagementError
from evshare.limits import UsageRow
from evshare.model import Plan
from evshare.store import Store, open_store

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 5, tzinfo=UTC)
THROTTLE = Plan("basic", rate=2.5, burst=10)
QUOTA_ONLY = Plan("Monthly", rate=math.inf, burst=0, quota=100_000, period="month")
BOTH = Plan("standard", rate=10, burst=20, quota=5000, period="day")
D1, D2, D3 = date(2026, 1, 4), date(2026, 1, 5), date(2026, 1, 6)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(load_settings(database_url=store_url))
    yield opened
    await opened.close()


async def make_key(store: Store, name: str, plan: str | None = None) -> None:
    await keys.create(store, name, now=NOW, all_chargers=True, plan=plan)


async def plan_of_key(store: Store, name: str) -> str | None:
    key = await store.get_key(name)
    assert key is not None
    return key.plan


async def test_plans_round_trip_in_byte_order_of_name(store: Store) -> None:
    assert await store.list_plans() == []
    for plan in (THROTTLE, QUOTA_ONLY, BOTH):
        await store.create_plan(plan)
    assert await store.list_plans() == [QUOTA_ONLY, THROTTLE, BOTH]
    assert await store.get_plan("standard") == BOTH
    assert await store.get_plan("Monthly") == QUOTA_ONLY  # no throttle: rate inf, burst 0
    assert await store.get_plan("nope") is None


async def test_a_plan_name_is_taken_once(store: Store) -> None:
    await store.create_plan(THROTTLE)
    with pytest.raises(KeyManagementError, match="a plan named 'basic' already exists"):
        await store.create_plan(Plan("basic", rate=1, burst=1))
    assert await store.list_plans() == [THROTTLE]


async def test_keys_move_between_plans_the_default_and_unlimited(store: Store) -> None:
    await store.create_plan(THROTTLE)
    await make_key(store, "k", plan="basic")
    assert await plan_of_key(store, "k") == "basic"
    await store.set_key_plan("k", "unlimited")  # built in: no row needed
    assert await plan_of_key(store, "k") == "unlimited"
    await store.set_key_plan("k", None)
    assert await plan_of_key(store, "k") is None
    await store.set_key_plan("k", "basic")
    assert await plan_of_key(store, "k") == "basic"


async def test_the_credential_names_the_keys_plan(store: Store) -> None:
    await store.create_plan(BOTH)
    token = await keys.create(store, "k", now=NOW, all_chargers=True)
    lookup = keys.lookup_id_of(token)
    assert lookup is not None
    credential = await store.find_credential(lookup)
    assert credential is not None
    assert credential.plan is None
    await store.set_key_plan("k", "standard")
    credential = await store.find_credential(lookup)
    assert credential is not None
    assert credential.plan == "standard"


async def test_set_plan_refuses_an_unknown_plan_or_key(store: Store) -> None:
    await store.create_plan(THROTTLE)
    await make_key(store, "k", plan="basic")
    with pytest.raises(KeyManagementError, match="there is no plan named 'gold'"):
        await store.set_key_plan("k", "gold")
    with pytest.raises(KeyManagementError, match="there is no key named 'ghost'"):
        await store.set_key_plan("ghost", "basic")
    assert await plan_of_key(store, "k") == "basic"


async def test_a_plan_in_use_cannot_be_deleted(store: Store) -> None:
    await store.create_plan(THROTTLE)
    for name in ("b", "a", "c", "d", "e", "f", "g"):
        await make_key(store, name, plan="basic")
    await make_key(store, "other")
    with pytest.raises(KeyManagementError) as refused:
        await store.delete_plan("basic")
    assert str(refused.value) == (
        "the plan 'basic' is used by 7 key(s): a, b, c, d, e and 2 more; move them to another "
        "plan with `evshare keys set-plan KEY PLAN` first"
    )
    assert await store.get_plan("basic") == THROTTLE
    for name in ("a", "b", "c", "d", "e", "f", "g"):
        await store.set_key_plan(name, None)
    await store.delete_plan("basic")
    assert await store.list_plans() == []


async def test_deleting_an_unknown_plan_says_so(store: Store) -> None:
    with pytest.raises(KeyManagementError, match="there is no plan named 'gold'"):
        await store.delete_plan("gold")


async def test_usage_adds_up_per_key_and_day(store: Store) -> None:
    assert await store.usage() == []
    await store.add_usage([])
    await store.add_usage(
        [UsageRow("b", D1, 5, 1), UsageRow("a", D2, 3, 0), UsageRow("a", D1, 1, 1)]
    )
    # Increments: added to what is stored, even twice in one call.
    await store.add_usage(
        [UsageRow("a", D1, 10, 4), UsageRow("a", D1, 1, 0), UsageRow("a", D3, 2, 2)]
    )
    assert await store.usage() == [
        UsageRow("a", D1, 12, 5),
        UsageRow("a", D2, 3, 0),
        UsageRow("a", D3, 2, 2),
        UsageRow("b", D1, 5, 1),
    ]


async def test_usage_by_key_and_inclusive_dates(store: Store) -> None:
    await store.add_usage(
        [
            UsageRow("a", D1, 0, 0),
            UsageRow("a", D2, 1, 0),
            UsageRow("a", D3, 2, 0),
            UsageRow("b", D2, 7, 7),
        ]
    )
    assert await store.usage("a", D2, D3) == [UsageRow("a", D2, 1, 0), UsageRow("a", D3, 2, 0)]
    assert await store.usage(first=D2, last=D2) == [
        UsageRow("a", D2, 1, 0),
        UsageRow("b", D2, 7, 7),
    ]
    assert await store.usage(last=D1) == [UsageRow("a", D1, 0, 0)]
    assert await store.usage("b") == [UsageRow("b", D2, 7, 7)]
    assert await store.usage("nobody") == []
    assert await store.usage(first=D3, last=D1) == []
