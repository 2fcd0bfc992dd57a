"""Check a real response against the served contract: status documented, body valid against the
operation's schema (formats checked), and no field the contract does not define."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema

from evshare.api.contract import document


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = spec["components"][section][name]
    return node


def _no_extra_fields(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    schema = _resolve(spec, schema)
    if schema.get("type") == "array" and isinstance(value, list):
        for item in value:
            _no_extra_fields(spec, schema["items"], item)
    elif "properties" in schema and isinstance(value, dict):
        extra = set(value) - set(schema["properties"])
        assert not extra, f"fields not in the contract: {extra}"
        for name, item in value.items():
            _no_extra_fields(spec, schema["properties"][name], item)


def assert_conforms(
    response: httpx.Response, template: str, profile: str = "1.2.0"
) -> Any:  # the body as JSON: an object or an array, by operation
    spec = document(profile)  # type: ignore[arg-type]
    operation = spec["paths"][template]["get"]
    status = str(response.status_code)
    assert status in operation["responses"], f"{status} is not documented for {template}"
    declared = _resolve(spec, operation["responses"][status])
    assert response.headers["content-type"] == "application/json"
    schema = declared["content"]["application/json"]["schema"]
    body = response.json()
    jsonschema.validate(
        body,
        {**schema, "components": spec["components"]},
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )
    _no_extra_fields(spec, schema, body)
    for header in declared.get("headers", {}):
        if header == "Retry-After":
            assert response.headers[header].isdigit()
    return body
