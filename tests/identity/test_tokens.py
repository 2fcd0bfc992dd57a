"""Bearer JWT verification against a local issuer over HTTPS: every way a token can be wrong,
and how the keys are fetched (and not fetched) when the issuer rotates, floods or goes down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from evshare.errors import Unauthorized, Unavailable
from evshare.identity.config import parse_identity_config
from evshare.identity.tokens import TokenVerifier
from tests.identity.issuer import LocalIssuer, identity_toml, new_ec, new_rsa

pytestmark = pytest.mark.anyio


class Clock:
    """A monotonic clock the test moves: key-cache timing without sleeping on a busy machine."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier_for(issuer: LocalIssuer, clock: Clock | None = None, **top: Any) -> TokenVerifier:
    text = identity_toml({"local": issuer}, **{"jwks_refresh_interval": 60.0, **top})
    config = parse_identity_config(text, "identity.toml")
    if clock is None:
        return TokenVerifier(config)
    return TokenVerifier(config, monotonic=clock)


@pytest.fixture
async def verifier(issuer: LocalIssuer) -> AsyncIterator[TokenVerifier]:
    made = verifier_for(issuer)
    await made.start()
    yield made
    await made.close()


async def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(token)
    return str(caught.value)


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
async def test_rs256_and_es256_tokens_verify(
    issuer: LocalIssuer, verifier: TokenVerifier, kid: str
) -> None:
    verified = await verifier.verify(issuer.token(kid=kid, chargers=["CH-1", "CH-2"]))
    assert verified.header["alg"] == ("RS256" if kid == "rsa-1" else "ES256")
    assert verified.grant.name == "local:user-1"
    assert verified.grant.charger_ids == {"CH-1", "CH-2"}


async def test_a_forged_signature_is_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    # Signed by another key under the issuer's key id.
    assert "Signature" in await refused(verifier, issuer.token(kid="rsa-1", key=new_rsa()))
    assert "Signature" in await refused(verifier, issuer.token(kid="ec-1", key=new_ec()))
    # A good token with its claims changed after signing.
    head, _, sig = issuer.token().split(".")
    other = issuer.token(sub="admin").split(".")[1]
    assert "Signature" in await refused(verifier, f"{head}.{other}.{sig}")


async def test_expired_not_yet_valid_and_issued_in_the_future_are_refused(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    now = int(time.time())
    assert "expired" in await refused(verifier, issuer.token(iat=now - 900, exp=now - 60))
    assert "nbf" in await refused(verifier, issuer.token(nbf=now + 300))
    assert "iat" in await refused(verifier, issuer.token(iat=now + 300))
    assert "exp" in await refused(verifier, issuer.token(exp=None))


async def test_the_leeway_allows_small_clock_skew(issuer: LocalIssuer) -> None:
    now = int(time.time())
    verifier = verifier_for(issuer, leeway=30.0)
    await verifier.verify(issuer.token(exp=now - 10, nbf=now + 10, iat=now + 10))
    assert "expired" in await refused(verifier, issuer.token(exp=now - 40))
    await verifier.close()


async def test_a_wrong_audience_or_issuer_is_refused(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    assert "aud" in await refused(verifier, issuer.token(aud="another-api"))
    assert "aud" in await refused(verifier, issuer.token(aud=None))
    await verifier.verify(issuer.token(aud=["another-api", issuer.audience]))
    assert "issuer" in await refused(verifier, issuer.token(iss="https://evil.example"))
    assert "issuer" in await refused(verifier, issuer.token(iss=issuer.url + "/"))
    assert issuer.jwks_hits == 1  # an unknown issuer costs no request at all


async def test_alg_none_and_hs256_with_the_public_key_are_refused(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    assert "alg 'none'" in await refused(verifier, issuer.unsigned("none"))
    assert "alg 'HS256'" in await refused(verifier, issuer.hs256_with_public_key())
    # An ES256 key presented as RS256 (key type confusion) does not verify either.
    token = issuer.token(kid="ec-1")
    assert "no RS256 key" in await refused(
        verifier, issuer.unsigned("RS256", kid="ec-1") + token.split(".")[2]
    )


async def test_a_flood_of_unknown_key_ids_fetches_at_most_once_per_interval(
    issuer: LocalIssuer,
) -> None:
    clock = Clock()
    verifier = verifier_for(issuer, clock, jwks_refresh_interval=30.0)
    stranger = new_rsa()
    tokens = [issuer.token(kid=f"made-up-{n}", key=stranger) for n in range(200)]
    await verifier.verify(issuer.token())
    assert issuer.jwks_hits == 1

    async def flood() -> None:
        results = await asyncio.gather(
            *(verifier.verify(t) for t in tokens), return_exceptions=True
        )
        assert all(isinstance(r, Unauthorized) for r in results), results[:3]

    await flood()
    assert issuer.jwks_hits == 1  # the keys were fetched less than an interval ago
    clock.now += 30
    await flood()
    assert issuer.jwks_hits == 2  # one refresh for 200 concurrent unknown key ids
    for _ in range(5):
        clock.now += 5
        await flood()
    assert issuer.jwks_hits == 2  # and none more within the interval
    clock.now += 5
    await flood()
    assert issuer.jwks_hits == 3
    await verifier.close()


async def test_key_rotation_at_the_issuer(issuer: LocalIssuer) -> None:
    verifier = verifier_for(issuer, jwks_refresh_interval=0.2)
    await verifier.verify(issuer.token(kid="rsa-1"))
    # The issuer publishes a new key and retires the old one.
    issuer.keys = {"rsa-2": new_rsa(), "ec-1": issuer.ec}
    await asyncio.sleep(0.25)
    verified = await verifier.verify(issuer.token(kid="rsa-2"))
    assert verified.header["kid"] == "rsa-2"
    assert issuer.jwks_hits == 2
    # The retired key no longer verifies new tokens once the set is refreshed.
    await asyncio.sleep(0.25)
    assert "no RS256 key 'rsa-1'" in await refused(
        verifier, issuer.token(kid="rsa-1", key=issuer.rsa)
    )
    await verifier.close()


async def test_discovery_finds_the_jwks(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    await verifier.verify(issuer.token())
    assert issuer.hits["/.well-known/openid-configuration"] == 1
    await verifier.verify(issuer.token(kid="ec-1"))
    assert issuer.hits["/.well-known/openid-configuration"] == 1


async def test_issuer_down_serves_stale_keys_within_the_bound_then_503(
    issuer: LocalIssuer,
) -> None:
    clock = Clock()
    verifier = verifier_for(
        issuer, clock, jwks_refresh_interval=10.0, jwks_max_age=100.0, jwks_stale_for=300.0
    )
    await verifier.verify(issuer.token())
    issuer.mode = "down"
    clock.now += 150  # past max age: a refetch is tried, fails, the old keys still serve
    await verifier.verify(issuer.token(sub="second"))
    assert verifier.keys["local"].last_error is not None
    assert issuer.jwks_hits == 2
    clock.now += 5  # within the interval: not even tried again
    await verifier.verify(issuer.token(sub="third"))
    assert issuer.jwks_hits == 2
    clock.now += 250  # past max age + stale bound: nothing trusted any more
    with pytest.raises(Unavailable) as caught:
        await verifier.verify(issuer.token(sub="fourth"))
    assert caught.value.retry_after >= 1
    issuer.mode = "up"
    clock.now += 10
    await verifier.verify(issuer.token(sub="fifth"))  # recovers on its own
    await verifier.close()


async def test_an_issuer_never_reached_is_503_and_not_hammered(issuer: LocalIssuer) -> None:
    issuer.mode = "down"
    verifier = verifier_for(issuer)
    for _ in range(20):
        with pytest.raises(Unavailable):
            await verifier.verify(issuer.token())
    assert sum(issuer.hits.values()) == 1
    await verifier.close()


async def test_an_issuer_that_refuses_connections_is_503(issuer: LocalIssuer) -> None:
    issuer.stop()
    verifier = verifier_for(issuer)
    with pytest.raises(Unavailable):
        await verifier.verify(issuer.token())
    await verifier.close()


async def test_verified_tokens_are_cached_until_they_expire(issuer: LocalIssuer) -> None:
    now = [time.time()]
    text = identity_toml({"local": issuer}, leeway=0.0)
    verifier = TokenVerifier(parse_identity_config(text, "f.toml"), clock=lambda: now[0])
    token = issuer.token(exp=int(now[0]) + 600)
    first = await verifier.grant(token)
    now[0] += 599
    assert await verifier.grant(token) is first  # remembered, not verified again
    now[0] += 2
    again = await verifier.grant(token)  # past its exp (by this clock): verified again
    assert again is not first
    assert again == first
    await verifier.close()


async def test_the_cache_is_bounded(issuer: LocalIssuer) -> None:
    verifier = verifier_for(issuer, cache_size=5)
    for n in range(12):
        await verifier.grant(issuer.token(sub=f"u{n}"))
    assert len(verifier._cache) <= 5
    await verifier.close()


async def test_garbage_is_refused_without_a_request(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    for token in ["", "abc", "a.b.c", "a.b", "e30.e30.", "😀.😀.😀"]:
        await refused(verifier, token)
    assert sum(issuer.hits.values()) == 0
