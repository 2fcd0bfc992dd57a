"""Key minting, hashing and verification as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evshare import keys
from evshare.errors import KeyManagementError
from evshare.model import Credential


def credential_for(
    token: str, *, revoked: bool = False, not_after: int | None = None
) -> Credential:
    end = None if not_after is None else datetime.fromtimestamp(not_after, UTC)
    return Credential("k", keys.hash_token(token), True, end, revoked)


def test_a_minted_key_is_well_formed_and_only_its_hash_is_kept() -> None:
    new = keys.mint()
    assert keys.lookup_id_of(new.token) == new.lookup_id
    assert new.secret_hash == keys.hash_token(new.token)
    assert new.token.encode() not in new.secret_hash
    assert keys.mint().token != new.token


@pytest.mark.parametrize(
    "token",
    [
        "",
        "evs_",
        "evs_0123456789ab",
        "evs_0123456789AB_" + "a" * 43,
        "xyz_0123456789ab_" + "a" * 43,
        "evs_0123456789ab_" + "a" * 42,
    ],
)
def test_malformed_tokens_have_no_lookup_id(token: str) -> None:
    assert keys.lookup_id_of(token) is None


def test_accepts_only_the_same_live_token() -> None:
    token = keys.mint().token
    now = datetime.fromtimestamp(100, UTC)
    assert keys.accepts(credential_for(token), token, now=now)
    assert not keys.accepts(credential_for(token), keys.mint().token, now=now)
    assert not keys.accepts(credential_for(token, revoked=True), token, now=now)
    assert keys.accepts(credential_for(token, not_after=101), token, now=now)
    assert not keys.accepts(credential_for(token, not_after=100), token, now=now)


@pytest.mark.parametrize("name", ["a", "rewatt", "site-A.1_x", "A" * 64])
def test_valid_key_names(name: str) -> None:
    assert keys.check_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "has space", "A" * 65, "é", "a/b"])
def test_invalid_key_names(name: str) -> None:
    with pytest.raises(KeyManagementError, match="invalid key name"):
        keys.check_name(name)


class NoStore:
    async def get_key(self, _name: str) -> None:
        return None


@pytest.mark.anyio
async def test_rotation_refuses_a_negative_grace_or_an_unknown_key() -> None:
    now = datetime.now(UTC)
    with pytest.raises(KeyManagementError, match="negative"):
        await keys.rotate(NoStore(), "k", now=now, grace=timedelta(seconds=-1))  # type: ignore[arg-type]
    with pytest.raises(KeyManagementError, match="no key named 'k'"):
        await keys.rotate(NoStore(), "k", now=now, grace=timedelta(0))  # type: ignore[arg-type]
