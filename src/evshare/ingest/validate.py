"""Turning a record into a Charger or a Session, or into the RowError that says why it cannot be.

A builder is made once per file (for its mapping, and the caller's hooks) and called per record;
it reports the first problem it finds, naming the field as the file names it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from evshare.ingest import fields
from evshare.ingest.fields import Invalid, localize, not_negative, text, utc_text, whole
from evshare.ingest.mapping import Mapping
from evshare.ingest.rows import RowError
from evshare.model import (
    CHARGER_FIELDS,
    MAX_ID_LENGTH,
    SESSION_FIELDS,
    Charger,
    Session,
    Wire,
)

CHARGER_REQUIRED = ("id", "name")
SESSION_REQUIRED = ("id", "chargerId", "energy", "startTime")

DUPLICATE = "duplicate id: an earlier record in this import has it"

_CACHED_CHARGERS = 1 << 16
_T = TypeVar("_T")


class KnownCharger(Protocol):
    """What reading a session needs to know about its charger (a model.Charger will do)."""

    @property
    def time_zone(self) -> str | None: ...


ChargerInfo = Callable[[str], KnownCharger | None]
"""Looks a charger up by id: None if there is no such charger. Called once per distinct id (up
to a bound), so a store query per call is fine."""

DuplicateHook = Callable[[str, int], bool]
"""Records an id read from this file at a line and answers whether it was recorded before (the
line lets a hook that checks later, a batch at a time, still name where the duplicate is)."""

ChargerBuilder = Callable[[int, dict[str, object]], Charger | RowError]
SessionBuilder = Callable[[int, dict[str, object]], Session | RowError]


class Chargers:
    """The caller's charger lookup, remembered, and the time zone of each charger's local time."""

    def __init__(self, lookup: ChargerInfo | None, fixed_zone: str | None) -> None:
        self._lookup = lookup
        self._known: dict[str, KnownCharger | None] = {}
        self._fixed = None if fixed_zone is None else fields.zone(fixed_zone)

    def check(self, charger_id: str) -> KnownCharger | None:
        """The charger; Invalid if the lookup says there is none; None if there is no lookup."""
        if self._lookup is None:
            return None
        try:
            charger = self._known[charger_id]
        except KeyError:
            if len(self._known) >= _CACHED_CHARGERS:
                self._known.clear()
            charger = self._known[charger_id] = self._lookup(charger_id)
        if charger is None:
            raise Invalid("unknown charger: import the chargers first")
        return charger

    def zone(self, charger_id: str, charger: KnownCharger | None) -> ZoneInfo:
        """The zone a local time at that charger is in, or Invalid if it is not known."""
        if self._fixed is not None:
            return self._fixed
        if charger is None:
            raise Invalid("a local time, and no time zone: set times.time_zone in the mapping")
        name = charger.time_zone
        if name is None:
            raise Invalid(
                f"a local time, and charger {charger_id!r} has no timeZone:"
                " set times.time_zone in the mapping"
            )
        found = fields.zone(name)
        if found is None:
            raise Invalid(f"a local time, and charger {charger_id!r} has an unknown timeZone")
        return found


def field_reader(spec: Wire, mapping: Mapping) -> Callable[[object], object]:
    """How a value of the field `spec` is read from a file read with `mapping`: its type, its
    unit as the mapping sets it, and its bounds; Invalid for a value it cannot take."""
    read: Callable[[object], object]
    if spec.type == "string":
        read = text
    elif spec.type == "time-zone":
        read = known_zone
    elif spec.type == "province":
        read = fields.province
    elif spec.type == "number":
        read = fields.scaled(mapping.factor(spec.contract))
    elif spec.type == "integer":
        read = whole
    elif spec.type == "date":
        read = fields.calendar_date(mapping.date_format)
    elif spec.type == "date-time":
        read = fields.timestamp(mapping.time_format)
    else:
        read = fields.duration(mapping.duration_unit)
    low, high = spec.minimum, spec.maximum
    if low is not None or high is not None:
        unbounded = read

        def read(value: object) -> object:
            return bounded(unbounded(value), low, high)

    if not spec.optional:
        loose = read

        def read(value: object) -> object:
            return required(loose(value))

    return read


def bounded(value: object, low: float | None, high: float | None) -> object:
    """`value` if it lies within [low, high] (None: no bound), else Invalid saying where not. A
    string's bound is on its length."""
    if isinstance(value, str):
        if high is not None and len(value) > high:
            raise Invalid(f"must be at most {high:g} characters long (this one has {len(value):,})")
        return value
    if not isinstance(value, int | float):
        return value
    if low is not None and high is not None:
        if not low <= value <= high:
            raise Invalid(f"out of range ({low:g} to {high:g})")
    elif low == 0 and value < 0:
        raise Invalid("must not be negative")
    elif low is not None and value < low:
        raise Invalid(f"must be at least {low:g}")
    elif high is not None and value > high:
        raise Invalid(f"must be at most {high:g}")
    return value


def charger_builder(
    source: str, mapping: Mapping, duplicate_id: DuplicateHook | None
) -> ChargerBuilder:
    """Reads every field of the field table (model.CHARGER_FIELDS), in its order."""
    column = {spec.attr: mapping.column(spec.contract) for spec in CHARGER_FIELDS}
    readers = [
        (spec.attr, column[spec.attr], field_reader(spec, mapping), spec.together_with)
        for spec in CHARGER_FIELDS
    ]
    k_id = column["id"]

    def build(line: int, record: dict[str, object]) -> Charger | RowError:
        get = record.get
        values: dict[str, Any] = {}
        key = k_id
        try:
            for attr, name, read, partner in readers:
                key = name
                values[attr] = value = read(get(name))
                if partner in values:
                    together(value, name, values[partner], column[partner])
            key = k_id
            unique(values["id"], line, duplicate_id)
        except Invalid as problem:
            key = problem.field or key
            return RowError(source, line, key, get(key), problem.reason, record)
        return Charger(**values)

    return build


def session_builder(
    source: str,
    mapping: Mapping,
    charger_info: ChargerInfo | None,
    duplicate_id: DuplicateHook | None,
) -> SessionBuilder:
    column = {spec.attr: mapping.column(spec.contract) for spec in SESSION_FIELDS}
    k_id, k_charger, k_energy = column["id"], column["charger_id"], column["energy_wh"]
    k_start, k_end, k_duration = (
        column["start_time"],
        column["end_time"],
        column["charging_duration_s"],
    )
    energy_wh = fields.scaled(mapping.energy_factor)
    moment = fields.timestamp(mapping.time_format)
    charging = fields.duration(mapping.duration_unit)
    chargers = Chargers(charger_info, mapping.time_zone)

    def build(line: int, record: dict[str, object]) -> Session | RowError:
        get = record.get
        key = k_id
        try:
            session_id = identifier(get(key))
            key = k_charger
            charger_id = identifier(get(key))
            charger = chargers.check(charger_id)
            key = k_energy
            energy = required(not_negative(energy_wh(get(key))))
            key = k_start
            start = required(moment(get(key)))
            if start.tzinfo is None:
                start = localize(start, chargers.zone(charger_id, charger))
            key = k_end
            end = moment(get(key))
            if end is not None and end.tzinfo is None:
                end = local_end(end, start, chargers.zone(charger_id, charger))
            if end is not None:
                not_before(end, start, k_start)
            key = k_duration
            duration = charging(get(key))
            if duration is not None and end is not None:
                within(duration, start, end)
            key = k_id
            unique(session_id, line, duplicate_id)
        except Invalid as problem:
            return RowError(source, line, key, get(key), problem.reason, record)
        return Session(session_id, charger_id, start, end, energy, duration)

    return build


def connector_count(value: object) -> int | None:
    count = whole(value)
    if count is not None and count < 1:
        raise Invalid("must be at least 1")
    return count


def known_zone(value: object) -> str | None:
    name = text(value)
    if name is not None and fields.zone(name) is None:
        raise Invalid("not a known IANA time zone")
    return name


def local_end(naive: datetime, start: datetime, where: ZoneInfo) -> datetime:
    """A local end time: of a time the clocks pass twice, the earlier, unless only the later
    is not before the start."""
    end = localize(naive, where)
    if end < start:
        later = localize(naive, where, later=True)
        if later >= start:
            return later
    return end


def not_before(end: datetime, start: datetime, start_name: str) -> None:
    if end < start:
        raise Invalid(f"before {start_name} ({utc_text(start)})")


def within(charging_seconds: int, start: datetime, end: datetime) -> None:
    span = int((end - start).total_seconds())
    if charging_seconds > span:
        raise Invalid(f"longer than the session ({span} s)")


def paired(value: float | None, other: float | None, other_name: str) -> None:
    if (value is None) != (other is None):
        raise Invalid(f"required with {other_name}")


def together(value: object, name: str, other: object, other_name: str) -> None:
    """Two fields that go together: Invalid, naming the one missing, if only one is given."""
    if value is None and other is not None:
        raise Invalid(f"required with {other_name}", field=name)
    if value is not None and other is None:
        raise Invalid(f"required with {name}", field=other_name)


def unique(record_id: str, line: int, duplicate_id: DuplicateHook | None) -> None:
    if duplicate_id is not None and duplicate_id(record_id, line):
        raise Invalid(DUPLICATE)


def identifier(value: object) -> str:
    """A required id (of a charger or a session): text of at most MAX_ID_LENGTH characters."""
    found = required(text(value))
    bounded(found, None, MAX_ID_LENGTH)
    return found


def required(value: _T | None) -> _T:
    if value is None:
        raise Invalid("required")
    return value
