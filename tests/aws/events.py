"""API Gateway proxy events built as AWS documents them (API Gateway developer guide: "Input
format of a Lambda function for proxy integration" for REST APIs, payload 1.0; "Create AWS
Lambda proxy integrations for HTTP APIs", payload 2.0), from an HTTP request as a client sends it.

The transformations are API Gateway's, as documented and observed: REST APIs pass `path` still
percent-encoded and decode query values into `multiValueQueryStringParameters` (and
`queryStringParameters`, last value wins); HTTP APIs decode `rawPath` (with the stage in front on
a named stage), keep `rawQueryString` as sent and comma-join repeated keys and headers. Both
decode `pathParameters` when the route names one.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

API_ID = "a1b2c3d4e5"
ACCOUNT = "123456789012"
HOST = f"{API_ID}.execute-api.ca-central-1.amazonaws.com"
_ROUTES = [
    (re.compile(r"^/chargers$"), "/chargers"),
    (re.compile(r"^/chargers/([^/]+)$"), "/chargers/{chargerId}"),
    (re.compile(r"^/chargers/([^/]+)/sessions$"), "/chargers/{chargerId}/sessions"),
]


def _route(encoded_path: str, proxy: bool) -> tuple[str, dict[str, str] | None]:
    """The resource (route) API Gateway matches, and its decoded path parameters."""
    if not proxy:
        for pattern, resource in _ROUTES:
            match = pattern.match(encoded_path)
            if match:
                params = {"chargerId": unquote(match[1])} if match.groups() else None
                return resource, params
    return "/{proxy+}", {"proxy": unquote(encoded_path.lstrip("/"))}


def rest_event(
    url: str,
    headers: list[tuple[str, str]] | None = None,
    *,
    method: str = "GET",
    stage: str = "default",
    proxy: bool = False,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    """A REST API (payload 1.0) event for `method url` (a path with its query, as sent)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    resource, path_parameters = _route(path, proxy)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    multi_headers: dict[str, list[str]] = {}
    for name, value in [("Host", HOST), *(headers or [])]:
        multi_headers.setdefault(name, []).append(value)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": HOST,
            "domainPrefix": API_ID,
            "extendedRequestId": "request-id",
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "apiKey": dict(headers or []).get("x-api-key"),
                "apiKeyId": api_key_id,
                "caller": None,
                "sourceIp": "192.0.2.1",
                "user": None,
                "userAgent": "curl/8.5.0",
                "userArn": None,
            },
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": "01/Dec/2026:22:00:00 +0000",
            "requestTimeEpoch": 1796162400000,
            "resourceId": "abc123",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": None,
        "isBase64Encoded": False,
    }


def http_api_event(
    url: str,
    headers: list[tuple[str, str]] | None = None,
    *,
    method: str = "GET",
    stage: str = "default",
    proxy: bool = False,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for `method url`."""
    parts = urlsplit(url)
    path = parts.path or "/"
    resource, path_parameters = _route(path, proxy)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    joined_headers: dict[str, str] = {}
    for name, value in [("host", HOST), *(headers or [])]:
        key = name.lower()
        joined_headers[key] = f"{joined_headers[key]},{value}" if key in joined_headers else value
    prefix = "" if stage == "$default" else f"/{stage}"
    decoded_path = prefix + unquote(path)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default" if proxy else f"{method} {resource}",
        "rawPath": decoded_path,
        "rawQueryString": parts.query,
        "headers": joined_headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": HOST,
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": decoded_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default" if proxy else f"{method} {resource}",
            "stage": stage,
            "time": "01/Dec/2026:22:00:00 +0000",
            "timeEpoch": 1796162400000,
        },
        "isBase64Encoded": False,
    }
    if joined:
        event["queryStringParameters"] = joined
    if path_parameters and not proxy:
        event["pathParameters"] = path_parameters
    return event


class Context:
    """The few attributes of Lambda's context object a handler may read."""

    function_name = "evshare"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
