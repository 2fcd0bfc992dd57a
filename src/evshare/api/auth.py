"""Who is calling: an evshare API key (`x-api-key`, or `Authorization: Bearer evs_...`) or, when
identities are configured, a bearer JWT from a trusted issuer — turned into a `Caller`.

The app asks one `Authenticator` once per request. The contract's header rules live here:
`x-api-key` wins when both headers are sent; the same credential header twice is ambiguous and
refused (401) without trying either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from evshare import keys
from evshare.errors import Unauthorized
from evshare.model import Credential, Visibility
from evshare.store.port import ReadStore

if TYPE_CHECKING:
    from evshare.config import Settings
    from evshare.identity.claims import Grant
    from evshare.identity.tokens import TokenVerifier
    from evshare.store import Store

# What the app passes for a credential header that came more than once (compared by identity).
AMBIGUOUS = b"\x00ambiguous"
_BORROWED_TTL_S = 5.0
_BORROWED_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller. `name` is what the access log shows (a key name, or an
    identity's issuer alias and subject — never a secret); `account` is what usage plans limit
    and count; `visibility` is the store's scope; `only`, when not None, narrows it further to
    these charger ids (identities), which the app applies before asking the store."""

    name: str
    account: str
    plan: str | None
    visibility: Visibility
    only: frozenset[str] | None = None


class Authenticator(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def authenticate(
        self, scope: Mapping[str, Any], api_key: bytes | None, authorization: bytes | None
    ) -> Caller:
        """The caller presenting these headers (None: absent; AMBIGUOUS: sent twice), or
        Unauthorized — the same for every failure, so a caller learns nothing about which
        credentials exist. `scope` is the ASGI scope (for claims a gateway verified)."""
        ...


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


def key_caller(credential: Credential) -> Caller:
    name = credential.key_name
    return Caller(name, name, credential.plan, Visibility(name, credential.all_chargers))


class KeyAuthenticator:
    """evshare's own API keys only: what runs when no identities are configured."""

    def __init__(self, store: Callable[[], ReadStore]) -> None:
        self._store = store

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def authenticate(
        self, scope: Mapping[str, Any], api_key: bytes | None, authorization: bytes | None
    ) -> Caller:
        del scope  # keys come in headers only
        token = presented_token(api_key, authorization)
        return key_caller(await authenticate(self._store(), token))


class IdentityAuthenticator:
    """API keys as above, and bearer JWTs from the configured issuers (a bearer credential that
    starts with `evs_` is a key; anything else is a token). With `trust_gateway` (on Lambda
    behind an API Gateway authorizer that verified the token), the claims the gateway passes in
    the request context are mapped the same way, without verifying the token again."""

    def __init__(
        self,
        store: Callable[[], Store],
        verifier: TokenVerifier,
        *,
        trust_gateway: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.verifier = verifier
        self._trust_gateway = trust_gateway
        self._clock = clock
        self._callers: dict[int, tuple[Grant, Caller]] = {}  # by id(grant), checked by identity
        self._borrowed: dict[str, tuple[float, bool, frozenset[str] | None]] = {}

    async def start(self) -> None:
        """Refuse to start when the identity file names a plan that does not exist."""
        config = self.verifier.config
        named = config.plans()
        if named:
            from evshare.errors import ConfigError
            from evshare.model import UNLIMITED_PLAN

            known = {plan.name for plan in await self._store().list_plans()} | {UNLIMITED_PLAN}
            for where, plan in named:
                if plan not in known:
                    raise ConfigError(
                        f"{config.source}: {where}: there is no plan named {plan!r}; create "
                        f"it with `evshare plans create {plan} ...` or name another"
                    )
        await self.verifier.start()

    async def close(self) -> None:
        await self.verifier.close()

    async def authenticate(
        self, scope: Mapping[str, Any], api_key: bytes | None, authorization: bytes | None
    ) -> Caller:
        if self._trust_gateway:
            from evshare.identity.claims import grant_from_gateway
            from evshare.identity.gateway import claims_in_scope

            claims = claims_in_scope(scope)
            if claims is not None:
                grant = grant_from_gateway(self.verifier.config, claims)  # new for each event
                return await self.caller(grant, remember=False)
        token = presented_token(api_key, authorization)
        if token is None or api_key is not None or token.startswith(keys.PREFIX):
            return key_caller(await authenticate(self._store(), token))
        return await self.caller(await self.verifier.grant(token))

    async def caller(self, grant: Grant, *, remember: bool = True) -> Caller:
        """The Caller for `grant`: built once per grant (`remember`), except when it borrows a
        key's scope, which is looked up again every few seconds so that a revoked key soon
        stops lending."""
        known = self._callers.get(id(grant))
        if known is not None and known[0] is grant:
            return known[1]
        if grant.all_chargers:
            made = Caller(grant.name, grant.account, grant.plan, Visibility(grant.name, True))
        elif grant.borrowed_key is None:
            made = Caller(
                grant.name,
                grant.account,
                grant.plan,
                Visibility(grant.name, True),
                grant.charger_ids,
            )
        else:
            all_chargers, ids = await self._borrowed_scope(grant.borrowed_key)
            if all_chargers:
                return Caller(grant.name, grant.account, grant.plan, Visibility(grant.name, True))
            only = grant.charger_ids | (ids or frozenset())
            return Caller(grant.name, grant.account, grant.plan, Visibility(grant.name, True), only)
        if remember:
            if len(self._callers) >= _BORROWED_MAX:
                self._callers.clear()
            self._callers[id(grant)] = (grant, made)
        return made

    async def _borrowed_scope(self, name: str) -> tuple[bool, frozenset[str] | None]:
        now = self._clock()
        cached = self._borrowed.get(name)
        if cached is not None and now < cached[0]:
            return cached[1], cached[2]
        key = await self._store().get_key(name)
        all_chargers, ids = False, frozenset[str]()
        live = (
            key is not None
            and key.revoked_at is None
            and (key.expires_at is None or key.expires_at.timestamp() > time.time())
        )
        if key is not None and live:
            all_chargers, ids = key.all_chargers, key.charger_ids
        if len(self._borrowed) >= _BORROWED_MAX:
            self._borrowed.clear()
        self._borrowed[name] = (now + _BORROWED_TTL_S, all_chargers, ids)
        return all_chargers, ids


def build_authenticator(settings: Settings, store: Callable[[], Store]) -> Authenticator:
    """Keys only, or keys and identities when EVSHARE_IDENTITY_CONFIG names an identity file
    (read and checked here: a bad file stops the server from starting, naming the fault)."""
    if settings.identity_config is None:
        if settings.identity_trust_gateway:
            from evshare.errors import ConfigError

            raise ConfigError(
                "EVSHARE_IDENTITY_TRUST_GATEWAY needs EVSHARE_IDENTITY_CONFIG: the claims the "
                "gateway passes are mapped by the issuers configured there"
            )
        return KeyAuthenticator(store)
    from evshare.identity.config import load_identity_config
    from evshare.identity.tokens import TokenVerifier

    config = load_identity_config(settings.identity_config)
    return IdentityAuthenticator(
        store, TokenVerifier(config), trust_gateway=settings.identity_trust_gateway
    )


def bearer_issuers(authenticator: Authenticator) -> list[tuple[str, str]]:
    """(alias, issuer URL) of each configured issuer, for the served contract."""
    if isinstance(authenticator, IdentityAuthenticator):
        config = authenticator.verifier.config
        return [(alias, issuer.url) for alias, issuer in config.issuers.items()]
    return []


GATEWAY_LOOKUP_PREFIX = "apigw:"
"""Lookup ids of the secrets `evshare aws keys sync` links to API Gateway keys: the prefix and
the API Gateway key id. No minted token has a lookup id of that shape."""


async def authenticate_gateway(
    store: ReadStore, scope: Mapping[str, Any], api_key: bytes | None
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
