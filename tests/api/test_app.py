"""The app around the operations: utility routes, methods, request ids, base path, profiles,
access log, and the answers when the store fails."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from evshare.api.app import create_app
from evshare.config import load_settings
from evshare.errors import Unavailable
from evshare.model import Credential
from tests.api.conformance import assert_conforms
from tests.api.conftest import ALL_IDS, Live, in_process, seed
from tests.logs import messages

SHARED_SPEC = Path(__file__).parents[3] / "shared" / "spec" / "energsync-1.2.0.yaml"


def test_openapi_json_is_the_contract_with_this_servers_base(live: Live) -> None:
    served = live.get("/openapi.json").json()
    packaged = Path(__file__).parents[2] / "src/evshare/api/energsync-1.2.0.yaml"
    contract = yaml.safe_load(packaged.read_text())
    # Relative: right for whatever host, port or proxy the client came through.
    assert [s["url"] for s in served["servers"]] == ["/"]
    assert "README.md beside this file" not in served["info"]["description"]
    codes = served["components"]["schemas"]["Error"]["properties"]["code"]["description"]
    assert "method_not_allowed" in codes
    for part in ("openapi", "paths", "security"):
        assert served[part] == contract[part]
    for part in ("parameters", "responses", "securitySchemes"):
        assert served["components"][part] == contract["components"][part]


@pytest.mark.skipif(not SHARED_SPEC.exists(), reason="shared/spec is not beside this checkout")
def test_the_packaged_contract_is_the_shared_one() -> None:
    packaged = Path(__file__).parents[2] / "src/evshare/api/energsync-1.2.0.yaml"
    assert packaged.read_bytes() == SHARED_SPEC.read_bytes()


def test_docs_page_describes_every_operation(live: Live) -> None:
    response = live.get("/docs")
    assert response.headers["content-type"].startswith("text/html")
    for path in ("/chargers", "/chargers/{chargerId}", "/chargers/{chargerId}/sessions"):
        assert f"GET {path}</code>" in response.text
    assert "`" not in response.text  # Markdown is rendered, not shown raw
    assert "<code>chargerIds</code>" in response.text
    assert "README.md beside this file" not in response.text


def test_health(live: Live) -> None:
    response = live.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_allow(live: Live, method: str) -> None:
    response = live.app.request(method, "/chargers", headers={"x-api-key": live.keys.all})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["code"] == "method_not_allowed"


def test_head_answers_like_get_without_a_body(live: Live) -> None:
    headers = {"x-api-key": live.keys.all}
    got = live.get("/chargers", headers=headers)
    head = live.app.head("/chargers", headers=headers)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))


@pytest.mark.parametrize(
    "path", ["/", "/charger", "/chargers/", "/chargers/a/b", "/chargers/CH-001/sessions/x"]
)
def test_unknown_paths_are_404_in_the_error_shape(live: Live, path: str) -> None:
    response = live.get(path, headers={"x-api-key": live.keys.all})
    assert (response.status_code, response.json()) == (
        404,
        {"message": "Not Found", "code": "not_found"},
    )


def test_a_request_id_is_echoed_or_generated(live: Live) -> None:
    echoed = live.get("/health", headers={"x-request-id": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = live.get("/chargers")  # on errors too
    invalid = live.get("/health", headers={b"x-request-id": b"bad id\xff"})
    for response in (made, invalid):
        assert len(response.headers["x-request-id"]) == 32


def test_responses_are_not_cached_by_intermediaries(live: Live) -> None:
    response = live.get("/chargers", headers={"x-api-key": live.keys.all})
    assert response.headers["cache-control"] == "no-store"


def test_a_base_path_matches_an_api_gateway_stage(database_url: str) -> None:
    seeded = asyncio.run(seed(database_url))
    with in_process(database_url, root_path="/default") as app:
        headers = {"x-api-key": seeded.all}
        staged = app.get("/default/chargers/CH-001", headers=headers)
        plain = app.get("/chargers/CH-001", headers=headers)
        docs = app.get("/default/docs")
        openapi = app.get("/default/openapi.json").json()
    assert staged.status_code == plain.status_code == 200
    assert "/default/openapi.json" in docs.text
    assert [s["url"] for s in openapi["servers"]] == ["/default"]


def test_profile_1_0_7_lists_a_bare_array_without_paging(database_url: str) -> None:
    seeded = asyncio.run(seed(database_url))
    with in_process(database_url, profile="1.0.7") as app:
        headers = {"x-api-key": seeded.all}
        everything = app.get("/chargers?pageSize=1&page=3", headers=headers)
        some = app.get("/chargers?chargerIds[]=CH-003&chargerIds[]=CH-001", headers=headers)
        spec = app.get("/openapi.json").json()
        detail = app.get("/chargers/CH-001", headers=headers)
    assert [c["id"] for c in assert_conforms(everything, "/chargers", "1.0.7")] == ALL_IDS
    assert [c["id"] for c in some.json()] == ["CH-001", "CH-003"]
    assert spec["info"]["version"] == "1.0.7"
    assert {p["name"] for p in spec["paths"]["/chargers"]["get"]["parameters"]} == {"chargerIds"}
    assert detail.json()["id"] == "CH-001"


def test_one_access_log_line_per_request_with_the_key_name_never_the_key(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="evshare.access"):
        live.get("/chargers/CH-001?x=1", headers={"x-api-key": live.keys.all})
        live.get("/chargers", headers={"x-api-key": live.keys.revoked})
    lines = messages(caplog, "evshare.access")
    assert len(lines) == 2
    assert lines[0].startswith("GET /chargers/CH-001?x=1 200 ")
    assert "key=all" in lines[0]
    assert lines[1].startswith("GET /chargers 401 ")
    assert "key=-" in lines[1]
    assert not any(
        live.keys.all in line or live.keys.revoked in line for line in caplog.text.splitlines()
    )


class FailingStore:
    """A store whose every call fails with `error`; credentials always check out."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def find_credential(self, lookup_id: str) -> Credential:
        from evshare import keys

        token = f"evs_{lookup_id}_" + "A" * 43
        return Credential("k", keys.hash_token(token), True, None, False)

    async def chargers_json(self, *_query: object) -> Any:
        raise self.error

    async def ping(self) -> None:
        raise self.error

    async def add_usage(self, _rows: object) -> None:
        """Usage counts still land: only the data queries fail."""


async def _call(store: Any, path: str) -> httpx.Response:
    app = create_app(load_settings(), store=store)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.get(path, headers={"x-api-key": "evs_0123456789ab_" + "A" * 43})
    finally:
        await app.shutdown()


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/chargers", "/health"])
async def test_a_store_that_is_down_is_503_with_retry_after(path: str) -> None:
    response = await _call(FailingStore(Unavailable("database is down", retry_after=2)), path)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"message": "Service Unavailable", "code": "unavailable"}


@pytest.mark.anyio
async def test_a_bug_is_a_500_that_reveals_nothing(caplog: pytest.LogCaptureFixture) -> None:
    response = await _call(FailingStore(RuntimeError("secret detail")), "/chargers")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error", "code": "internal"}
    assert b"secret detail" not in response.content
    assert "secret detail" in caplog.text  # logged for the operator, with its traceback


def test_startup_refuses_an_out_of_date_schema(tmp_path: Path) -> None:
    from evshare.api.app import EnergSyncApp
    from evshare.errors import SchemaOutOfDate

    app = EnergSyncApp(load_settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    with pytest.raises(SchemaOutOfDate, match="evshare db upgrade"):
        asyncio.run(app.startup())


def test_error_bodies_are_compact_json() -> None:
    from evshare.api.errors import NOT_FOUND

    assert orjson.loads(NOT_FOUND.body) == {"message": "Not Found", "code": "not_found"}
