"""Query parameters of the three operations: parsed strictly, each error naming the parameter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import unquote_to_bytes

from evshare.errors import InvalidParameter

INT64_MAX = 2**63 - 1
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10
_DIGITS = re.compile(r"[0-9]{1,19}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CHARGER_IDS = ("chargerIds", "chargerIds[]")


@dataclass(frozen=True, slots=True)
class ChargerQuery:
    ids: tuple[str, ...] | None  # None: no filter
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True, slots=True)
class SessionQuery:
    start: datetime | None  # inclusive
    end: datetime | None  # exclusive


def _decoded(text: str) -> str:
    return unquote_to_bytes(text.replace("+", " ").encode("latin-1")).decode("utf-8")


def parse_query(query_string: bytes) -> dict[str, list[str]]:
    """`name=value&...` as form-encoded (`+` is a space, %XX are UTF-8 bytes), blank values kept.

    Written out rather than urllib's parse_qsl: most queries need no decoding at all, and this
    runs on every request.
    """
    params: dict[str, list[str]] = {}
    if not query_string:
        return params
    text = query_string.decode("latin-1")
    plain = query_string.isascii() and "%" not in text and "+" not in text
    try:
        for pair in text.split("&"):
            if not pair:
                continue
            name, _, value = pair.partition("=")
            if not plain:
                name, value = _decoded(name), _decoded(value)
            params.setdefault(name, []).append(value)
    except UnicodeDecodeError:
        raise InvalidParameter(
            "query", "the query string is not valid UTF-8 once percent-decoded"
        ) from None
    return params


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if values is None:
        return None
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} is given {len(values)} times; give it once")
    return values[0]


def _integer(params: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = _single(params, name)
    if raw is None:
        return default
    if _DIGITS.fullmatch(raw) is None:
        if raw.startswith("-") and raw[1:].isdigit():
            raise InvalidParameter(name, f"{name} must be between {low} and {high}, not {raw}")
        raise InvalidParameter(
            name, f"{name} must be a whole number from {low} to {high}, not {raw!r}"
        )
    value = int(raw)
    if not low <= value <= high:
        raise InvalidParameter(name, f"{name} must be between {low} and {high}, not {raw}")
    return value


def charger_ids(params: dict[str, list[str]]) -> tuple[str, ...] | None:
    """Every accepted form — repeated keys, `chargerIds[]`, comma lists — in first-seen order,
    without duplicates; None when no form was given."""
    given = [v for name in _CHARGER_IDS for v in params.get(name, ())]
    if not any(name in params for name in _CHARGER_IDS):
        return None
    return tuple(dict.fromkeys(i for value in given for i in value.split(",") if i))


def charger_query(params: dict[str, list[str]], *, paged: bool) -> ChargerQuery:
    ids = charger_ids(params)
    if not paged:
        return ChargerQuery(ids=ids, page=1, page_size=0)
    return ChargerQuery(
        ids=ids,
        page=_integer(params, "page", 1, 1, INT64_MAX),
        page_size=_integer(params, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    )


def _day(params: dict[str, list[str]], name: str) -> date | None:
    raw = _single(params, name)
    if raw is None:
        return None
    problem = InvalidParameter(
        name, f"{name} must be a date as YYYY-MM-DD, e.g. {name}=2021-01-31, not {raw!r}"
    )
    if _DATE.fullmatch(raw) is None:
        raise problem
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise problem from None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def session_query(params: dict[str, list[str]]) -> SessionQuery:
    start, end = _day(params, "startDate"), _day(params, "endDate")
    if start is not None and end is not None and start > end:
        raise InvalidParameter(
            "startDate",
            f"startDate {start.isoformat()} is after endDate {end.isoformat()}; "
            "the range runs from startDate through endDate",
        )
    return SessionQuery(
        start=None if start is None else _midnight(start),
        # Through the end of endDate; the last day there is leaves no later start to exclude.
        end=None if end is None or end == date.max else _midnight(end + timedelta(days=1)),
    )
