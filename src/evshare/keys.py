"""API key lifecycle: minting, hashing, verifying, rotating. No HTTP and no storage here.

A key looks like `evs_<lookup>_<secret>`: `lookup` is a public random id that finds the stored
record with one indexed read; the whole token is hashed with SHA-256 and compared in constant
time. Keys carry 256 bits of randomness, so a fast hash is the right one: there is nothing to
brute-force, and a slow password hash would cost every request milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from evshare.errors import KeyManagementError, NoSuchKey
from evshare.model import ApiKey, Credential
from evshare.store.port import KeyStore

PREFIX = "evs_"
_LOOKUP_LEN = 12
_TOKEN = re.compile(r"evs_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class NewSecret:
    token: str  # shown to the operator once, never stored
    lookup_id: str
    secret_hash: bytes


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def mint() -> NewSecret:
    lookup_id = secrets.token_hex(_LOOKUP_LEN // 2)
    token = f"{PREFIX}{lookup_id}_{secrets.token_urlsafe(32)}"
    return NewSecret(token=token, lookup_id=lookup_id, secret_hash=hash_token(token))


def lookup_id_of(token: str) -> str | None:
    """The lookup id of a well-formed token, or None for anything else."""
    if _TOKEN.fullmatch(token) is None:
        return None
    return token[len(PREFIX) : len(PREFIX) + _LOOKUP_LEN]


def accepts(credential: Credential, token: str, now: datetime) -> bool:
    """Whether `credential` accepts `token` at `now`."""
    matches = hmac.compare_digest(credential.secret_hash, hash_token(token))
    live = not credential.revoked and (credential.not_after is None or now < credential.not_after)
    return matches and live


def check_name(name: str) -> str:
    if _NAME.fullmatch(name) is None:
        raise KeyManagementError(
            f"invalid key name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


async def create(
    store: KeyStore,
    name: str,
    *,
    now: datetime,
    charger_ids: Iterable[str] | None = None,
    all_chargers: bool = False,
    expires_at: datetime | None = None,
    plan: str | None = None,
) -> str:
    """Store a new key and return its token; the token is never retrievable again."""
    ids = frozenset(i.strip() for i in (charger_ids or ()) if i.strip())
    if all_chargers == bool(ids):
        raise KeyManagementError("give the key either some charger ids or all chargers, not both")
    if expires_at is not None and expires_at <= now:
        raise KeyManagementError(f"the expiry {expires_at.isoformat()} is already past")
    key = ApiKey(
        name=check_name(name),
        all_chargers=all_chargers,
        created_at=now,
        charger_ids=ids,
        expires_at=expires_at,
        plan=plan,
    )
    new = mint()
    await store.create_key(key, new.lookup_id, new.secret_hash)
    return new.token


async def rotate(store: KeyStore, name: str, *, now: datetime, grace: timedelta) -> str:
    """Give the key a new secret; its older secrets stop working after `grace` (0: at once)."""
    if grace < timedelta(0):
        raise KeyManagementError("the grace period cannot be negative")
    key = await store.get_key(name)
    if key is None:
        raise NoSuchKey(name)
    if key.revoked_at is not None:
        raise KeyManagementError(f"the key {name!r} is revoked; create a new key instead")
    new = mint()
    await store.add_secret(name, new.lookup_id, new.secret_hash, retire_others_at=now + grace)
    return new.token
