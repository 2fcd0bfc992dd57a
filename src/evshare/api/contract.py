"""The EnergSync contract as served: the OpenAPI document for the running profile, and its docs.

The YAML beside this file is a verbatim copy of shared/spec/energsync-1.2.0.yaml (a test keeps
them equal). Profile 1.2.0 serves it as the contract says, with three changes that describe this
deployment rather than the contract: `servers` is the server's own base (relative, so it holds
whatever host, port or proxy the document was fetched through: `/`, or the root path such as
`/default`), the note pointing at "README.md beside this file" (which a caller does not have) is
dropped, and the error codes list `method_not_allowed`, which evshare answers too. Profile 1.0.7
serves it with /chargers answering a bare array and no paging, which is how that version behaved.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any, cast

import orjson

from evshare.config import Profile

SPEC_FILE = "energsync-1.2.0.yaml"


@cache
def _base() -> dict[str, Any]:
    import yaml  # here, not at the top: a Lambda cold start needs the spec only when served

    text = files("evshare.api").joinpath(SPEC_FILE).read_text(encoding="utf-8")
    return cast(dict[str, Any], yaml.safe_load(text))


_BESIDE = re.compile(r"\s*\(see README\.md beside this file\)")
_EXTRA_CODES = ("method_not_allowed",)


def _for_this_deployment(spec: dict[str, Any], root_path: str) -> None:
    # Relative to where /openapi.json was fetched from (OpenAPI 3.0, "Server Object"), so it is
    # right behind any host, port, proxy or API Gateway stage without trusting the Host header.
    spec["servers"] = [
        {
            "url": root_path or "/",
            "description": "This evshare server (relative to where this document was fetched).",
        }
    ]
    info = spec["info"]
    info["description"] = _BESIDE.sub("", info["description"])
    code = spec["components"]["schemas"]["Error"]["properties"]["code"]
    listed = code.get("description", "")
    missing = [c for c in _EXTRA_CODES if c not in listed]
    if missing and listed.endswith("internal."):
        code["description"] = listed.removesuffix("internal.") + ", ".join(missing) + ", internal."


def document(profile: Profile, root_path: str = "") -> dict[str, Any]:
    """The OpenAPI document for `profile` served under `root_path` (a fresh copy the caller may
    change)."""
    spec = copy.deepcopy(_base())
    _for_this_deployment(spec, root_path)
    if profile == "1.0.7":
        spec["info"]["version"] = "1.0.7"
        spec["info"]["x-evshare-profile"] = "1.0.7 compatibility: /chargers is not paged"
        get = spec["paths"]["/chargers"]["get"]
        get["parameters"] = [p for p in get["parameters"] if p["name"] not in ("page", "pageSize")]
        get["responses"]["200"]["description"] = "The chargers that match, as a bare array."
        get["responses"]["200"]["content"]["application/json"]["schema"] = {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Charger"},
        }
    return spec


def document_json(
    profile: Profile, root_path: str = "", issuers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """The served contract. With identities configured (`issuers`: alias and URL of each), it
    gains `jwtBearer`, a second bearer scheme for the issuers' JWTs, marked `x-evshare`; the
    contract's own `bearerAuth` (an API key sent as a bearer token) is left as it is. Without
    identities the document is the contract as-is."""
    spec = document(profile, root_path)
    if issuers:
        listed = ", ".join(f"{alias} ({url})" for alias, url in issuers)
        spec["components"]["securitySchemes"]["jwtBearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "`Authorization: Bearer <JWT>` issued by a trusted identity provider "
            f"(RS256 or ES256): {listed}. The token's claims decide which chargers it sees.",
            "x-evshare": True,
        }
        spec["security"] = [*spec.get("security", []), {"jwtBearer": []}]
    return orjson.dumps(spec)


def _markdown(text: str) -> str:
    """CommonMark to HTML, raw HTML in the text escaped (markdown-it ships with Rich)."""
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": False}).render(text))


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"array of {_schema_text(schema['items'])}"
    return str(schema.get("format") or schema.get("type", "object"))


def docs_html(profile: Profile, root_path: str) -> bytes:
    """A self-contained page (no scripts, no CDN) describing every operation."""
    spec = document(profile, root_path)
    e = html.escape
    md = _markdown
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(spec['info']['title'])} {e(spec['info']['version'])}</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}code,pre{background:#f4f4f4;padding:0 .2rem}table{border-collapse:"
        "collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}</style>",
        "</head><body>",
        f"<h1>{e(spec['info']['title'])} <small>{e(spec['info']['version'])}</small></h1>",
        md(spec["info"]["description"]),
        "<p>Authenticate with <code>x-api-key: KEY</code> or "
        "<code>Authorization: Bearer KEY</code>. The machine-readable contract is at "
        f"<a href='{e(root_path)}/openapi.json'><code>{e(root_path)}/openapi.json</code></a>.</p>",
    ]
    for path, item in spec["paths"].items():
        op = item["get"]
        parts.append(f"<h2><code>GET {e(root_path + path)}</code></h2><p>{e(op['summary'])}</p>")
        if "description" in op:
            parts.append(md(op["description"]))
        params = [
            spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
            for p in op.get("parameters", [])
        ]
        if params:
            parts.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>about</th></tr>")
            parts.extend(
                f"<tr><td><code>{e(p['name'])}</code></td><td>{e(p['in'])}</td>"
                f"<td>{e(_schema_text(p['schema']))}</td>"
                f"<td>{md(p.get('description', ''))}</td></tr>"
                for p in params
            )
            parts.append("</table>")
        parts.append("<ul>")
        for status, given in op["responses"].items():
            response = given
            if "$ref" in given:
                response = spec["components"]["responses"][given["$ref"].rsplit("/", 1)[-1]]
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            shape = f" — <code>{e(_schema_text(schema))}</code>" if schema else ""
            about = md(response["description"]).strip().removeprefix("<p>").removesuffix("</p>")
            parts.append(f"<li><b>{e(status)}</b> {about}{shape}</li>")
        parts.append("</ul>")
    parts.append("<h2>Schemas</h2>")
    for name, schema in spec["components"]["schemas"].items():
        required = set(schema.get("required", []))
        parts.append(f"<h3>{e(name)}</h3><table><tr><th>field</th><th>type</th><th>about</th></tr>")
        parts.extend(
            f"<tr><td><code>{e(field)}</code>{' (required)' if field in required else ''}</td>"
            f"<td>{e(_schema_text(prop))}</td><td>{md(prop.get('description', ''))}</td></tr>"
            for field, prop in schema.get("properties", {}).items()
        )
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts).encode()
