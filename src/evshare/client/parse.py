"""Turning what providers actually send into evshare's value objects, tolerantly.

Real providers differ from the contract in small ways: a 1.0.7 bare array where 1.2.0 wraps the
list, numbers sent as strings, optional fields missing or `null`, timestamps with offsets or
fractions of a second. None of that loses data, so it is accepted. What cannot be read (a
session without an id or a start time, a body that is not JSON) is a `BadResponse` naming the
request and the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from evshare.client.errors import BadResponse
from evshare.model import CHARGER_FIELDS, Charger, Session

_LIST_MEMBERS = ("chargers", "data", "items", "results")


@dataclass(frozen=True, slots=True)
class ChargerPage:
    """One answer of GET /chargers: its chargers, the `total` it claims (None for a bare
    array, or a wrapper without one) and whether it was a bare array."""

    chargers: list[Charger]
    total: int | None
    bare: bool


def load_json(body: bytes, url: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadResponse(f"{url}: the body is not JSON ({exc})", url=url) from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else round(number)


def _day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime in whole seconds (no offset: UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(microsecond=0) if moment.microsecond else moment


_READ: dict[str, Callable[[Any], Any]] = {  # by the field table's type
    "string": _text,
    "time-zone": _text,
    "number": _number,
    "integer": _integer,
    "date": _day,
    "date-time": parse_time,
    "duration": _integer,
}


def parse_charger(item: Any, url: str) -> Charger:
    """Every field of the field table (model.CHARGER_FIELDS), read by its type."""
    if not isinstance(item, Mapping):
        raise BadResponse(f"{url}: a charger is not a JSON object: {item!r:.80}", url=url)
    charger_id = _text(item.get("id"))
    if not charger_id:
        raise BadResponse(f"{url}: a charger has no id: {dict(item)!r:.120}", url=url)
    values: dict[str, Any] = {
        spec.attr: _READ[spec.type](item.get(spec.contract)) for spec in CHARGER_FIELDS
    }
    values.update(id=charger_id, name=values["name"] or "")
    return Charger(**values)


def charger_list(body: Any, url: str) -> tuple[list[Any], int | None, bool]:
    """The raw items of a charger list (bare or wrapped), the claimed total, and bareness."""
    if isinstance(body, list):
        return body, None, True
    if isinstance(body, Mapping):
        for member in _LIST_MEMBERS:
            items = body.get(member)
            if isinstance(items, list):
                total = body.get("total")
                claimed = total if isinstance(total, int) and not isinstance(total, bool) else None
                return items, claimed, False
    raise BadResponse(
        f"{url}: expected a list of chargers or {{'chargers': [...], 'total': N}}, "
        f"got {type(body).__name__}",
        url=url,
    )


def parse_charger_page(body: Any, url: str) -> ChargerPage:
    items, total, bare = charger_list(body, url)
    return ChargerPage([parse_charger(item, url) for item in items], total, bare)


_UTC_STAMP = 20  # len("2017-07-21T17:32:28Z")
_from_iso = datetime.fromisoformat


def _fast_session(item: dict[str, Any], prefix: str, local_charger: str | None) -> Session | None:
    """A session exactly as the contract writes it (UTC `Z` stamps in whole seconds, numbers as
    numbers), or None to take the tolerant path. The collector's hot path: a few type tests and
    two C-level parses per session."""
    sid = item.get("id")
    start = item.get("startTime")
    end = item.get("endTime")
    energy = item.get("energy")
    duration = item.get("chargingDuration")
    charger = local_charger or item.get("chargerId")
    if (
        type(sid) is not str
        or not sid
        or type(start) is not str
        or len(start) != _UTC_STAMP
        or start[19] != "Z"
        or type(end) is not str
        or len(end) != _UTC_STAMP
        or end[19] != "Z"
        or type(energy) not in (int, float)
        or (duration is not None and type(duration) is not int)
        or type(charger) is not str
    ):
        return None
    try:
        began, ended = _from_iso(start), _from_iso(end)
    except ValueError:
        return None
    return Session(prefix + sid, charger, began, ended, float(energy), duration)  # type: ignore[arg-type]


def parse_sessions(
    body: Any, charger_id: str, url: str, *, prefix: str = "", local_charger: str | None = None
) -> list[Session]:
    """A sessions answer: a bare array (the contract), or one wrapped in `sessions`/`data`.

    With `prefix`, each session's id is prefixed and its charger is `local_charger` (the ids
    `evshare collect` stores)."""
    if isinstance(body, Mapping):
        for member in ("sessions", "data", "items", "results"):
            if isinstance(body.get(member), list):
                body = body[member]
                break
    if not isinstance(body, list):
        raise BadResponse(
            f"{url}: expected a JSON array of sessions, got {type(body).__name__}", url=url
        )
    sessions = []
    fast = _fast_session
    for item in body:
        if type(item) is dict:
            session = fast(item, prefix, local_charger)
            if session is not None:
                sessions.append(session)
                continue
        if not isinstance(item, Mapping):
            raise BadResponse(f"{url}: a session is not a JSON object: {item!r:.80}", url=url)
        session_id = _text(item.get("id"))
        start = parse_time(item.get("startTime"))
        energy = _number(item.get("energy"))
        if not session_id or start is None or energy is None:
            missing = [
                name
                for name, value in (("id", session_id), ("startTime", start), ("energy", energy))
                if not value and value != 0
            ]
            raise BadResponse(
                f"{url}: a session lacks a readable {', '.join(missing)}: {dict(item)!r:.160}",
                url=url,
            )
        sessions.append(
            Session(
                id=prefix + session_id,
                charger_id=local_charger or _text(item.get("chargerId")) or charger_id,
                start_time=start,
                end_time=parse_time(item.get("endTime")),
                energy_wh=energy,
                charging_duration_s=_integer(item.get("chargingDuration")),
            )
        )
    return sessions
