"""Who is calling: the credential from `x-api-key` or `Authorization: Bearer`, verified."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

from evshare import keys
from evshare.errors import Unauthorized
from evshare.model import Credential
from evshare.store.port import ReadStore


def presented_token(api_key: bytes | None, authorization: bytes | None) -> str | None:
    """The presented key; `x-api-key` wins when both headers are sent (the contract's rule)."""
    if api_key is not None:
        return api_key.decode("latin-1").strip()
    if authorization is not None:
        scheme, _, token = authorization.decode("latin-1").strip().partition(" ")
        if scheme.lower() == "bearer":
            return token.strip()
    return None


async def authenticate(store: ReadStore, token: str | None) -> Credential:
    """The credential that accepts `token` now, or Unauthorized — the same for every failure,
    so a caller learns nothing about which keys exist."""
    if token is None:
        raise Unauthorized("no credential")
    lookup_id = keys.lookup_id_of(token)
    if lookup_id is None:
        raise Unauthorized("malformed credential")
    credential = await store.find_credential(lookup_id)
    if credential is None or not keys.accepts(credential, token, datetime.now(UTC)):
        raise Unauthorized("unknown, revoked or expired credential")
    return credential


GATEWAY_LOOKUP_PREFIX = "apigw:"
"""Lookup ids of the secrets `evshare aws keys sync` links to API Gateway keys: the prefix and
the API Gateway key id. No minted token has a lookup id of that shape."""


async def authenticate_gateway(
    store: ReadStore, scope: MutableMapping[str, Any], api_key: bytes | None
) -> Credential:
    """With auth=gateway: API Gateway has checked the request's API key itself and names it by
    id in the request context (passed on by aws/events.py); only API Gateway can invoke the
    function (its resource policy). That id finds the evshare key `evshare aws keys sync`
    linked it to, and so the scope and plan. The evshare key must still be live: a revoked or
    expired one is refused at once, even before the next sync removes its API Gateway key."""
    extension = (scope.get("extensions") or {}).get("evshare.gateway") or {}
    key_id = extension.get("api_key_id")
    if not key_id or api_key is None:
        raise Unauthorized("no API Gateway key in the request context")
    credential = await store.find_credential(GATEWAY_LOOKUP_PREFIX + str(key_id))
    now = datetime.now(UTC)
    if (
        credential is None
        or credential.revoked
        or (credential.not_after is not None and now >= credential.not_after)
    ):
        raise Unauthorized("API Gateway key not synced, or its evshare key revoked or expired")
    return credential
