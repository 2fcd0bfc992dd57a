"""Turning a record into a Charger or a Session, or into the RowError that says why it cannot be.

A builder is made once per file (for its mapping, and the caller's hooks) and called per record;
it reports the first problem it finds, naming the field as the file names it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from evshare.ingest import fields
from evshare.ingest.fields import Invalid, localize, not_negative, number, text, utc_text, whole
from evshare.ingest.mapping import CHARGER_FIELDS, SESSION_FIELDS, Mapping
from evshare.ingest.rows import RowError
from evshare.model import Charger, Session

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


def charger_builder(
    source: str, mapping: Mapping, duplicate_id: DuplicateHook | None
) -> ChargerBuilder:
    (
        k_id,
        k_name,
        k_serial,
        k_model,
        k_manufacturer,
        k_power,
        k_current,
        k_voltage,
        k_connectors,
        k_zone,
        k_latitude,
        k_longitude,
        k_commissioned,
    ) = map(mapping.column, CHARGER_FIELDS)
    power = fields.scaled(mapping.power_factor)
    commissioned = fields.calendar_date(mapping.date_format)

    def build(line: int, record: dict[str, object]) -> Charger | RowError:
        get = record.get
        key = k_id
        try:
            charger_id = required(text(get(key)))
            key = k_name
            name = required(text(get(key)))
            key = k_serial
            serial_number = text(get(key))
            key = k_model
            model = text(get(key))
            key = k_manufacturer
            manufacturer = text(get(key))
            key = k_power
            max_output_power = not_negative(power(get(key)))
            key = k_current
            max_available_current = not_negative(number(get(key)))
            key = k_voltage
            output_voltage = not_negative(number(get(key)))
            key = k_connectors
            connectors = connector_count(get(key))
            key = k_zone
            time_zone = known_zone(get(key))
            key = k_latitude
            latitude = fields.in_range(number(get(key)), 90)
            key = k_longitude
            longitude = fields.in_range(number(get(key)), 180)
            key = k_latitude if latitude is None else k_longitude
            paired(latitude, longitude, k_longitude if latitude is None else k_latitude)
            key = k_commissioned
            commissioning_date = commissioned(get(key))
            key = k_id
            unique(charger_id, line, duplicate_id)
        except Invalid as problem:
            return RowError(source, line, key, get(key), problem.reason, record)
        return Charger(
            id=charger_id,
            name=name,
            serial_number=serial_number,
            model=model,
            manufacturer=manufacturer,
            max_output_power_w=max_output_power,
            max_available_current_a=max_available_current,
            output_voltage_v=output_voltage,
            number_of_connectors=connectors,
            time_zone=time_zone,
            latitude=latitude,
            longitude=longitude,
            commissioning_date=commissioning_date,
        )

    return build


def session_builder(
    source: str,
    mapping: Mapping,
    charger_info: ChargerInfo | None,
    duplicate_id: DuplicateHook | None,
) -> SessionBuilder:
    k_id, k_charger, k_energy, k_start, k_end, k_duration = map(mapping.column, SESSION_FIELDS)
    energy_wh = fields.scaled(mapping.energy_factor)
    moment = fields.timestamp(mapping.time_format)
    charging = fields.duration(mapping.duration_unit)
    chargers = Chargers(charger_info, mapping.time_zone)

    def build(line: int, record: dict[str, object]) -> Session | RowError:
        get = record.get
        key = k_id
        try:
            session_id = required(text(get(key)))
            key = k_charger
            charger_id = required(text(get(key)))
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


def unique(record_id: str, line: int, duplicate_id: DuplicateHook | None) -> None:
    if duplicate_id is not None and duplicate_id(record_id, line):
        raise Invalid(DUPLICATE)


def required(value: _T | None) -> _T:
    if value is None:
        raise Invalid("required")
    return value
