"""evshare.client against a real evshare server and against broken providers, over real HTTP."""

from __future__ import annotations

import time
from datetime import date

import pytest

from evshare.client import (
    AuthRejected,
    BadResponse,
    ChargerNotFound,
    Client,
    EnergSyncClient,
    GaveUp,
)
from evshare.client.retry import ratelimit_reset_seconds, retry_after_seconds
from tests.api.conftest import ALL_IDS
from tests.client.conftest import Evshare, ProviderFactory
from tests.client.providers import KEY

pytestmark = pytest.mark.anyio


async def test_every_charger_and_its_sessions_from_evshare_in_both_profiles(
    evshare_server: Evshare,
) -> None:
    async with EnergSyncClient(evshare_server.base, evshare_server.keys.all, page_size=5) as api:
        chargers = await api.chargers()
        assert [c.id for c in chargers] == ALL_IDS
        one = await api.charger("CH-001")
        assert one.time_zone == "America/Edmonton"
        assert one.commissioning_date == date(2021, 4, 12)
        assert (await api.charger("slash/id")).name == "an id with a slash"
        february = await api.sessions("CH-001", date(2021, 2, 1), date(2021, 2, 28))
        assert [s.id for s in february] == ["s-first", "s-a", "s-b", "s-last"]
        assert february[1].charging_duration_s is None
        picked = await api.chargers(["Zeta", "CH-002", "nope"])
        assert sorted(c.id for c in picked) == ["CH-002", "Zeta"]
        with pytest.raises(ChargerNotFound):
            await api.charger("nope")
    assert api.profile in ("1.2.0", "1.0.7")


async def test_a_refused_key_is_one_clear_error(evshare_server: Evshare) -> None:
    async with EnergSyncClient(evshare_server.base, "evs_wrong", budget=5) as api:
        with pytest.raises(AuthRejected, match="--key"):
            await api.chargers()
    assert api.stats.requests == 1


def test_the_sync_client(evshare_server: Evshare) -> None:
    with Client(evshare_server.base, evshare_server.keys.all) as api:
        assert [c.id for c in api.chargers()] == ALL_IDS
        assert len(api.sessions("CH-001")) == 6
        assert api.charger("CH-002").name == "Minimal charger"


async def test_wrong_totals_and_duplicates_across_pages_still_give_each_charger_once(
    provider: ProviderFactory,
) -> None:
    with provider(chargers=23, defects=["wrong_total", "duplicates_across_pages"]) as (p, url):
        async with EnergSyncClient(url, KEY, page_size=5) as api:
            ids = [c.id for c in await api.chargers()]
    assert ids == [c["id"] for c in p.chargers]


async def test_a_429_storm_is_waited_out_as_the_provider_asks(provider: ProviderFactory) -> None:
    with provider(defects=["storm_429"], storm=2) as (_, url):
        async with EnergSyncClient(url, KEY) as api:
            began = time.monotonic()
            await api.chargers()
            took = time.monotonic() - began
    assert api.stats.throttled == 2
    assert api.stats.retries == 2
    assert took >= 1.9  # Retry-After: 1, twice


async def test_a_429_storm_without_retry_after_backs_off(provider: ProviderFactory) -> None:
    with provider(defects=["storm_429_bare"], storm=3) as (_, url):
        async with EnergSyncClient(url, KEY, wait_max=0.5) as api:
            assert len(await api.chargers()) == 25
    assert api.stats.throttled == 3


async def test_500s_and_timeouts_are_retried(provider: ProviderFactory) -> None:
    with provider(defects=["errors_500", "timeouts"], hang=2.0) as (p, url):
        async with EnergSyncClient(url, KEY, timeout=0.5, wait_max=0.3, page_size=3) as api:
            chargers = await api.chargers()
            sessions = await api.sessions("CH-1")
    assert len(chargers) == 25
    assert len(sessions) == len(p.sessions["CH-1"])
    assert api.stats.retries >= 3


async def test_bare_arrays_missing_fields_and_strings_for_numbers(
    provider: ProviderFactory,
) -> None:
    with provider(defects=["bare_arrays", "missing_optional", "bad_types"]) as (_, url):
        async with EnergSyncClient(url, KEY) as api:
            chargers = await api.chargers()
            sessions = await api.sessions("CH-2")
    assert api.profile == "1.0.7"
    assert len(chargers) == 25
    assert chargers[0].time_zone is None
    assert sessions[0].charging_duration_s is None
    assert sessions[0].energy_wh == 1000.0


async def test_a_cut_body_is_retried_and_a_always_cut_one_is_a_clear_error(
    provider: ProviderFactory,
) -> None:
    with provider(defects=["invalid_json"], flaky=True) as (p, url):
        async with EnergSyncClient(url, KEY) as api:
            assert len(await api.sessions("CH-1")) == len(p.sessions["CH-1"])
    with provider(defects=["invalid_json"]) as (_, url):
        async with EnergSyncClient(url, KEY) as api:
            with pytest.raises(BadResponse, match="not JSON"):
                await api.sessions("CH-1")


async def test_a_provider_that_stays_down_is_given_up_on_within_the_budget(
    provider: ProviderFactory,
) -> None:
    with provider(defects=["down"]) as (_, url):
        async with EnergSyncClient(url, KEY, budget=2.5) as api:
            began = time.monotonic()
            with pytest.raises(GaveUp, match=r"gave up after \d+ attempt\(s\).*HTTP 503: down"):
                await api.chargers()
            assert time.monotonic() - began < 4


async def test_a_wait_longer_than_the_budget_gives_up_at_once(provider: ProviderFactory) -> None:
    with provider(defects=["down"]) as (_, url):
        async with EnergSyncClient(url, KEY, budget=0.5) as api:
            with pytest.raises(GaveUp, match="asked to wait 1s"):
                await api.chargers()
    assert api.stats.requests == 1


async def test_403_is_refused_like_401() -> None:
    import httpx

    def forbid(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": "Forbidden"})

    async with EnergSyncClient("http://x", "k", transport=httpx.MockTransport(forbid)) as api:
        with pytest.raises(AuthRejected, match="403: Forbidden"):
            await api.charger("a")


def test_reading_retry_after_and_ratelimit() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert ratelimit_reset_seconds('"burst";r=0;t=3') == 3.0
    assert ratelimit_reset_seconds('"burst";r=4;t=3') is None
    assert ratelimit_reset_seconds('"a";r=0;t=2, "month";r=0;t=90') == 90.0
