"""Reading one field's value: text, numbers, durations, dates and timestamps.

A value comes from JSON (str, int, float, bool, None, list, dict) or CSV (always str). Every
reader returns None for a missing value (None, or a string that is empty once stripped) and
raises Invalid, whose message is the reason, for anything else it cannot take. Timestamps come
out as aware UTC datetimes in whole seconds, except that a timestamp without an offset comes out
naive, for the caller to place in a time zone with `localize`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

RFC3339 = "rfc3339"
ISO8601 = "iso8601"
EPOCH = "epoch"
TIME_KEYWORDS = (RFC3339, ISO8601, EPOCH)

HMS = "HH:MM:SS"

_RFC3339_REASON = "not an RFC 3339 timestamp with an offset (e.g. 2024-05-01T12:00:00Z)"
_ISO8601_REASON = "not an ISO 8601 date and time (e.g. 2024-05-01T12:00:00)"
_HMS_REASON = "not a duration as H:MM:SS"
_DURATION_UNITS = {"s": 1, "min": 60, "h": 3600}
_fromisoformat = datetime.fromisoformat
_N = TypeVar("_N", int, float)
_LARGEST = 1e300  # beyond any real quantity; keeps int→float conversion from overflowing
_LARGEST_WHOLE = 2**53  # integers a float and every store's integer column hold exactly


class Invalid(Exception):
    """A value a field cannot take; `reason` says why, for the person fixing the file. `field`
    names the field at fault when it is not the one being read."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def text(value: object) -> str | None:
    """A string, stripped; a JSON integer is taken as its decimal digits (numeric ids)."""
    if type(value) is str:
        if "\x00" in value:
            # PostgreSQL text cannot hold it, and no real id or name has one.
            raise Invalid("must not contain a NUL character")
        return value.strip() or None
    if value is None:
        return None
    if type(value) is int:
        return str(value)
    raise Invalid("must be a string")


def number(value: object) -> float | None:
    """A finite number, from a JSON number or its text."""
    if isinstance(value, float):
        result = value
    elif isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return None
        try:
            result = float(stripped)
        except ValueError:
            raise Invalid("not a number") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        if not -_LARGEST <= value <= _LARGEST:
            raise Invalid("too large")
        result = float(value)
    elif value is None:
        return None
    else:
        raise Invalid("not a number")
    if not math.isfinite(result):
        raise Invalid("must be a finite number")
    return result


def scaled(factor: float) -> Callable[[object], float | None]:
    """A reader of numbers in a unit `factor` times the base unit (kWh → Wh: 1000)."""
    if factor == 1:
        return number

    def read(value: object) -> float | None:
        result = number(value)
        # Rounding to a millionth of the base unit keeps 1.234 kWh at 1234 Wh, not 1234.0000000002.
        return None if result is None else round(result * factor, 6)

    return read


def whole(value: object) -> int | None:
    """An integer, from a JSON number or its text; 2.0 is 2, 2.5 is not an integer."""
    result = number(value)
    if result is None:
        return None
    if not result.is_integer():
        raise Invalid("not a whole number")
    if abs(result) > _LARGEST_WHOLE:
        raise Invalid("too large")
    return int(result)


def not_negative(value: _N | None) -> _N | None:
    if value is not None and value < 0:
        raise Invalid("must not be negative")
    return value


def in_range(value: float | None, limit: float) -> float | None:
    if value is not None and not -limit <= value <= limit:
        raise Invalid(f"out of range (-{limit:g} to {limit:g})")
    return value


def duration(unit: str) -> Callable[[object], int | None]:
    """A reader of non-negative durations in `unit` (seconds per unit, or HMS) as whole seconds,
    rounded half up: unit conversions land near, not on, whole seconds (0.1 h = 359.99... s)."""
    if unit == HMS:
        return _hms
    factor = _DURATION_UNITS[unit]

    def read(value: object) -> int | None:
        if type(value) is int and factor == 1 and 0 <= value <= _LARGEST_WHOLE:
            return value
        result = not_negative(number(value))
        if result is None:
            return None
        if result * factor > _LARGEST_WHOLE:
            raise Invalid("too large")
        return math.floor(result * factor + 0.5)

    return read


def _hms(value: object) -> int | None:
    stripped = _stripped(value, _HMS_REASON)
    if stripped is None:
        return None
    parts = stripped.split(":")
    if len(parts) != 3 or not stripped.isascii():
        raise Invalid(_HMS_REASON)
    hours, minutes, seconds = parts
    whole_seconds, dot, fraction = seconds.partition(".")
    if not (
        hours.isdigit()
        and minutes.isdigit()
        and whole_seconds.isdigit()
        and (fraction.isdigit() or not dot)
        and len(minutes) == len(whole_seconds) == 2
        and int(minutes) < 60
        and int(whole_seconds) < 60
        and len(hours) < 10
    ):
        raise Invalid(_HMS_REASON)
    total = int(hours) * 3600 + int(minutes) * 60 + int(whole_seconds)
    return total + (1 if dot and fraction[0] >= "5" else 0)


def timestamp(time_format: str) -> Callable[[object], datetime | None]:
    """A reader of timestamps in `time_format`: RFC3339, ISO8601, EPOCH or a strptime pattern.
    Aware results are UTC in whole seconds; naive ones (no offset in the value) are left naive."""
    if time_format == RFC3339:
        return _rfc3339
    if time_format == ISO8601:
        return _iso8601
    if time_format == EPOCH:
        return _epoch

    def read(value: object) -> datetime | None:
        stripped = _stripped(value, f"must be text matching {time_format!r}")
        if stripped is None:
            return None
        try:
            moment = datetime.strptime(stripped, time_format)  # noqa: DTZ007 -- may be local
        except ValueError:
            raise Invalid(f"does not match {time_format!r}") from None
        return _whole_seconds(moment)

    return read


def _rfc3339(value: object) -> datetime | None:
    if type(value) is str and _rfc3339_shape(value):
        try:
            moment = _fromisoformat(value)
        except ValueError:
            moment = _parse_iso(value, _RFC3339_REASON)
        if moment.tzinfo is UTC and not moment.microsecond:
            return moment
        return _whole_seconds(moment)
    stripped = _stripped(value, _RFC3339_REASON)
    if stripped is None:
        return None
    if stripped == value or not _rfc3339_shape(stripped):
        raise Invalid(_RFC3339_REASON)
    return _rfc3339(stripped)


def _rfc3339_shape(value: str) -> bool:
    """Whether `value` is laid out as RFC 3339 says; fromisoformat then checks the digits (and
    would take other ISO 8601 layouts too)."""
    return (
        len(value) >= 20
        and value[10] in "Tt "
        and value[4] == value[7] == "-"
        and value[13] == value[16] == ":"
        and (value[-1] in "Zz" or (value[-3] == ":" and value[-6] in "+-"))
    )


def _iso8601(value: object) -> datetime | None:
    stripped = _stripped(value, _ISO8601_REASON)
    if stripped is None:
        return None
    if len(stripped) <= 10:
        raise Invalid(_ISO8601_REASON)  # a date alone: when in the day is unknown
    return _whole_seconds(_parse_iso(stripped, _ISO8601_REASON))


def _epoch(value: object) -> datetime | None:
    seconds = number(value)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(math.floor(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        raise Invalid("out of range for a timestamp") from None


def _parse_iso(stripped: str, reason: str) -> datetime:
    try:
        return _fromisoformat(stripped)
    except ValueError:
        pass
    try:  # RFC 3339 allows a lower-case t and z, which fromisoformat does not
        return _fromisoformat(stripped.upper())
    except ValueError:
        raise Invalid(reason) from None


def _whole_seconds(moment: datetime) -> datetime:
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise Invalid("out of range for a timestamp") from None
    if moment.microsecond:
        moment = moment.replace(microsecond=0)
    return moment


def calendar_date(date_format: str | None) -> Callable[[object], date | None]:
    """A reader of dates: YYYY-MM-DD when `date_format` is None, else that strptime pattern."""

    def read(value: object) -> date | None:
        stripped = _stripped(value, "not a date")
        if stripped is None:
            return None
        try:
            if date_format is not None:
                return datetime.strptime(stripped, date_format).date()  # noqa: DTZ007 -- a date
            if len(stripped) == 10 and stripped[4] == "-" and stripped[7] == "-":
                return date.fromisoformat(stripped)
        except ValueError:
            pass
        raise Invalid(
            f"not a date as {date_format!r}" if date_format else "not a date (YYYY-MM-DD)"
        )

    return read


def _stripped(value: object, reason: str) -> str | None:
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    raise Invalid(reason)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo | None:
    """The IANA time zone of that name, or None if there is none."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return None


def localize(naive: datetime, where: ZoneInfo, *, later: bool = False) -> datetime:
    """The UTC moment a local wall-clock time in `where` names.

    A time the clocks skip when daylight saving time begins names no moment: Invalid. A time
    they pass twice when it ends names two; the earlier is taken unless `later` is true.
    """
    try:
        moment = naive.replace(tzinfo=where, fold=int(later)).astimezone(UTC)
        exists = moment.astimezone(where).replace(tzinfo=None) == naive
    except OverflowError:
        raise Invalid("out of range for a timestamp") from None
    if not exists:
        raise Invalid(
            f"does not exist in {where.key}: the clocks skip it when daylight saving time begins"
        )
    return moment


def utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
