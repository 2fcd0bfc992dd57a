"""Usage plans through the app, on each SQL store: the RateLimit fields on every authenticated
response, honest 429s, the order 401 > 429 > 400/404, the default plan, an unreachable limiter,
and usage counted per key and day. The limiter is in memory with a clock the test moves."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from evshare import keys
from evshare.api.app import EnergSyncApp, create_app
from evshare.config import load_settings
from evshare.errors import ConfigError, Unavailable
from evshare.limits import MemoryLimiter, UsageRow
from evshare.model import Plan
from evshare.store import Store, open_store, schema
from tests.api.conformance import assert_conforms
from tests.api.conftest import Live, seed
from tests.servers import InProcess

NOON = datetime(2024, 11, 15, 12, tzinfo=UTC).timestamp()  # a Friday in a 30-day month
MIDNIGHT = datetime(2024, 11, 16, tzinfo=UTC).timestamp()
PLANS = [
    Plan("standard", rate=10, burst=20, quota=100_000, period="month"),
    Plan("tight", rate=1, burst=2),
    Plan("daily", rate=math.inf, burst=0, quota=2, period="day"),
    Plan("both", rate=1, burst=1, quota=1, period="day"),
]
KEYS = {  # key name: its plan (None: the default plan)
    "k-standard": "standard",
    "k-tight": "tight",
    "k-daily": "daily",
    "k-both": "both",
    "k-unlimited": "unlimited",
    "k-default": None,
}
DETAIL = "/chargers/CH-001"
THROTTLED = {"message": "Too Many Requests", "code": "throttled"}
QUOTA_EXCEEDED = {"message": "Limit Exceeded", "code": "quota_exceeded"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Limited:
    app: InProcess
    tokens: dict[str, str]
    clock: Clock
    database_url: str

    def get(self, key: str | None, path: str = DETAIL) -> httpx.Response:
        headers = {} if key is None else {"x-api-key": self.tokens.get(key, key)}
        return self.app.get(path, headers=headers)


def fields(response: httpx.Response) -> tuple[str | None, str | None]:
    return response.headers.get("ratelimit-policy"), response.headers.get("ratelimit")


async def seed_plans(database_url: str) -> dict[str, str]:
    seeded = await seed(database_url)
    store = await open_store(load_settings(database_url=database_url))
    try:
        for plan in PLANS:
            await store.create_plan(plan)
        now = datetime.now(UTC)
        tokens = {
            name: await keys.create(store, name, now=now, all_chargers=True, plan=plan)
            for name, plan in KEYS.items()
        }
    finally:
        await store.close()
    return {**tokens, "revoked": seeded.revoked}


def limited_app(database_url: str, clock: Clock, **settings: Any) -> EnergSyncApp:
    return create_app(
        load_settings(database_url=database_url, **{"default_plan": "standard", **settings}),
        limiter=MemoryLimiter(clock),
    )


@pytest.fixture
def limited(database_url: str) -> Iterator[Limited]:
    tokens = asyncio.run(seed_plans(database_url))
    clock = Clock(NOON)
    with InProcess(limited_app(database_url, clock)) as app:
        yield Limited(app, tokens, clock, database_url)


async def usage_of(database_url: str) -> list[UsageRow]:
    store = await open_store(load_settings(database_url=database_url))
    try:
        return await store.usage()
    finally:
        await store.close()


def test_a_200_carries_the_plans_fields(limited: Limited) -> None:
    first, second = limited.get("k-standard"), limited.get("k-standard")
    assert first.status_code == second.status_code == 200
    policy = '"burst";q=20;w=2, "month";q=100000;w=2592000'
    assert fields(first) == (policy, '"burst";r=19;t=1')
    assert fields(second) == (policy, '"burst";r=18;t=1')


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/chargers?pageSize=0", 400),
        ("/chargers/CH-001/sessions?startDate=yesterday", 400),
        ("/chargers/no-such-charger", 404),
        ("/chargers/no-such-charger/sessions", 404),
    ],
)
def test_400_and_404_carry_them_and_count(limited: Limited, path: str, status: int) -> None:
    refused = limited.get("k-tight", path)
    assert refused.status_code == status
    assert fields(refused) == ('"burst";q=2;w=2', '"burst";r=1;t=1')
    assert fields(limited.get("k-tight")) == ('"burst";q=2;w=2', '"burst";r=0;t=2')


def test_an_empty_bucket_is_429_throttled_until_a_token_is_back(limited: Limited) -> None:
    assert [limited.get("k-tight").status_code for _ in range(2)] == [200, 200]
    refused = limited.get("k-tight")
    assert refused.status_code == 429
    assert refused.json() == THROTTLED
    assert refused.headers["retry-after"] == "1"
    assert fields(refused) == ('"burst";q=2;w=2', '"burst";r=0;t=2')
    assert_conforms(refused, "/chargers/{chargerId}")
    limited.clock.now += 1
    again = limited.get("k-tight")
    assert (again.status_code, fields(again)[1]) == (200, '"burst";r=0;t=2')
    assert limited.get("k-tight").status_code == 429


def test_a_spent_quota_is_429_quota_exceeded_until_the_next_utc_day(limited: Limited) -> None:
    admitted = [limited.get("k-daily", "/chargers") for _ in range(2)]
    assert [fields(r)[1] for r in admitted] == ['"day";r=1;t=43200', '"day";r=0;t=43200']
    refused = limited.get("k-daily", "/chargers")
    assert refused.status_code == 429
    assert refused.json() == QUOTA_EXCEEDED
    assert refused.headers["retry-after"] == "43200"
    assert fields(refused) == ('"day";q=2;w=86400', '"day";r=0;t=43200')
    assert_conforms(refused, "/chargers")
    limited.clock.now = MIDNIGHT - 0.5
    assert limited.get("k-daily").headers["retry-after"] == "1"
    limited.clock.now = MIDNIGHT
    fresh = limited.get("k-daily")
    assert (fresh.status_code, fields(fresh)[1]) == (200, '"day";r=1;t=86400')


def test_a_spent_quota_outranks_an_empty_bucket(limited: Limited) -> None:
    assert limited.get("k-both").status_code == 200
    refused = limited.get("k-both")
    assert (refused.status_code, refused.json()) == (429, QUOTA_EXCEEDED)
    assert refused.headers["retry-after"] == "43200"
    # Both limits at r=0: RateLimit reports the later one, the quota.
    assert fields(refused) == ('"burst";q=1;w=1, "day";q=1;w=86400', '"day";r=0;t=43200')


def test_401_comes_before_429_which_comes_before_400_and_404(limited: Limited) -> None:
    assert [limited.get("k-tight").status_code for _ in range(2)] == [200, 200]
    for key in (None, "revoked", "evs_000000000000_" + "A" * 43):
        unauthorized = limited.get(key)
        assert unauthorized.status_code == 401
        assert fields(unauthorized) == (None, None)
    for path in ("/chargers?pageSize=0", "/chargers/no-such-charger", "/chargers?page=x"):
        refused = limited.get("k-tight", path)
        assert (refused.status_code, refused.json()) == (429, THROTTLED), path


def test_an_unlimited_key_has_no_fields_and_no_limit(limited: Limited) -> None:
    responses = [limited.get("k-unlimited") for _ in range(30)]
    assert {r.status_code for r in responses} == {200}
    assert {fields(r) for r in responses} == {(None, None)}


def test_the_default_plan_applies_to_keys_without_one(limited: Limited) -> None:
    assert fields(limited.get("k-default")) == (
        '"burst";q=20;w=2, "month";q=100000;w=2592000',
        '"burst";r=19;t=1',
    )


def test_keys_without_a_plan_are_unlimited_by_default(live: Live) -> None:
    with live.client(live.keys.all) as client:
        assert fields(client.get(DETAIL)) == (None, None)


def test_a_new_plan_and_a_key_moved_to_it_apply_at_once(limited: Limited) -> None:
    async def move() -> None:
        store = await open_store(load_settings(database_url=limited.database_url))
        try:
            await store.create_plan(Plan("later", rate=5, burst=3))
            await store.set_key_plan("k-default", "later")
        finally:
            await store.close()

    assert limited.get("k-default").status_code == 200
    asyncio.run(move())
    # The app learnt of "later" only now, from the credential: the plan book reloads on a miss.
    assert fields(limited.get("k-default")) == ('"burst";q=3;w=1', '"burst";r=2;t=1')


def test_an_unknown_default_plan_stops_startup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'evshare.db'}"
    schema.upgrade(url)
    app = create_app(load_settings(database_url=url, default_plan="gold"))
    with pytest.raises(ConfigError, match="EVSHARE_DEFAULT_PLAN: there is no plan named 'gold'"):
        asyncio.run(app.startup())


@pytest.mark.parametrize("failure", ["open", "closed"])
def test_an_unreachable_limiter_applies_limiter_failure(database_url: str, failure: str) -> None:
    tokens = asyncio.run(seed_plans(database_url))
    settings = load_settings(
        database_url=database_url, redis_url="redis://127.0.0.1:1/0", limiter_failure=failure
    )
    with (
        InProcess(create_app(settings)) as app,
        app.client() as client,
    ):
        tight = [client.get(DETAIL, headers={"x-api-key": tokens["k-tight"]}) for _ in range(4)]
        unlimited = client.get(DETAIL, headers={"x-api-key": tokens["k-unlimited"]})
    assert unlimited.status_code == 200  # a plan that limits nothing needs no limiter
    if failure == "open":
        assert [r.status_code for r in tight] == [200] * 4  # burst 2, yet all admitted
        assert {fields(r) for r in tight} == {(None, None)}
    else:
        assert [r.status_code for r in tight] == [503] * 4
        for refused in tight:
            assert refused.json() == {"message": "Service Unavailable", "code": "unavailable"}
            assert refused.headers["retry-after"] == "1"
            assert_conforms(refused, "/chargers/{chargerId}")


def test_usage_is_counted_per_key_and_day_and_saved_at_shutdown(database_url: str) -> None:
    tokens = asyncio.run(seed_plans(database_url))
    day = datetime.now(UTC).date()
    with InProcess(limited_app(database_url, Clock(NOON))) as app:
        for key, times in (("k-tight", 5), ("k-standard", 3), ("k-unlimited", 2)):
            for _ in range(times):
                app.get(DETAIL, headers={"x-api-key": tokens[key]})
        app.get("/chargers?pageSize=0", headers={"x-api-key": tokens["k-standard"]})
        app.get(DETAIL)  # 401: nobody's usage
    if datetime.now(UTC).date() != day:
        pytest.skip("the UTC day changed during the test")
    assert asyncio.run(usage_of(database_url)) == [
        UsageRow("k-standard", day, requests=4, throttled=0),
        UsageRow("k-tight", day, requests=5, throttled=3),
        UsageRow("k-unlimited", day, requests=2, throttled=0),
    ]


def test_usage_is_flushed_while_serving(database_url: str) -> None:
    tokens = asyncio.run(seed_plans(database_url))
    app = EnergSyncApp(
        load_settings(database_url=database_url),
        limiter=MemoryLimiter(Clock(NOON)),
        usage_flush_interval=0.05,
    )
    expected = [("k-tight", 3, 1)]
    with InProcess(app) as served:
        for _ in range(3):
            served.get(DETAIL, headers={"x-api-key": tokens["k-tight"]})
        # Read while the server still runs: only the periodic flush can have written these.
        deadline = time.monotonic() + 10
        while True:
            rows = [
                (r.key_name, r.requests, r.throttled) for r in asyncio.run(usage_of(database_url))
            ]
            if rows == expected or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert rows == expected


class FlakyStore:
    """A real store whose add_usage fails while `down`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.down = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def add_usage(self, rows: Any) -> None:
        if self.down:
            raise Unavailable("the database cannot answer: down for the test")
        await self.store.add_usage(rows)


@pytest.fixture
async def flaky(database_url: str) -> AsyncIterator[tuple[FlakyStore, dict[str, str]]]:
    tokens = await seed_plans(database_url)
    store = await open_store(load_settings(database_url=database_url))
    yield FlakyStore(store), tokens
    await store.close()


@pytest.mark.anyio
async def test_a_failed_flush_keeps_the_counts_for_the_next(
    flaky: tuple[FlakyStore, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    store, tokens = flaky
    app = create_app(load_settings(), store=cast(Store, store), limiter=MemoryLimiter(Clock(NOON)))
    transport = httpx.ASGITransport(app=app)
    headers = {"x-api-key": tokens["k-tight"]}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert [(await http.get(DETAIL, headers=headers)).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        store.down = True
        with caplog.at_level(logging.WARNING, logger="evshare.api"):
            await app.flush_usage()
        assert "usage not saved yet, kept for the next flush" in caplog.text
        assert await store.usage() == []
        await http.get(DETAIL, headers=headers)
        store.down = False
        await app.shutdown()  # the final flush
    assert [(r.key_name, r.requests, r.throttled) for r in await store.usage()] == [
        ("k-tight", 4, 2)
    ]
