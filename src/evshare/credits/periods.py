"""Compliance periods in a charger's local time, as UTC epoch ranges a database can match.

A session belongs to the period (and month) in which it starts, read on the charger's own
clock: a session starting at 23:30 on 31 December in Vancouver belongs to that year even though
it is already January in UTC. Each charger's year is cut into buckets - one per month, split
where a compliance period starts mid-month (CFR 2022 starts on 21 June) - whose bounds are
computed here once per charger with the IANA rules (DST included). The store then sums the
sessions per bucket, so no session ever comes back to Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from evshare.credits import parameters as params


@dataclass(frozen=True, slots=True)
class Bucket:
    period: str  # compliance period id
    month: str  # YYYY-MM, local
    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, exclusive


def _epoch(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def _months(first: date, after: date) -> list[tuple[date, date]]:
    out = []
    day = first
    while day < after:
        nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        out.append((day, min(nxt, after)))
        day = nxt
    return out


def period_ranges(program: params.Program, year: int) -> list[tuple[str, date, date]]:
    """The program's compliance periods that start in `year`: (id, first day, day after)."""
    if program == "cfr":
        return [(p.id, p.start, p.end) for p in params.cfr().periods_in_year(year)]
    return [(str(year), date(year, 1, 1), date(year + 1, 1, 1))]


def buckets(program: params.Program, year: int, zone: ZoneInfo) -> list[Bucket]:
    out = []
    for period, first, after in period_ranges(program, year):
        for lo, hi in _months(first, after):
            out.append(Bucket(period, f"{lo:%Y-%m}", _epoch(lo, zone), _epoch(hi, zone)))
    return out
