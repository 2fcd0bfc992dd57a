"""The IETF RateLimit-Policy and RateLimit header fields, in the form the contract shows:

RateLimit-Policy: "burst";q=20;w=2, "month";q=100000;w=2592000
RateLimit: "burst";r=19;t=1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit of a plan as the headers show it, all in whole units and seconds."""

    name: str  # "burst", or the quota's period
    quota: int  # q: capacity
    window: int  # w: seconds to go from empty to full
    remaining: int  # r
    reset: int  # t: seconds until full again


def rate_limit_headers(limits: Sequence[LimitState]) -> dict[str, str]:
    """Both header fields for `limits`; RateLimit reports the one with the least remaining,
    the later one (the quota) on a tie. No limits, no headers."""
    if not limits:
        return {}
    tightest = limits[0]
    for limit in limits[1:]:
        if limit.remaining <= tightest.remaining:
            tightest = limit
    return {
        "RateLimit-Policy": ", ".join(f'"{x.name}";q={x.quota};w={x.window}' for x in limits),
        "RateLimit": f'"{tightest.name}";r={tightest.remaining};t={tightest.reset}',
    }
