"""UTC calendar periods of quotas: a day, a week from Monday 00:00, a month from the 1st 00:00."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from evshare.model import Period

DAY_S = 86_400


def bounds(period: Period, now: float) -> tuple[int, int]:
    """Epoch seconds of the start (inclusive) and end (exclusive) of the period holding `now`."""
    # floor(now / DAY_S), not now // DAY_S: the Lua twin in redis.py computes exactly this
    return _bounds(period, math.floor(now / DAY_S))


@lru_cache(maxsize=16)
def _bounds(period: Period, day_number: int) -> tuple[int, int]:
    day = date(1970, 1, 1) + timedelta(days=day_number)
    if period == "day":
        first, after = day, day + timedelta(days=1)
    elif period == "week":
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return _epoch(first), _epoch(after)


def _epoch(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp())
