"""Claims that API Gateway's authorizer verified, mapped the same way on Lambda (REST API with a
Cognito user-pool authorizer, HTTP API with a JWT authorizer), with every value a string."""

from __future__ import annotations

import asyncio
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
import pytest

from evshare.aws.lambda_handler import LambdaAdapter, make_handler
from evshare.config import load_settings
from evshare.errors import ConfigError, Unauthorized
from evshare.identity.claims import grant_from_gateway, strings
from evshare.identity.config import parse_identity_config
from evshare.identity.gateway import claims_in_scope, claims_of_event
from evshare.store import schema
from tests.api.conftest import seed
from tests.aws.events import Context, http_api_event, rest_event

POOL = "https://cognito-idp.ca-central-1.amazonaws.com/ca-central-1_Example"
IDENTITY = f"""
[issuers.pool]
url = "{POOL}"
kind = "cognito"
audiences = ["client-1"]
key_claim = "custom:evshare_key"
[issuers.pool.groups.site-a]
chargers = ["CH-003", "CH-004"]
[issuers.pool.groups.ops]
chargers = "all"
"""

# As the REST API's Cognito authorizer passes them: strings, groups comma-joined.
REST_CLAIMS = {
    "sub": "5f1c-user",
    "iss": POOL,
    "aud": "client-1",
    "token_use": "id",
    "cognito:groups": "site-a,visitors",
    "exp": "Tue Dec 01 23:52:53 UTC 2026",
    "iat": "Tue Dec 01 22:52:53 UTC 2026",
}
# As the HTTP API's JWT authorizer passes them: strings, arrays as "[a b]".
HTTP_CLAIMS = {
    "sub": "7a2e-user",
    "iss": POOL,
    "client_id": "client-1",
    "token_use": "access",
    "cognito:groups": "[visitors site-a]",
    "exp": "1796169173",
}


def test_claims_are_found_in_both_event_shapes() -> None:
    rest = {"requestContext": {"authorizer": {"claims": REST_CLAIMS, "principalId": ""}}}
    http = {"requestContext": {"authorizer": {"jwt": {"claims": HTTP_CLAIMS, "scopes": None}}}}
    assert claims_of_event(rest) == REST_CLAIMS
    assert claims_of_event(http) == HTTP_CLAIMS
    nothings: list[Any] = [None, {}, {"requestContext": {}}, {"requestContext": {"authorizer": {}}}]
    for nothing in nothings:
        assert claims_of_event(nothing) is None
    # As an ASGI scope carries them: from a Lambda adapter's extension, or Mangum's whole event.
    extension = {"extensions": {"evshare.gateway": {"api_key_id": None, "claims": REST_CLAIMS}}}
    assert claims_in_scope(extension) == REST_CLAIMS
    assert claims_in_scope({"aws.event": http}) == HTTP_CLAIMS
    assert claims_in_scope({"extensions": {"evshare.gateway": {"api_key_id": "k"}}}) is None


@pytest.mark.parametrize(
    ("value", "names"),
    [
        (["a", "b"], ["a", "b"]),
        ("a,b", ["a", "b"]),
        ("[a b]", ["a", "b"]),
        ("a", ["a"]),
        ("", []),
        (None, []),
        (7, []),
    ],
)
def test_claim_lists_in_every_form(value: Any, names: list[str]) -> None:
    assert strings(value) == names


def test_gateway_claims_map_like_token_claims() -> None:
    config = parse_identity_config(IDENTITY, "identity.toml")
    for claims in (REST_CLAIMS, HTTP_CLAIMS):
        grant = grant_from_gateway(config, claims)
        assert grant.charger_ids == {"CH-003", "CH-004"}
        assert grant.name == f"pool:{claims['sub']}"
    with pytest.raises(Unauthorized):
        grant_from_gateway(config, {**REST_CLAIMS, "iss": "https://elsewhere.example"})
    with pytest.raises(Unauthorized):
        grant_from_gateway(config, {**HTTP_CLAIMS, "client_id": "other-client"})


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'lambda.db'}"
    schema.upgrade(url)
    asyncio.run(seed(url))
    return url


def handler_for(url: str, tmp_path: Path, *, trust: bool) -> closing[LambdaAdapter]:
    """A Lambda handler trusting (or not) the gateway's claims, to use in `with`: a handler left
    open leaks its housekeeping task into whichever test runs next."""
    path = tmp_path / "identity.toml"
    path.write_text(IDENTITY)
    settings = load_settings(
        database_url=url,
        root_path="/default",
        identity_config=str(path),
        identity_trust_gateway=trust,
    )
    return closing(make_handler(settings))


def with_claims(event: dict[str, Any], claims: dict[str, Any], http: bool) -> dict[str, Any]:
    event["headers"].pop("x-api-key", None)
    event.pop("multiValueHeaders", None)
    authorizer = {"jwt": {"claims": claims, "scopes": None}} if http else {"claims": claims}
    event["requestContext"]["authorizer"] = authorizer
    return event


def test_lambda_maps_the_gateways_claims(database: str, tmp_path: Path) -> None:
    rest = with_claims(rest_event("/chargers"), REST_CLAIMS, http=False)
    http = with_claims(http_api_event("/chargers"), HTTP_CLAIMS, http=True)
    with handler_for(database, tmp_path, trust=True) as handler:
        for event in (rest, http):
            result = handler(event, Context())
            assert result["statusCode"] == 200, result
            body = orjson.loads(result["body"])
            ids = [c["id"] for c in body["chargers"]]
            assert (ids, body["total"]) == (["CH-003", "CH-004"], 2)
        hidden = with_claims(rest_event("/chargers/CH-001"), REST_CLAIMS, http=False)
        assert handler(hidden, Context())["statusCode"] == 404
        everything = {**REST_CLAIMS, "cognito:groups": "ops"}
        result = handler(with_claims(rest_event("/chargers"), everything, False), Context())
        assert orjson.loads(result["body"])["total"] == 16


def test_lambda_ignores_claims_unless_told_to_trust_the_gateway(
    database: str, tmp_path: Path
) -> None:
    event = with_claims(rest_event("/chargers"), REST_CLAIMS, http=False)
    with handler_for(database, tmp_path, trust=False) as handler:
        assert handler(event, Context())["statusCode"] == 401


def test_trusting_the_gateway_needs_an_identity_file() -> None:
    with pytest.raises(ConfigError, match="EVSHARE_IDENTITY_CONFIG"):
        make_handler(load_settings(identity_trust_gateway=True))
