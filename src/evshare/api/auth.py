"""Who is calling: the credential from `x-api-key` or `Authorization: Bearer`, verified."""

from __future__ import annotations

from datetime import UTC, datetime

from evshare import keys
from evshare.errors import Unauthorized
from evshare.model import Credential
from evshare.store.port import ReadStore

# What the app passes for a credential header that came more than once (compared by identity).
AMBIGUOUS = b"\x00ambiguous"


def presented_token(api_key: bytes | None, authorization: bytes | None) -> str | None:
    """The presented credential; `x-api-key` wins when both headers are sent (the contract's
    rule). Unauthorized when the header that counts was sent twice."""
    if api_key is not None:
        if api_key is AMBIGUOUS:
            raise Unauthorized("x-api-key sent more than once")
        return api_key.decode("latin-1").strip()
    if authorization is not None:
        if authorization is AMBIGUOUS:
            raise Unauthorized("Authorization sent more than once")
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
