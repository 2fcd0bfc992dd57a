"""Who may call: keys in either header, and every way a credential can be refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from evshare import keys
from evshare.config import load_settings
from evshare.store import open_store
from tests.api.conformance import assert_conforms
from tests.api.conftest import Live

UNAUTHORIZED = {"message": "Unauthorized", "code": "unauthorized"}


def get(live: Live, path: str, headers: dict[str, str]) -> httpx.Response:
    return live.get(path, headers=headers)


@pytest.mark.parametrize("path", ["/chargers", "/chargers/CH-001", "/chargers/CH-001/sessions"])
def test_every_operation_needs_a_credential(live: Live, path: str) -> None:
    response = get(live, path, {})
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_conforms(response, path.replace("CH-001", "{chargerId}"))


def test_a_bearer_token_is_accepted(live: Live) -> None:
    response = get(live, "/chargers/CH-001", {"authorization": f"Bearer {live.keys.all}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": ""},
        {"x-api-key": "not-a-key"},
        {"x-api-key": "evs_000000000000_" + "A" * 43},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearer"},
        {"authorization": "Bearer evs_"},
    ],
)
def test_malformed_or_unknown_credentials_are_401(live: Live, headers: dict[str, str]) -> None:
    response = get(live, "/chargers", headers)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_a_tampered_secret_with_a_real_lookup_id_is_401(live: Live) -> None:
    key = live.keys.all
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert get(live, "/chargers", {"x-api-key": tampered}).status_code == 401


def test_x_api_key_wins_over_authorization(live: Live) -> None:
    good, bad = live.keys.all, "evs_000000000000_" + "A" * 43
    assert (
        get(live, "/chargers", {"x-api-key": good, "authorization": f"Bearer {bad}"}).status_code
        == 200
    )
    assert (
        get(live, "/chargers", {"x-api-key": bad, "authorization": f"Bearer {good}"}).status_code
        == 401
    )


def test_a_revoked_key_is_401(live: Live) -> None:
    assert get(live, "/chargers", {"x-api-key": live.keys.revoked}).status_code == 401


def test_rotation_with_no_grace_ends_the_old_secret_at_once(live: Live) -> None:
    assert get(live, "/chargers", {"x-api-key": live.keys.rotated_old}).status_code == 401
    assert get(live, "/chargers", {"x-api-key": live.keys.rotated_new}).status_code == 200


def test_rotation_with_grace_keeps_both_secrets_working(live: Live) -> None:
    async def rotate() -> str:
        store = await open_store(load_settings(database_url=live.database_url))
        try:
            return await keys.rotate(store, "all", now=datetime.now(UTC), grace=timedelta(hours=1))
        finally:
            await store.close()

    new = asyncio.run(rotate())
    assert get(live, "/chargers", {"x-api-key": live.keys.all}).status_code == 200
    assert get(live, "/chargers", {"x-api-key": new}).status_code == 200


def test_an_expired_key_is_401(live: Live) -> None:
    async def make_expiring() -> str:
        store = await open_store(load_settings(database_url=live.database_url))
        try:
            created = datetime.now(UTC) - timedelta(days=2)
            return await keys.create(
                store,
                "expired",
                now=created,
                all_chargers=True,
                expires_at=created + timedelta(days=1),
            )
        finally:
            await store.close()

    expired = asyncio.run(make_expiring())
    assert get(live, "/chargers", {"x-api-key": expired}).status_code == 401


def test_the_utility_routes_need_no_credential(live: Live) -> None:
    for path in ("/health", "/openapi.json", "/docs"):
        assert get(live, path, {}).status_code == 200


def test_revoking_a_key_in_use_takes_effect_on_its_next_request(live: Live) -> None:
    """Credentials may be cached by the server, never past a change to the keys."""

    async def revoke() -> None:
        store = await open_store(load_settings(database_url=live.database_url))
        try:
            await store.revoke_key("all", datetime.now(UTC))
        finally:
            await store.close()

    headers = {"x-api-key": live.keys.all}
    assert [get(live, "/chargers", headers).status_code for _ in range(3)] == [200, 200, 200]
    asyncio.run(revoke())
    assert get(live, "/chargers", headers).status_code == 401
