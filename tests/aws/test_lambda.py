"""The Lambda handler fed API Gateway events shaped as AWS documents them (tests/aws/events.py),
over each store (SQLite, PostgreSQL, DynamoDB in moto's server mode): REST API (payload 1.0)
and HTTP API (payload 2.0), repeated and `[]`
forms of chargerIds, encoded path ids, the stage prefix, and gateway-mode keys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from evshare.api.auth import GATEWAY_LOOKUP_PREFIX
from evshare.aws.lambda_handler import LambdaAdapter, make_handler
from evshare.config import load_settings
from evshare.model import Plan
from evshare.store import open_store
from tests.api.conftest import Keys, seed
from tests.aws.events import Context, http_api_event, rest_event

Build = Callable[..., dict[str, Any]]
BOTH = pytest.mark.parametrize("build", [rest_event, http_api_event], ids=["rest", "http-api"])
FAR = datetime(9999, 1, 1, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> tuple[str, Keys]:
    """Each store in turn (DynamoDB in moto's server mode), seeded."""
    return database_url, asyncio.run(seed(database_url))


@pytest.fixture
def setup(database: tuple[str, Keys]) -> Iterator[tuple[LambdaAdapter, Keys]]:
    url, seeded = database
    handler = make_handler(load_settings(database_url=url, root_path="/default"))
    yield handler, seeded
    handler.close()


def call(handler: LambdaAdapter, event: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    result = handler(event, Context())
    assert isinstance(result["body"], str)
    assert result["isBase64Encoded"] is False
    return result["statusCode"], orjson.loads(result["body"]), result


def ids(body: Any) -> list[str]:
    return [c["id"] for c in body["chargers"]]


@BOTH
@pytest.mark.parametrize(
    "query",
    [
        "chargerIds=CH-003&chargerIds=CH-001",
        "chargerIds%5B%5D=CH-003&chargerIds%5B%5D=CH-001",
        "chargerIds[]=CH-003&chargerIds[]=CH-001",
        "chargerIds=CH-003,CH-001",
        "chargerIds=CH-003&chargerIds[]=CH-001",
    ],
)
def test_every_form_of_charger_ids(
    setup: tuple[LambdaAdapter, Keys], build: Build, query: str
) -> None:
    handler, keys_ = setup
    status, body, _ = call(handler, build(f"/chargers?{query}", [("x-api-key", keys_.all)]))
    assert status == 200
    assert ids(body) == ["CH-001", "CH-003"]
    assert body["total"] == 2


@BOTH
@pytest.mark.parametrize("proxy", [False, True], ids=["route", "proxy"])
@pytest.mark.parametrize(
    ("encoded", "charger"),
    [("slash%2Fid", "slash/id"), ("%C3%89lectrique", "Électrique"), ("CH-001", "CH-001")],
)
def test_encoded_ids_in_the_path(
    setup: tuple[LambdaAdapter, Keys], build: Build, proxy: bool, encoded: str, charger: str
) -> None:
    handler, keys_ = setup
    key = [("x-api-key", keys_.all)]
    if build is http_api_event and proxy and "/" in charger:
        # An HTTP API decodes %2F in rawPath: only a {chargerId} route keeps such an id. On a
        # proxy route the id reads as two path segments, which no operation has (docs/aws.md).
        status, body, _ = call(handler, build(f"/chargers/{encoded}", key, proxy=proxy))
        assert (status, body["code"]) == (404, "not_found")
        return
    status, body, _ = call(handler, build(f"/chargers/{encoded}", key, proxy=proxy))
    assert (status, body["id"]) == (200, charger)
    status, body, _ = call(handler, build(f"/chargers/{encoded}/sessions", key, proxy=proxy))
    assert status == 200
    assert all(s["chargerId"] == charger for s in body)


def test_a_decoded_non_ascii_rest_path_still_routes(setup: tuple[LambdaAdapter, Keys]) -> None:
    handler, keys_ = setup
    event = rest_event("/chargers/x", [("x-api-key", keys_.all)], proxy=True)
    event["path"] = "/chargers/Électrique"
    status, body, _ = call(handler, event)
    assert (status, body["id"]) == (200, "Électrique")


@BOTH
@pytest.mark.parametrize("stage", ["default", "prod", "$default"])
def test_the_stage_prefix_is_handled_with_or_without_a_root_path(
    database: tuple[str, Keys], build: Build, stage: str
) -> None:
    url, keys_ = database
    for root in ("", "/default"):
        handler = make_handler(load_settings(database_url=url, root_path=root))
        try:
            status, body, _ = call(
                handler, build("/chargers?pageSize=2", [("x-api-key", keys_.all)], stage=stage)
            )
        finally:
            handler.close()
        assert (status, len(body["chargers"])) == (200, 2)


@BOTH
def test_decoded_query_values_are_encoded_again(
    setup: tuple[LambdaAdapter, Keys], build: Build
) -> None:
    handler, keys_ = setup
    event = build("/chargers/CH-001/sessions?startDate=2021+02%2B01", [("x-api-key", keys_.all)])
    status, body, _ = call(handler, event)
    assert status == 400
    assert body["code"] == "invalid_parameter"
    assert "'2021 02+01'" in body["message"]


@BOTH
def test_sessions_and_the_date_range(setup: tuple[LambdaAdapter, Keys], build: Build) -> None:
    handler, keys_ = setup
    url = "/chargers/CH-001/sessions?startDate=2021-02-01&endDate=2021-02-01"
    status, body, _ = call(handler, build(url, [("x-api-key", keys_.all)]))
    assert (status, [s["id"] for s in body]) == (200, ["s-first"])


@BOTH
def test_errors_keep_their_shape_and_headers(
    setup: tuple[LambdaAdapter, Keys], build: Build
) -> None:
    handler, keys_ = setup
    status, body, result = call(handler, build("/chargers", [("x-api-key", "wrong")]))
    assert (status, body["code"]) == (401, "unauthorized")
    status, body, result = call(handler, build("/chargers?pageSize=0", [("x-api-key", keys_.all)]))
    assert status == 400
    assert "pageSize" in body["message"]
    assert result["headers"]["content-type"] == "application/json"
    assert len(result["headers"]["x-request-id"]) == 32
    if build is rest_event:
        assert result["multiValueHeaders"]["content-type"] == ["application/json"]
    else:
        assert "multiValueHeaders" not in result
    status, body, _ = call(handler, build("/chargers/CH-999", [("x-api-key", keys_.all)]))
    assert (status, body["code"]) == (404, "not_found")


def test_two_api_keys_in_a_rest_event_are_ambiguous(setup: tuple[LambdaAdapter, Keys]) -> None:
    handler, keys_ = setup
    event = rest_event("/chargers", [("x-api-key", keys_.all), ("x-api-key", keys_.scoped)])
    assert call(handler, event)[0] == 401
    # Payload 2.0 joins them with a comma, which is no key at all.
    event = http_api_event("/chargers", [("x-api-key", keys_.all), ("x-api-key", keys_.scoped)])
    assert call(handler, event)[0] == 401


@BOTH
def test_a_scoped_key_through_lambda(setup: tuple[LambdaAdapter, Keys], build: Build) -> None:
    handler, keys_ = setup
    status, body, _ = call(handler, build("/chargers", [("x-api-key", keys_.scoped)]))
    assert (status, ids(body), body["total"]) == (200, ["CH-002", "CH-005", "Zeta"], 3)
    assert call(handler, build("/chargers/CH-001", [("x-api-key", keys_.scoped)]))[0] == 404


def test_usage_is_written_before_the_invocation_returns(
    setup: tuple[LambdaAdapter, Keys], database: tuple[str, Keys]
) -> None:
    handler, keys_ = setup
    for _ in range(3):
        call(handler, rest_event("/chargers", [("x-api-key", keys_.all)]))

    async def usage() -> int:
        store = await open_store(load_settings(database_url=database[0]))
        try:
            return sum(r.requests for r in await store.usage("all"))
        finally:
            await store.close()

    # Read from another connection while the container is merely frozen, not stopped.
    assert asyncio.run(usage()) == 3


# --- auth=gateway: API Gateway checked the key; evshare maps its id to the key's scope ---------


async def _link(url: str, name: str, key_id: str) -> str:
    """What `evshare aws keys sync` records; the value is API Gateway's, not evshare's."""
    store = await open_store(load_settings(database_url=url))
    try:
        await store.add_secret(name, GATEWAY_LOOKUP_PREFIX + key_id, b"", FAR)
        return "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0"
    finally:
        await store.close()


def test_gateway_mode_maps_the_api_key_id_to_the_scope(database: tuple[str, Keys]) -> None:
    url, _ = database
    token = asyncio.run(_link(url, "scoped", "k1scoped00"))
    handler = make_handler(load_settings(database_url=url, auth="gateway"))
    try:
        key = [("x-api-key", token)]
        status, body, _ = call(handler, rest_event("/chargers", key, api_key_id="k1scoped00"))
        assert (status, body["total"]) == (200, 3)
        # A key id never synced, no key id at all (an HTTP API has no API keys).
        assert call(handler, rest_event("/chargers", key, api_key_id="unknown000"))[0] == 401
        assert call(handler, rest_event("/chargers", key))[0] == 401
        assert call(handler, http_api_event("/chargers", key))[0] == 401
    finally:
        handler.close()


def test_gateway_mode_refuses_a_revoked_key_before_the_next_sync(
    database: tuple[str, Keys],
) -> None:
    url, _ = database
    token = asyncio.run(_link(url, "revoked", "k2revoked0"))
    handler = make_handler(load_settings(database_url=url, auth="gateway"))
    try:
        event = rest_event("/chargers", [("x-api-key", token)], api_key_id="k2revoked0")
        assert call(handler, event)[0] == 401
    finally:
        handler.close()


# --- auth=evshare on DynamoDB: limits shared by every container through the table -------------


@pytest.mark.process
def test_two_containers_share_one_bucket_on_dynamodb(dynamodb_url: str) -> None:
    url, keys_ = dynamodb_url, asyncio.run(seed(dynamodb_url))

    async def on_a_plan() -> None:
        store = await open_store(load_settings(database_url=url))
        try:
            await store.create_plan(Plan("pair", rate=0.001, burst=2))
            await store.set_key_plan("all", "pair")
        finally:
            await store.close()

    asyncio.run(on_a_plan())
    first, second = (make_handler(load_settings(database_url=url)) for _ in range(2))
    try:
        event = rest_event("/chargers", [("x-api-key", keys_.all)])
        answers = [call(h, event) for h in (first, second, first, second)]
        assert [a[0] for a in answers] == [200, 200, 429, 429]
        assert answers[2][1]["code"] == "throttled"
        assert "retry-after" in answers[3][2]["headers"]
    finally:
        first.close()
        second.close()
