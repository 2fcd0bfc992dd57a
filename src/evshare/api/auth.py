"""Who is calling: the credential from `x-api-key` or `Authorization: Bearer`, verified."""

from __future__ import annotations

from datetime import UTC, datetime

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
