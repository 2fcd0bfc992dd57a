"""From a verified token's claims to what its holder may see and which plan it is on.

Pure logic, shared by bearer tokens that evshare verifies itself and by the claims that API
Gateway's Cognito / JWT authorizer passes to Lambda after verifying the token there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evshare.errors import Unauthorized
from evshare.identity.config import IdentityConfig, IssuerConfig

_SAFE = re.compile(r"[^A-Za-z0-9._@|+=-]")
_SUBJECT_MAX = 128


@dataclass(frozen=True, slots=True)
class Grant:
    """What one identity may do. `name` (alias:subject) is what logs show; `account` is what the
    limiter and the usage counts count under (the name, or alias#group when limiting by group).
    Key names cannot hold ':' or '#', so neither can collide with an evshare key."""

    issuer: str
    subject: str
    name: str
    account: str
    plan: str | None
    all_chargers: bool
    charger_ids: frozenset[str]
    borrowed_key: str | None
    expires_at: float  # epoch seconds; inf when unknown (gateway claims)
    reasons: tuple[str, ...] = field(default=(), compare=False)


def safe_subject(subject: str) -> str:
    """`subject` as it may appear in a log line or a usage row: no spaces, controls or
    separators (each such character is %XX-escaped), at most 128 characters."""
    escaped = _SAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), subject)
    return escaped[:_SUBJECT_MAX]


def strings(value: Any) -> list[str]:
    """A claim holding several names: a JSON array, or one string of names separated by commas
    or spaces — including "[a b]", the form API Gateway's HTTP API gives arrays in."""
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return [part for part in re.split(r"[,\s]+", text) if part]
    return []


def find_issuer(config: IdentityConfig, iss: Any) -> IssuerConfig:
    if isinstance(iss, str):
        for issuer in config.issuers.values():
            if issuer.url == iss:
                return issuer
    raise Unauthorized("the token's issuer is not configured")


def check_audience(issuer: IssuerConfig, claims: Mapping[str, Any]) -> str:
    """Unauthorized unless the token is meant for us; says which claim matched."""
    if issuer.kind == "cognito":
        use = claims.get("token_use")
        if use not in issuer.token_use:
            raise Unauthorized(f"token_use {use!r} is not accepted (accepted: {issuer.token_use})")
        if use == "access":
            client = claims.get("client_id")
            if client not in issuer.audiences:
                raise Unauthorized(f"client_id {client!r} is not among the audiences")
            return f"client_id {client!r} is an accepted audience (a Cognito access token)"
    aud = claims.get("aud")
    given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    matched = [a for a in given if a in issuer.audiences]
    if not matched:
        raise Unauthorized(f"aud {aud!r} names none of the audiences {issuer.audiences}")
    return f"aud {matched[0]!r} is an accepted audience"


def grant(issuer: IssuerConfig, claims: Mapping[str, Any], expires_at: float) -> Grant:
    """Map verified `claims` of `issuer` to a Grant. Unauthorized without a string `sub`."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("the token has no subject (sub)")
    reasons: list[str] = []
    ids: set[str] = set()
    all_chargers = False
    plan = issuer.plan
    plan_from = f"issuer {issuer.alias!r}" if plan else "the default plan"
    group_account: str | None = None
    if issuer.chargers_claim is not None:
        listed = strings(claims.get(issuer.chargers_claim))
        ids.update(listed)
        reasons.append(f"claim {issuer.chargers_claim!r} lists {len(listed)} charger id(s)")
    groups_claim = issuer.groups_claim_name
    if groups_claim is not None:
        held = strings(claims.get(groups_claim))
        matched = [g for g in issuer.groups if g in held]  # the file's order decides
        reasons.append(
            f"claim {groups_claim!r} holds {held or 'no groups'}; mapped: {matched or 'none'}"
        )
        for name in matched:
            group = issuer.groups[name]
            if group.chargers == "all":
                all_chargers = True
                reasons.append(f"group {name!r} sees every charger")
            else:
                ids.update(group.chargers)
                reasons.append(f"group {name!r} adds {len(group.chargers)} charger id(s)")
            if group.plan is not None and not plan_from.startswith("group"):
                plan, plan_from = group.plan, f"group {name!r}"  # the first group's plan wins
        if issuer.limit_by == "group" and matched:
            group_account = f"{issuer.alias}#{safe_subject(matched[0])}"
    borrowed: str | None = None
    if issuer.key_claim is not None:
        value = claims.get(issuer.key_claim)
        if isinstance(value, str) and value.strip():
            borrowed = value.strip()
            reasons.append(f"claim {issuer.key_claim!r} borrows the scope of key {borrowed!r}")
        else:
            reasons.append(f"claim {issuer.key_claim!r} names no key")
    reasons.append(f"plan: {plan or 'the default plan'} (from {plan_from})")
    name = f"{issuer.alias}:{safe_subject(subject)}"
    account = group_account or name
    if group_account is not None:
        reasons.append(f"limits and usage counted for the group, as {account!r}")
    return Grant(
        issuer=issuer.alias,
        subject=subject,
        name=name,
        account=account,
        plan=plan,
        all_chargers=all_chargers,
        charger_ids=frozenset() if all_chargers else frozenset(ids),
        borrowed_key=None if all_chargers else borrowed,
        expires_at=expires_at,
        reasons=tuple(reasons),
    )


def grant_from_gateway(config: IdentityConfig, claims: Mapping[str, Any]) -> Grant:
    """The Grant for claims that API Gateway's authorizer has already verified (signature and
    times): `requestContext.authorizer.claims` (REST API, Cognito user-pool authorizer) or
    `requestContext.authorizer.jwt.claims` (HTTP API, JWT authorizer). The issuer must be
    configured, and audience and token_use are checked here too; values may be strings."""
    issuer = find_issuer(config, claims.get("iss"))
    check_audience(issuer, claims)
    return grant(issuer, claims, float("inf"))
