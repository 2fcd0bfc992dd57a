"""Validating answers against the bundled contract with jsonschema.

OpenAPI 3.0 schemas are a JSON Schema dialect; each operation's schema is validated with the
contract's `components` beside it so that `$ref`s resolve. `date` and `date-time` are checked
as RFC 3339 here (jsonschema checks `date-time` only with an optional extra package).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from typing import Any

import jsonschema

from evshare.api.contract import document
from evshare.config import Profile

_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@FORMATS.checks("date")
def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@cache
def spec(profile: Profile) -> dict[str, Any]:
    return document(profile)


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = doc["components"][section][name]
    return node


def response_schema(profile: Profile, template: str, status: int) -> dict[str, Any] | None:
    """The schema of `status`'s JSON body for GET `template`, or None if undocumented."""
    doc = spec(profile)
    responses = doc["paths"][template]["get"]["responses"]
    declared = responses.get(str(status))
    if declared is None:
        return None
    content = _resolve(doc, declared).get("content", {}).get("application/json")
    return None if content is None else dict(content["schema"])


def component(profile: Profile, name: str) -> dict[str, Any]:
    return dict(spec(profile)["components"]["schemas"][name])


@cache
def _validator(profile: Profile, key: str) -> jsonschema.Draft7Validator:
    import orjson

    schema = orjson.loads(key)
    return jsonschema.Draft7Validator(
        {**schema, "components": spec(profile)["components"]}, format_checker=FORMATS
    )


def problems(profile: Profile, schema: dict[str, Any], value: Any) -> list[str]:
    """Every way `value` breaks `schema`, as `path: message` lines (empty: it conforms)."""
    import orjson

    validator = _validator(profile, orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode())
    found = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path))):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        if error.validator == "type":
            message = f"{_short(error.instance)} is not of type {error.validator_value!r}"
        else:
            message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
        found.append(f"{where or '(body)'}: {message}")
    return found


def _short(value: Any) -> str:
    if isinstance(value, list):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def extra_fields(profile: Profile, schema: dict[str, Any], value: Any) -> set[str]:
    """Names in `value` (objects, or arrays of them) that the contract does not define."""
    doc = spec(profile)
    node = _resolve(doc, schema)
    found: set[str] = set()
    if node.get("type") == "array" and isinstance(value, list):
        for item in value:
            found |= extra_fields(profile, node["items"], item)
    elif "properties" in node and isinstance(value, dict):
        found |= set(value) - set(node["properties"])
        for name, item in value.items():
            if name in node["properties"]:
                found |= extra_fields(profile, node["properties"][name], item)
    return found
