"""Each issuer's signing keys (its JWKS), fetched over HTTPS and kept in memory.

- Fetched on first need (never at import or start-up: a server starts while an issuer is down),
  by the `jwks_url` configured or the one the issuer's OpenID discovery document names.
- Fetched again when older than `max_age`, or when a token names a key id that is not in the
  set (the issuer rotated its keys) — but at most once per `refresh_interval` per issuer,
  whatever happens: a flood of tokens with made-up key ids costs the issuer one request per
  interval, and so does a dead issuer.
- Concurrent requests that need a fetch wait for the same one.
- While the issuer cannot be reached, the last keys fetched still verify for `stale_for`
  seconds past their `max_age`; after that (or with no keys ever fetched) verification is
  Unavailable (503 with Retry-After): the token may well be good, evshare just cannot tell.
- Only keys that can verify RS256 (RSA) and ES256 (EC P-256) are kept; symmetric (`oct`) keys,
  other curves and keys published for encryption are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from evshare.errors import Unauthorized, Unavailable
from evshare.identity.config import IdentityConfig, IssuerConfig

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")
_MAX_DOCUMENT = 1 << 20


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str | None
    alg: str  # RS256 or ES256
    key: Any  # a cryptography public key object


class FetchFailed(Exception):
    pass


def parse_jwks(document: Any) -> list[SigningKey]:
    """The usable signing keys of a JWKS document; FetchFailed if it is not one."""
    import jwt

    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise FetchFailed("not a JWKS document (no 'keys' list)")
    found = []
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kty, crv, alg = entry.get("kty"), entry.get("crv"), entry.get("alg")
        if kty == "RSA":
            wanted = "RS256"
        elif kty == "EC" and crv == "P-256":
            wanted = "ES256"
        else:
            continue
        if alg is not None and alg != wanted:
            continue
        try:
            key = jwt.PyJWK(entry, wanted).key
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            log.warning("JWKS key %r ignored: %s", entry.get("kid"), exc)
            continue
        kid = entry.get("kid")
        found.append(SigningKey(kid if isinstance(kid, str) else None, wanted, key))
    return found


class IssuerKeys:
    """The cached JWKS of one issuer (see the module docstring for the policy)."""

    def __init__(
        self,
        issuer: IssuerConfig,
        config: IdentityConfig,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._client = client
        self._interval = config.jwks_refresh_interval
        self._max_age = config.jwks_max_age
        self._stale_for = config.jwks_stale_for
        self._timeout = config.jwks_timeout
        self._clock = clock
        self._keys: list[SigningKey] | None = None
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._attempts = 0
        self._jwks_url = issuer.jwks_url
        self._lock = asyncio.Lock()
        self.fetches = 0  # requests actually sent to the issuer (for tests and `identity check`)
        self.last_error: str | None = None

    async def key_for(self, kid: str | None, alg: str) -> SigningKey:
        """The key that signed a token with header `kid`/`alg`. Unauthorized if the issuer
        publishes no such key; Unavailable if its keys cannot be had."""
        keys = await self._usable()
        found = _pick(keys, kid, alg)
        if found is None and self._may_fetch():
            await self._refresh(f"unknown key id {kid!r}")
            found = _pick(await self._usable(), kid, alg)
        if found is None:
            raise Unauthorized(f"issuer {self.issuer.alias!r} publishes no {alg} key {kid!r}")
        return found

    def _may_fetch(self) -> bool:
        return self._clock() - self._attempted_at >= self._interval

    async def _usable(self) -> list[SigningKey]:
        now = self._clock()
        if (self._keys is None or now - self._fetched_at >= self._max_age) and self._may_fetch():
            await self._refresh("no keys yet" if self._keys is None else "keys past max age")
            now = self._clock()
        if self._keys is None:
            raise Unavailable(
                f"issuer {self.issuer.alias!r}: no signing keys ({self.last_error})",
                retry_after=self._retry_after(now),
            )
        if now - self._fetched_at > self._max_age + self._stale_for:
            raise Unavailable(
                f"issuer {self.issuer.alias!r}: keys too old to trust ({self.last_error})",
                retry_after=self._retry_after(now),
            )
        return self._keys

    def _retry_after(self, now: float) -> int:
        return max(1, math.ceil(self._attempted_at + self._interval - now))

    async def _refresh(self, reason: str) -> None:
        attempts = self._attempts
        async with self._lock:
            if self._attempts != attempts or not self._may_fetch():
                return  # another request fetched while this one waited
            self._attempts += 1
            self._attempted_at = self._clock()
            try:
                keys = await self._fetch()
            except (FetchFailed, httpx.HTTPError, ssl.SSLError, OSError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.warning(
                    "identity issuer %r: cannot fetch its keys (%s): %s; %s",
                    self.issuer.alias,
                    reason,
                    self.last_error,
                    "keeping the last ones" if self._keys is not None else "no keys yet",
                )
                return
            self._keys = keys
            self._fetched_at = self._clock()
            self.last_error = None
            log.info(
                "identity issuer %r: %d signing key(s) fetched (%s)",
                self.issuer.alias,
                len(keys),
                reason,
            )

    async def _get_json(self, url: str) -> Any:
        self.fetches += 1
        response = await self._client.get(url, timeout=self._timeout)
        if response.status_code != 200:
            raise FetchFailed(f"{url} answered {response.status_code}")
        if len(response.content) > _MAX_DOCUMENT:
            raise FetchFailed(f"{url} sent more than {_MAX_DOCUMENT} bytes")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise FetchFailed(f"{url} did not send JSON") from None

    async def _fetch(self) -> list[SigningKey]:
        if self._jwks_url is None:
            discovery = await self._get_json(self.issuer.discovery_url)
            if not isinstance(discovery, dict) or discovery.get("issuer") != self.issuer.url:
                raise FetchFailed(
                    f"{self.issuer.discovery_url} names another issuer; set jwks_url instead"
                )
            uri = discovery.get("jwks_uri")
            if not isinstance(uri, str) or not uri.startswith("https://"):
                raise FetchFailed(f"{self.issuer.discovery_url} names no https jwks_uri")
            self._jwks_url = uri
        return parse_jwks(await self._get_json(self._jwks_url))


def _pick(keys: list[SigningKey], kid: str | None, alg: str) -> SigningKey | None:
    if kid is None:
        # A token without a key id can only be verified when there is one candidate.
        fitting = [k for k in keys if k.alg == alg]
        return fitting[0] if len(fitting) == 1 else None
    for key in keys:
        if key.kid == kid and key.alg == alg:
            return key
    return None


def client_for(issuer: IssuerConfig) -> httpx.AsyncClient:
    """An HTTPS client for one issuer: the system's trust store, or the issuer's own CA file."""
    verify: ssl.SSLContext | bool = True
    if issuer.ca_file is not None:
        verify = ssl.create_default_context(cafile=str(issuer.ca_file))
    return httpx.AsyncClient(verify=verify, follow_redirects=False)
