"""API Gateway proxy events to ASGI requests, and ASGI responses back to proxy results.

Two event formats reach the function (AWS API Gateway developer guide, "Lambda proxy
integrations"): REST APIs and HTTP APIs with payload format 1.0 send `httpMethod`, `path`,
`multiValueHeaders` and `multiValueQueryStringParameters`; HTTP APIs with payload 2.0 send
`rawPath`, `rawQueryString` and `headers` in which repeated headers are comma-joined.

What each gives, and what is used:

- **The charger id.** REST APIs hand `path` over still percent-encoded, HTTP APIs decode it
  (`/chargers/slash%2Fid` arrives as `/chargers/slash/id`, which no router can split back). Both
  also give `pathParameters`, decoded, when the route names `{chargerId}` — the routes of
  `evshare aws openapi` do — so the id is taken from there and re-encoded into the path; a
  catch-all route (`/{proxy+}`, `$default`) falls back to the path.
- **The query.** REST APIs decode the values of `multiValueQueryStringParameters` (repeats kept
  in order); they are re-encoded. Payload 2.0's `rawQueryString` is the query as sent, repeats
  and `chargerIds[]` included, and is used as is.
- **The stage.** `rawPath` starts with `/STAGE` on a named stage (REST's `path` does not); it is
  removed, so routes match with or without EVSHARE_ROOT_PATH.
- **Gateway auth.** On a REST API that requires API keys, `requestContext.identity.apiKeyId`
  names the key API Gateway accepted; it is passed on in the ASGI scope's extensions for
  `auth=gateway` (see api/auth.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from evshare.api.asgi import Headers, Scope

GATEWAY_EXTENSION = "evshare.gateway"
# Characters a path may hold literally: an already encoded path passes through unchanged, a
# decoded one gets its spaces, non-ASCII and other unsafe characters encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_CHARGER_ROUTES = {
    "/chargers/{chargerId}": "",
    "/chargers/{chargerId}/sessions": "/sessions",
}


def is_http_api_v2(event: dict[str, Any]) -> bool:
    return event.get("version") == "2.0"


def _header_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _route_path(route: str | None, parameters: dict[str, Any] | None) -> str | None:
    """The path rebuilt from a `{chargerId}` route and its decoded parameter, if it is one."""
    if not route or not parameters or "chargerId" not in parameters:
        return None
    template = route.split(" ", 1)[-1]  # payload 2.0 route keys are "GET /chargers/{chargerId}"
    suffix = _CHARGER_ROUTES.get(template)
    if suffix is None:
        return None
    return "/chargers/" + quote(str(parameters["chargerId"]), safe="") + suffix


def _without_stage(path: str, stage: str | None) -> str:
    if stage and stage not in ("$default", "chargers") and path.startswith(f"/{stage}/"):
        return path[len(stage) + 1 :]
    return path


def _scope(
    method: str,
    path: str,
    query: str,
    headers: Headers,
    stage: str | None,
    extensions: dict[str, Any],
) -> Scope:
    raw_path = quote(path, safe=_PATH_SAFE)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": "https",
        "path": raw_path,
        "raw_path": raw_path.encode("ascii"),
        "query_string": query.encode("latin-1", "replace"),
        "root_path": "",
        "headers": headers,
        "client": None,
        "server": None,
        "extensions": {GATEWAY_EXTENSION: extensions, "aws.stage": stage},
    }


def rest_scope(event: dict[str, Any]) -> Scope:
    """Payload 1.0: a REST API, or an HTTP API set to payload format 1.0."""
    context = event.get("requestContext") or {}
    stage = context.get("stage")
    path = _route_path(event.get("resource"), event.get("pathParameters"))
    if path is None:
        path = _without_stage(event.get("path") or "/", stage)
    multi = event.get("multiValueQueryStringParameters")
    if multi:
        query = urlencode([(k, v) for k, vs in multi.items() for v in (vs or [])])
    else:
        query = urlencode(list((event.get("queryStringParameters") or {}).items()))
    headers: Headers = []
    multi_headers = event.get("multiValueHeaders")
    if multi_headers:
        for name, values in multi_headers.items():
            headers.extend((name.lower().encode(), _header_bytes(v)) for v in values or ())
    else:
        for name, value in (event.get("headers") or {}).items():
            headers.append((name.lower().encode(), _header_bytes(value)))
    identity = context.get("identity") or {}
    extensions = {"api_key_id": identity.get("apiKeyId")}
    return _scope(event.get("httpMethod", "GET"), path, query, headers, stage, extensions)


def http_api_scope(event: dict[str, Any]) -> Scope:
    """Payload 2.0: an HTTP API."""
    context = event.get("requestContext") or {}
    stage = context.get("stage")
    method = (context.get("http") or {}).get("method", "GET")
    path = _route_path(event.get("routeKey"), event.get("pathParameters"))
    if path is None:
        path = _without_stage(event.get("rawPath") or "/", stage)
    query = event.get("rawQueryString")
    if query is None:
        query = urlencode(list((event.get("queryStringParameters") or {}).items()))
    headers: Headers = [
        (name.lower().encode(), _header_bytes(value))
        for name, value in (event.get("headers") or {}).items()
    ]
    # HTTP APIs have no API keys: there is no key id to pass on.
    return _scope(method, path, query, headers, stage, {"api_key_id": None})


def to_scope(event: dict[str, Any]) -> Scope:
    scope = http_api_scope(event) if is_http_api_v2(event) else rest_scope(event)
    # The whole event under the key Mangum used (kept for code written against it), for what
    # reads the request context (an authorizer's verified claims, identity/gateway.py).
    scope["aws.event"] = event
    return scope


def to_result(event: dict[str, Any], status: int, headers: Headers, body: bytes) -> dict[str, Any]:
    """The proxy integration's answer: text bodies (evshare answers JSON or HTML, UTF-8)."""
    text = body.decode("utf-8")
    if is_http_api_v2(event):
        joined: dict[str, str] = {}
        for name, value in headers:
            key, text_value = name.decode("latin-1"), value.decode("latin-1")
            joined[key] = f"{joined[key]},{text_value}" if key in joined else text_value
        return {"statusCode": status, "headers": joined, "body": text, "isBase64Encoded": False}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        multi.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    return {
        "statusCode": status,
        "headers": {k: v[-1] for k, v in multi.items()},
        "multiValueHeaders": multi,
        "body": text,
        "isBase64Encoded": False,
    }
