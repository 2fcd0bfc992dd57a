"""Claims that API Gateway verified before invoking Lambda.

With a Cognito user-pool authorizer (REST API) the token's claims arrive as
`event["requestContext"]["authorizer"]["claims"]`; with a JWT authorizer (HTTP API, payload 1.0
or 2.0) as `event["requestContext"]["authorizer"]["jwt"]["claims"]`. Both give every value as a
string (arrays as "[a b]" or "a,b"), which `identity.claims.strings` reads. Only trusted when
the deployment sets EVSHARE_IDENTITY_TRUST_GATEWAY=true: a client cannot put anything in the
request context, but a function reachable another way (a function URL) must not trust it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def claims_of_event(event: Any) -> Mapping[str, Any] | None:
    """The authorizer's claims in a Lambda proxy `event`, or None when there are none."""
    if not isinstance(event, Mapping):
        return None
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    if not isinstance(authorizer, Mapping):
        return None
    jwt = authorizer.get("jwt")
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else authorizer.get("claims")
    if isinstance(claims, Mapping) and claims:
        return claims
    return None


GATEWAY_EXTENSION = "evshare.gateway"


def claims_in_scope(scope: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The authorizer's claims for an ASGI request built from a Lambda event: under
    `extensions["evshare.gateway"]["claims"]` (put there by the Lambda adapter), or in the
    whole event the adapter also keeps as `scope["aws.event"]`."""
    extensions = scope.get("extensions")
    if isinstance(extensions, Mapping):
        gateway = extensions.get(GATEWAY_EXTENSION)
        if isinstance(gateway, Mapping):
            claims = gateway.get("claims")
            if isinstance(claims, Mapping) and claims:
                return claims
    return claims_of_event(scope.get("aws.event"))
