"""Bearer JWTs: verified against the configured issuers' keys, mapped to a Grant, and cached.

The rules: the header's `alg` must be RS256 or ES256 and match the key's type (so `none`, and
HS256 "signed" with an issuer's public key, never verify); `iss` must name a configured issuer
exactly; `exp` is required and `nbf`/`iat` are checked when present, each with the configured
leeway; `aud` must name an accepted audience — or, for a Cognito access token (which has no
`aud`), `client_id` must — and Cognito's `token_use` must be accepted. Signatures are checked by
PyJWT with the `cryptography` backend, never by code of ours.

A token that verified is remembered until it expires (a bounded dict, oldest first out), so
the request path pays for a signature once per token rather than once per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from evshare.errors import Unauthorized
from evshare.identity.claims import Grant, check_audience, find_issuer, grant
from evshare.identity.config import IdentityConfig
from evshare.identity.jwks import ALGORITHMS, IssuerKeys, client_for

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verified:
    """A token that verified, with what `evshare identity check` shows about it."""

    grant: Grant
    header: dict[str, Any]
    claims: dict[str, Any]
    audience: str


class TokenVerifier:
    """Verifies bearer JWTs for every configured issuer. `start` opens the HTTPS clients (no
    request is sent until a token needs keys); `close` closes them."""

    def __init__(
        self,
        config: IdentityConfig,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._monotonic = monotonic
        self._clients: list[httpx.AsyncClient] = []
        self.keys: dict[str, IssuerKeys] = {}
        self._cache: dict[str, Grant] = {}
        self._cache_size = config.cache_size

    async def start(self) -> None:
        if self.keys:
            return
        for alias, issuer in self.config.issuers.items():
            client = client_for(issuer)
            self._clients.append(client)
            self.keys[alias] = IssuerKeys(issuer, self.config, client, clock=self._monotonic)

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        self.keys.clear()

    async def grant(self, token: str) -> Grant:
        """The Grant of a valid token; Unauthorized (or Unavailable) otherwise."""
        cached = self._cache.get(token)
        if cached is not None:
            if self._clock() < cached.expires_at:
                return cached
            del self._cache[token]
        verified = await self.verify(token)
        if len(self._cache) >= self._cache_size:
            self._evict()
        self._cache[token] = verified.grant
        return verified.grant

    def _evict(self) -> None:
        now = self._clock()
        for token in [t for t, g in self._cache.items() if g.expires_at <= now]:
            del self._cache[token]
        while len(self._cache) >= self._cache_size:
            del self._cache[next(iter(self._cache))]

    async def verify(self, token: str) -> Verified:
        """Verify `token` fully (no cache), saying why not with Unauthorized."""
        import jwt

        if not self.keys:
            await self.start()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"not a JWT: {exc}") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise Unauthorized(f"alg {alg!r} is not accepted (only {', '.join(ALGORITHMS)})")
        issuer = find_issuer(self.config, unverified.get("iss"))
        kid = header.get("kid")
        key = await self.keys[issuer.alias].key_for(kid if isinstance(kid, str) else None, alg)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[key.alg],
                issuer=issuer.url,
                leeway=self.config.leeway_of(issuer),
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"{type(exc).__name__}: {exc}") from None
        audience = check_audience(issuer, claims)
        return Verified(grant(issuer, claims, float(claims["exp"])), header, claims, audience)
