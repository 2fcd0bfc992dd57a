"""The contract as an OpenAPI document that API Gateway imports as a REST API.

Generated from the served contract (api/energsync-1.2.0.yaml), changed only where API Gateway's
import rules ("Amazon API Gateway important notes for REST APIs"; "Working with API Gateway
extensions to OpenAPI") require it:

- every `$ref` to components other than schemas (parameters, responses, headers) is written in
  place, and model names stay alphanumeric;
- the `http` (bearer) security scheme, which API Gateway does not import, is dropped: keys go in
  `x-api-key`, with `x-amazon-apigateway-api-key-source: HEADER`; with `auth="gateway"` every
  operation requires an API key, with `auth="evshare"` none does (evshare checks its own);
  `authorizer="cognito"` adds a Cognito user pool authorizer on the Authorization header;
- query parameter names other than letters, digits, `.`, `_` and `-` (`chargerIds[]`, which the
  guide met) are left out of the document — the function still accepts them;
- keys API Gateway rejects or drops in models and parameters (`example`, `examples`,
  `readOnly`, `writeOnly`, `discriminator`, `nullable`) and evshare's own `x-` notes are removed;
- each operation gets `x-amazon-apigateway-integration`: a Lambda proxy (`aws_proxy`, POST) to
  the function, when one is given;
- `x-amazon-apigateway-gateway-responses` give the answers API Gateway makes by itself (bad or
  missing key, throttle, quota, unknown route) the contract's error body with its `code`.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from evshare.api.contract import document
from evshare.config import Profile

Auth = Literal["gateway", "evshare"]
Authorizer = Literal["none", "cognito"]

_PARAMETER_NAME = re.compile(r"[A-Za-z0-9._-]+")
_MODEL_NAME = re.compile(r"[A-Za-z0-9]+")
_DROPPED_KEYS = {"example", "examples", "readOnly", "writeOnly", "discriminator", "nullable"}
_AMAZON = "x-amazon-apigateway-"
API_KEY_SCHEME = "api_key"
COGNITO_SCHEME = "cognito"


def _error_template(code: str) -> dict[str, str]:
    # $context.error.messageString is already a quoted JSON string.
    return {"application/json": '{"message":$context.error.messageString,"code":"' + code + '"}'}


GATEWAY_RESPONSES: dict[str, dict[str, Any]] = {
    # A missing or unknown key: the contract answers 401 where API Gateway says 403.
    "API_KEY_INVALID": {"statusCode": 401, "responseTemplates": _error_template("unauthorized")},
    "UNAUTHORIZED": {"statusCode": 401, "responseTemplates": _error_template("unauthorized")},
    "ACCESS_DENIED": {"statusCode": 401, "responseTemplates": _error_template("unauthorized")},
    # An unknown path or method: API Gateway says 403 "Missing Authentication Token".
    "MISSING_AUTHENTICATION_TOKEN": {
        "statusCode": 404,
        "responseTemplates": {"application/json": '{"message":"Not Found","code":"not_found"}'},
    },
    "THROTTLED": {"statusCode": 429, "responseTemplates": _error_template("throttled")},
    "QUOTA_EXCEEDED": {"statusCode": 429, "responseTemplates": _error_template("quota_exceeded")},
    "DEFAULT_4XX": {"responseTemplates": _error_template("invalid_request")},
    "DEFAULT_5XX": {"responseTemplates": _error_template("unavailable")},
}


def _resolve(node: Any, components: dict[str, Any]) -> Any:
    """`node` with every non-schema `$ref` replaced by what it names, and the dropped keys gone."""
    if isinstance(node, list):
        return [_resolve(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#/components/schemas/"):
        _, _, kind, name = ref.split("/", 3)
        return _resolve(copy.deepcopy(components[kind][name]), components)
    return {
        key: _resolve(value, components)
        for key, value in node.items()
        if key not in _DROPPED_KEYS and not (key.startswith("x-") and not key.startswith(_AMAZON))
    }


def integration(function_arn: Any) -> dict[str, Any]:
    """A Lambda proxy integration. `function_arn` is an ARN, or a CloudFormation expression."""
    if isinstance(function_arn, str):
        region = function_arn.split(":")[3]
        uri: Any = (
            f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
            f"{function_arn}/invocations"
        )
    else:
        uri = function_arn
    return {
        "type": "aws_proxy",
        "httpMethod": "POST",
        "uri": uri,
        "passthroughBehavior": "when_no_match",
        "contentHandling": "CONVERT_TO_TEXT",
    }


def importable(
    profile: Profile = "1.2.0",
    *,
    auth: Auth = "gateway",
    function_arn: Any = None,
    stage: str = "default",
    authorizer: Authorizer = "none",
    user_pool_arn: Any = None,
) -> dict[str, Any]:
    """The OpenAPI 3.0 document API Gateway imports: the contract's three operations."""
    spec = document(profile)
    components = spec.get("components", {})
    paths = _resolve(spec["paths"], components)
    schemas = _resolve(components.get("schemas", {}), components)
    for name in schemas:
        if _MODEL_NAME.fullmatch(name) is None:
            raise ValueError(f"model name {name!r} is not alphanumeric: API Gateway rejects it")
    security: list[dict[str, list[str]]] = []
    if auth == "gateway":
        security.append({API_KEY_SCHEME: []})
    if authorizer == "cognito":
        security = [{**entry, COGNITO_SCHEME: []} for entry in security] or [{COGNITO_SCHEME: []}]
    for item in paths.values():
        for operation in item.values():
            operation["parameters"] = [
                p
                for p in operation.get("parameters", [])
                if p.get("in") != "query" or _PARAMETER_NAME.fullmatch(p["name"])
            ]
            operation["security"] = security
            if function_arn is not None:
                operation["x-amazon-apigateway-integration"] = integration(function_arn)
    schemes: dict[str, Any] = {
        API_KEY_SCHEME: {"type": "apiKey", "name": "x-api-key", "in": "header"},
    }
    if authorizer == "cognito":
        schemes[COGNITO_SCHEME] = {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": {
                "type": "cognito_user_pools",
                "providerARNs": [user_pool_arn or "USER_POOL_ARN"],
            },
        }
    info = {k: v for k, v in spec["info"].items() if not k.startswith("x-")}
    info["title"] = "EnergSync API (evshare)"
    return {
        "openapi": "3.0.1",
        "info": info,
        "servers": [
            {
                "url": "https://{restApiId}.execute-api.{region}.amazonaws.com/{basePath}",
                "variables": {
                    "restApiId": {"default": "example"},
                    "region": {"default": "ca-central-1"},
                    "basePath": {"default": stage},
                },
            }
        ],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": schemes},
        "x-amazon-apigateway-api-key-source": "HEADER",
        "x-amazon-apigateway-gateway-responses": copy.deepcopy(GATEWAY_RESPONSES),
    }
