"""Identities through real HTTP (uvicorn on loopback, SQLite and PostgreSQL), with tokens from
local HTTPS issuers: each identity sees exactly its chargers, totals included, and a hidden
charger is indistinguishable from a missing one; usage plans and the access log per identity."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from evshare.api.app import create_app
from evshare.config import load_settings
from evshare.model import Plan
from evshare.store import open_store
from tests.api.conformance import assert_conforms
from tests.api.conftest import ALL_IDS, SCOPED_CHARGERS, Keys, ServerThread, seed
from tests.identity.issuer import LocalIssuer
from tests.logs import messages

COGNITO_SITE_A: dict[str, Any] = {"cognito:groups": ["site-a"]}
UNAUTHORIZED = {"message": "Unauthorized", "code": "unauthorized"}


def config_text(local: LocalIssuer, cognito: LocalIssuer, **issuer: str) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in issuer.items())
    return f"""
leeway = 5
[issuers.local]
url = "{local.url}"
audiences = ["{local.audience}"]
ca_file = "{local.ca_file}"
chargers_claim = "chargers"
groups_claim = "groups"
key_claim = "evshare_key"
{extra}
[issuers.local.groups.ops]
chargers = "all"
[issuers.local.groups.site-a]
chargers = ["CH-003", "CH-004"]
[issuers.local.groups.metered]
chargers = ["CH-007"]
plan = "tight"

[issuers.cog]
url = "{cognito.url}"
kind = "cognito"
audiences = ["app-client-1"]
ca_file = "{cognito.ca_file}"
[issuers.cog.groups.site-a]
chargers = ["CH-003", "CH-004"]
"""


@dataclass
class World:
    base: str
    keys: Keys
    local: LocalIssuer
    cognito: LocalIssuer
    database_url: str
    client: httpx.Client

    def get(self, path: str, token: str | None = None, **named: str) -> httpx.Response:
        headers = {k.replace("_", "-"): v for k, v in named.items()}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return self.client.get(self.base + path, headers=headers)


@pytest.fixture
def cognito(test_ca: tuple[object, Path]) -> Iterator[LocalIssuer]:
    local = LocalIssuer(*test_ca, audience="app-client-1")  # type: ignore[arg-type]
    yield local
    local.stop()


def start(
    database_url: str, tmp_path: Path, local: LocalIssuer, cognito: LocalIssuer, **issuer: str
) -> ServerThread:
    path = tmp_path / "identity.toml"
    path.write_text(config_text(local, cognito, **issuer))
    settings = load_settings(database_url=database_url, identity_config=str(path))
    return ServerThread(create_app(settings))


async def seed_world(database_url: str) -> Keys:
    keys = await seed(database_url)
    store = await open_store(load_settings(database_url=database_url))
    try:
        await store.create_plan(Plan("tight", rate=0.001, burst=2))
    finally:
        await store.close()
    return keys


@pytest.fixture
def world(
    database_url: str, tmp_path: Path, issuer: LocalIssuer, cognito: LocalIssuer
) -> Iterator[World]:
    keys = asyncio.run(seed_world(database_url))
    with start(database_url, tmp_path, issuer, cognito) as base, httpx.Client(timeout=10) as client:
        yield World(base, keys, issuer, cognito, database_url, client)


def expected_scopes(world: World) -> dict[str, tuple[str, list[str]]]:
    """Each identity's token and exactly the charger ids it must see."""
    local, cog = world.local, world.cognito
    scoped_existing = [i for i in SCOPED_CHARGERS if i in ALL_IDS]
    return {
        "listed": (
            local.token(sub="a", chargers=["CH-001", "slash/id", "Électrique", "missing-id"]),
            ["CH-001", "slash/id", "Électrique"],
        ),
        "group": (
            local.token(kid="ec-1", sub="b", groups=["site-a", "no-such"]),
            ["CH-003", "CH-004"],
        ),
        "all": (local.token(sub="c", groups=["ops"]), ALL_IDS),
        "borrowed": (
            local.token(sub="d", evshare_key="scoped", chargers="CH-006"),
            sorted([*scoped_existing, "CH-006"]),
        ),
        "revoked-key": (local.token(sub="e", evshare_key="revoked"), []),
        "nothing": (local.token(sub="f"), []),
        "cognito-access": (
            cog.token(
                sub="g",
                aud=None,
                client_id="app-client-1",
                token_use="access",
                **COGNITO_SITE_A,
            ),
            ["CH-003", "CH-004"],
        ),
        "cognito-id": (
            cog.token(sub="h", aud="app-client-1", token_use="id", **COGNITO_SITE_A),
            ["CH-003", "CH-004"],
        ),
    }


def listed(world: World, token: str, query: str) -> tuple[list[str], int]:
    response = world.get("/chargers" + query, token)
    assert response.status_code == 200, response.text
    body = response.json()
    return [c["id"] for c in body["chargers"]], body["total"]


def test_each_identity_sees_exactly_its_chargers(world: World) -> None:
    full = {
        cid: (
            world.get(f"/chargers/{quote(cid, safe='')}", x_api_key=world.keys.all).json(),
            world.get(f"/chargers/{quote(cid, safe='')}/sessions", x_api_key=world.keys.all).json(),
        )
        for cid in ALL_IDS
    }
    missing = world.get("/chargers/missing-id", world.keys.all)
    every = "?chargerIds=" + ",".join(quote(i, safe="") for i in [*ALL_IDS, "missing-id"])
    for label, (token, visible) in expected_scopes(world).items():
        assert listed(world, token, "?pageSize=1000") == (visible, len(visible)), label
        assert listed(world, token, every + "&pageSize=1000") == (visible, len(visible)), label
        # Paging: two at a time, the true total on every page, nothing past the end.
        pages = [listed(world, token, f"?pageSize=2&page={n}") for n in range(1, 12)]
        assert [i for ids, _ in pages for i in ids] == visible, label
        assert {total for _, total in pages} == {len(visible)}, label
        for cid in [*ALL_IDS, "missing-id"]:
            path = f"/chargers/{quote(cid, safe='')}"
            detail = world.get(path, token)
            sessions = world.get(path + "/sessions", token)
            if cid in visible:
                assert detail.status_code == 200, (label, cid)
                assert (detail.json(), sessions.json()) == full[cid], (label, cid)
            else:  # hidden or missing: the same answer, byte for byte
                assert (detail.status_code, detail.content) == (404, missing.content), (label, cid)
                assert (sessions.status_code, sessions.content) == (404, missing.content)
        assert_conforms(world.get("/chargers", token), "/chargers")


def test_a_scope_probe_for_the_1_0_7_profile(
    database_url: str, tmp_path: Path, issuer: LocalIssuer, cognito: LocalIssuer
) -> None:
    asyncio.run(seed_world(database_url))
    path = tmp_path / "identity.toml"
    path.write_text(config_text(issuer, cognito))
    settings = load_settings(database_url=database_url, identity_config=str(path), profile="1.0.7")
    token = issuer.token(sub="a", groups=["site-a"])
    with ServerThread(create_app(settings)) as base:
        response = httpx.get(base + "/chargers", headers={"authorization": f"Bearer {token}"})
        assert [c["id"] for c in response.json()] == ["CH-003", "CH-004"]
        nobody = issuer.token(sub="z")
        assert (
            httpx.get(base + "/chargers", headers={"authorization": f"Bearer {nobody}"}).json()
            == []
        )


def test_bad_tokens_are_401_in_the_contract_shape(world: World) -> None:
    local, now = world.local, int(time.time())
    bad = [
        local.token(exp=now - 60),
        local.token(nbf=now + 300),
        local.token(aud="someone-else"),
        local.token(iss="https://127.0.0.1:1"),
        local.unsigned("none"),
        local.hs256_with_public_key(),
        local.token(kid="rsa-1", key=world.cognito.rsa),
        world.cognito.token(aud=None, client_id="app-client-1", token_use="refresh"),
        "not.a.jwt",
    ]
    for token in bad:
        response = world.get("/chargers", token)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED), token
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert_conforms(response, "/chargers")


def test_keys_still_work_beside_tokens_and_x_api_key_wins(world: World) -> None:
    token = world.local.token(sub="a", groups=["site-a"])
    assert world.get("/chargers", world.keys.scoped).json()["total"] == 3  # Bearer evs_...
    both = world.get("/chargers", token, x_api_key=world.keys.all)
    assert both.json()["total"] == len(ALL_IDS)
    assert world.get("/chargers", token, x_api_key="evs_nope").status_code == 401


@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
def test_a_credential_header_sent_twice_is_401(world: World, header: str) -> None:
    value = world.keys.all if header == "x-api-key" else f"Bearer {world.keys.all}"
    response = httpx.get(world.base + "/chargers", headers=[(header, value), (header, value)])
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_the_contract_gains_the_jwt_scheme(world: World) -> None:
    spec = httpx.get(world.base + "/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["jwtBearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert world.local.url in scheme["description"]
    assert {"jwtBearer": []} in spec["security"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_usage_plans_and_the_access_log_name_the_identity(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    metered = world.local.token(sub="m1", groups=["metered"])
    other = world.local.token(sub="m2", groups=["metered"])
    with caplog.at_level(logging.INFO, logger="evshare.access"):
        statuses = [world.get("/chargers", metered).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert world.get("/chargers", other).status_code == 200  # per subject: its own bucket
    lines = messages(caplog, "evshare.access")
    assert any("key=local:m1" in line for line in lines)
    assert not any(metered in line or metered[:40] in line for line in lines)
    refused = world.get("/chargers", metered)
    assert int(refused.headers["retry-after"]) >= 1


def test_limit_by_group_shares_one_bucket(
    database_url: str, tmp_path: Path, issuer: LocalIssuer, cognito: LocalIssuer
) -> None:
    asyncio.run(seed_world(database_url))
    with start(database_url, tmp_path, issuer, cognito, limit_by='"group"') as base:
        tokens = [issuer.token(sub=f"u{n}", groups=["metered"]) for n in range(3)]
        statuses = [
            httpx.get(base + "/chargers", headers={"authorization": f"Bearer {t}"}).status_code
            for t in tokens
        ]
    assert statuses == [200, 200, 429]

    async def usage() -> set[str]:
        store = await open_store(load_settings(database_url=database_url))
        try:
            return {row.key_name for row in await store.usage()}
        finally:
            await store.close()

    assert asyncio.run(usage()) == {"local#metered"}


def test_an_unreachable_issuer_is_503_with_retry_after(world: World) -> None:
    world.local.mode = "down"
    response = world.get("/chargers", world.local.token(sub="a"))
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert int(response.headers["retry-after"]) >= 1
    # Keys and other issuers are unaffected.
    assert world.get("/chargers", world.keys.all).status_code == 200


def test_an_unknown_plan_in_the_identity_file_stops_startup(
    tmp_path: Path, issuer: LocalIssuer, cognito: LocalIssuer
) -> None:
    from evshare.errors import ConfigError
    from evshare.store import schema

    url = f"sqlite:///{tmp_path / 'x.db'}"
    schema.upgrade(url)
    path = tmp_path / "identity.toml"
    path.write_text(config_text(issuer, cognito))
    app = create_app(load_settings(database_url=url, identity_config=str(path)))
    with pytest.raises(
        ConfigError, match=r"identity.toml: issuer 'local', field 'groups.metered.plan'"
    ):
        asyncio.run(app.startup())
    asyncio.run(app.shutdown())
