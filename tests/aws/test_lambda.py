"""The Lambda handler with real API Gateway event shapes, over a real SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from evshare.aws.lambda_handler import make_handler
from evshare.config import load_settings
from evshare.store import schema
from tests.api.conftest import Keys, seed


class Context:
    function_name = "evshare"
    aws_request_id = "req-1"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Any, Keys]:
    url = f"sqlite:///{tmp_path / 'lambda.db'}"
    schema.upgrade(url)
    seeded = asyncio.run(seed(url))
    return make_handler(load_settings(database_url=url, root_path="/default")), seeded


def rest_event(path: str, key: str, multi: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": {"x-api-key": key, "Host": "abc.execute-api.ca-central-1.amazonaws.com"},
        "multiValueHeaders": {"x-api-key": [key]},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": None,
        "requestContext": {"stage": "default", "path": f"/default{path}", "httpMethod": "GET"},
        "body": None,
        "isBase64Encoded": False,
    }


def http_api_event(raw_path: str, key: str, raw_query: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": {"x-api-key": key, "host": "abc.execute-api.ca-central-1.amazonaws.com"},
        "requestContext": {
            "stage": "default",
            "http": {
                "method": "GET",
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "1.2.3.4",
            },
        },
        "isBase64Encoded": False,
    }


def test_rest_api_with_repeated_charger_ids(setup: tuple[Any, Keys]) -> None:
    handler, keys = setup
    event = rest_event("/chargers", keys.all, {"chargerIds": ["CH-003", "CH-001"]})
    result = handler(event, Context())
    assert result["statusCode"] == 200
    body = orjson.loads(result["body"])
    assert [c["id"] for c in body["chargers"]] == ["CH-001", "CH-003"]


def test_http_api_comma_joined_charger_ids_on_the_stage_path(setup: tuple[Any, Keys]) -> None:
    handler, keys = setup
    # Payload 2.0 joins repeated query keys with commas.
    event = http_api_event("/default/chargers", keys.all, "chargerIds=CH-003,CH-001")
    result = handler(event, Context())
    assert result["statusCode"] == 200
    assert orjson.loads(result["body"])["total"] == 2


def test_errors_keep_their_shape_through_lambda(setup: tuple[Any, Keys]) -> None:
    handler, keys = setup
    missing = handler(rest_event("/chargers", "wrong", {}), Context())
    bad = handler(http_api_event("/default/chargers", keys.all, "pageSize=0"), Context())
    assert missing["statusCode"] == 401
    assert orjson.loads(missing["body"])["code"] == "unauthorized"
    assert bad["statusCode"] == 400
    assert "pageSize" in orjson.loads(bad["body"])["message"]


def test_sessions_through_lambda(setup: tuple[Any, Keys]) -> None:
    handler, keys = setup
    event = rest_event(
        "/chargers/CH-001/sessions",
        keys.all,
        {"startDate": ["2021-02-01"], "endDate": ["2021-02-01"]},
    )
    result = handler(event, Context())
    assert [s["id"] for s in orjson.loads(result["body"])] == ["s-first"]


def test_a_decoded_non_ascii_path_from_api_gateway(setup: tuple[Any, Keys]) -> None:
    handler, keys = setup
    result = handler(rest_event("/chargers/Électrique", keys.all, {}), Context())
    assert result["statusCode"] == 200
    assert orjson.loads(result["body"])["id"] == "Électrique"
