"""When and how long to wait before asking a provider again.

A 429 or 503 says when to come back: `Retry-After` (seconds or an HTTP date), or failing that
the IETF `RateLimit` field's `t` (seconds until the tightest limit refills) when its `r` is 0.
Timeouts, dropped connections, other 5xx and unparseable bodies get exponential backoff with
jitter. The waiting itself is stamina's (see http.py); this module only reads the answers.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

import httpx

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

_RATELIMIT_ITEM = re.compile(r"""\s*(?:"[^"]*"|[A-Za-z0-9_.-]+)((?:\s*;\s*[a-z]+=[^;,]*)*)""")


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` value (delta-seconds or an HTTP date); None if absent or
    unreadable. Negative waits count as 0."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def ratelimit_reset_seconds(value: str | None) -> float | None:
    """From an IETF `RateLimit` field (`"burst";r=0;t=5`): the `t` of an exhausted item (r=0),
    the largest if several are; None when nothing is exhausted or the field is unreadable."""
    if not value:
        return None
    waits: list[float] = []
    for item in value.split(","):
        match = _RATELIMIT_ITEM.match(item)
        if match is None:
            continue
        params = dict(
            part.strip().split("=", 1) for part in match[1].split(";") if "=" in part.strip()
        )
        remaining, reset = params.get("r"), params.get("t")
        if remaining is not None and reset is not None and remaining.strip() == "0":
            try:
                waits.append(max(0.0, float(reset)))
            except ValueError:
                continue
    return max(waits) if waits else None


def advised_wait(response: httpx.Response) -> float | None:
    """How long the provider asked us to wait before retrying, if it said."""
    wait = retry_after_seconds(response.headers.get("retry-after"))
    if wait is None:
        wait = ratelimit_reset_seconds(response.headers.get("ratelimit"))
    return wait
