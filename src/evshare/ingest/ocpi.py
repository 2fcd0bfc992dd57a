"""OCPI 2.2.1 Locations and CDRs as chargers and sessions (docs/importing.md has the mapping).

Fields are named in RowErrors by their OCPI path, e.g. `evses[1].connectors[0].max_voltage`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

from evshare.errors import ImportFailed
from evshare.ingest import fields
from evshare.ingest.fields import Invalid, not_negative, number, text
from evshare.ingest.rows import RowError
from evshare.ingest.validate import (
    ChargerInfo,
    Chargers,
    DuplicateHook,
    SessionBuilder,
    identifier,
    known_zone,
    not_before,
    paired,
    required,
    unique,
)
from evshare.model import Charger, Session

ENVELOPE = "data"
LOCATION_KEYS = ("evses", "coordinates", "address")
"""Fields every OCPI 2.2.1 Location has: a file whose records have none of them is not one."""
CDR_KEYS = ("cdr_location", "start_date_time", "end_date_time", "total_energy")
"""Fields every OCPI 2.2.1 CDR has."""

LocationBuilder = Callable[[int, dict[str, object]], list[Charger | RowError]]

# OCPI's max_voltage is line to neutral, so a connector's power is volts x amperes x phases.
_PHASES = {"AC_1_PHASE": 1, "AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2, "AC_3_PHASE": 3, "DC": 1}

# CDR totals are decimal hours; at two decimals a total is within 18 s of the true one, so
# charging that exceeds the session by up to this much is taken as the whole session.
_HOURS_TOLERANCE_S = 36

_kwh = fields.scaled(1000.0)
_iso8601 = fields.timestamp(fields.ISO8601)


class Status:
    """The members of an OCPI response other than `data`: ImportFailed, with the response's own
    message, if `status_code` says the request failed (OCPI: 1xxx is success)."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._members: dict[str, object] = {}

    def member(self, key: str, value: object) -> None:
        self._members[key] = value
        if "status_code" in self._members and "status_message" in self._members:
            self.check()

    def check(self) -> None:
        code = self._members.get("status_code", 1000)
        if type(code) is int and 1000 <= code < 2000:
            return
        message = self._members.get("status_message")
        detail = f": {message}" if isinstance(message, str) else ""
        raise ImportFailed(f"{self._source}: the OCPI response has status_code {code!r}{detail}")


def location_builder(source: str, duplicate_id: DuplicateHook | None) -> LocationBuilder:
    """Each EVSE of a Location as a Charger (or a RowError); a problem with the Location itself
    is one RowError for all of its EVSEs."""

    def build(line: int, record: dict[str, object]) -> list[Charger | RowError]:
        key, value = "id", record.get("id")
        try:
            location_id = text(value)
            key, value = "name", record.get("name")
            location_name = text(value) or location_id
            key, value = "coordinates", record.get("coordinates")
            coordinates = _object(value)
            key, value = "coordinates.latitude", coordinates.get("latitude")
            latitude = fields.in_range(number(value), 90)
            key, value = "coordinates.longitude", coordinates.get("longitude")
            longitude = fields.in_range(number(value), 180)
            if latitude is None:
                key, value = "coordinates.latitude", coordinates.get("latitude")
            other = "coordinates.longitude" if latitude is None else "coordinates.latitude"
            paired(latitude, longitude, other)
            key, value = "time_zone", record.get("time_zone")
            time_zone = known_zone(value)
            key, value = "evses", record.get("evses")
            evses = _list(value)
        except Invalid as problem:
            return [RowError(source, line, key, value, problem.reason, record)]
        site = _Site(location_name, latitude, longitude, time_zone, _province(record))
        return [
            _evse(source, line, record, f"evses[{index}]", evse, site, duplicate_id)
            for index, evse in enumerate(evses)
        ]

    return build


class _Site:
    """What every charger of a Location shares."""

    __slots__ = ("latitude", "longitude", "name", "province", "time_zone")

    def __init__(
        self,
        name: str | None,
        latitude: float | None,
        longitude: float | None,
        time_zone: str | None,
        province: str | None,
    ) -> None:
        self.name = name
        self.latitude = latitude
        self.longitude = longitude
        self.time_zone = time_zone
        self.province = province


def _province(record: dict[str, object]) -> str | None:
    """A Canadian Location's `state` as a province code (credits need it); OCPI's `state` is
    free text, so one that names no province is left unset rather than refused."""
    from evshare.credits.places import normalize_province

    state = record.get("state")
    if record.get("country") != "CAN" or not isinstance(state, str):
        return None
    return normalize_province(state)


def _evse(
    source: str,
    line: int,
    record: dict[str, object],
    path: str,
    evse: object,
    site: _Site,
    duplicate_id: DuplicateHook | None,
) -> Charger | RowError:
    key, value = path, evse
    try:
        found = _object(evse, required=True)
        key, value = f"{path}.uid", found.get("uid")
        uid = identifier(value)
        key, value = f"{path}.evse_id", found.get("evse_id")
        label = text(value) or uid
        key, value = f"{path}.connectors", found.get("connectors")
        connectors = _list(value, at_least_one=True)
        power: float | None = None
        current: float | None = None
        voltage: float | None = None
        for index, connector in enumerate(connectors):
            at = f"{path}.connectors[{index}]"
            key, value = at, connector
            found_connector = _object(connector, required=True)
            key, value = f"{at}.max_voltage", found_connector.get("max_voltage")
            volts = not_negative(number(value))
            key, value = f"{at}.max_amperage", found_connector.get("max_amperage")
            amperes = not_negative(number(value))
            key, value = f"{at}.max_electric_power", found_connector.get("max_electric_power")
            watts = not_negative(number(value))
            if watts is None and volts is not None and amperes is not None:
                phases = _PHASES.get(str(found_connector.get("power_type")))
                watts = None if phases is None else volts * amperes * phases
            power = _larger(power, watts)
            current = _larger(current, amperes)
            voltage = _larger(voltage, volts)
        key, value = f"{path}.uid", found.get("uid")
        unique(uid, line, duplicate_id)
    except Invalid as problem:
        return RowError(source, line, key, value, problem.reason, record)
    return Charger(
        id=uid,
        name=label if site.name is None else f"{site.name} ({label})",
        max_output_power_w=power,
        max_available_current_a=current,
        output_voltage_v=voltage,
        number_of_connectors=len(connectors),
        time_zone=site.time_zone,
        latitude=site.latitude,
        longitude=site.longitude,
        province=site.province,
    )


def cdr_builder(
    source: str, charger_info: ChargerInfo | None, duplicate_id: DuplicateHook | None
) -> SessionBuilder:
    chargers = Chargers(charger_info, None)

    def build(line: int, record: dict[str, object]) -> Session | RowError:
        key, value = "id", record.get("id")
        try:
            cdr_id = identifier(value)
            key, value = "cdr_location", record.get("cdr_location")
            location = _object(value, required=True)
            key, value = "cdr_location.evse_uid", location.get("evse_uid")
            charger_id = identifier(value)
            chargers.check(charger_id)
            key, value = "total_energy", record.get("total_energy")
            energy_wh = required(not_negative(_kwh(value)))
            key, value = "start_date_time", record.get("start_date_time")
            start = required(_utc(value))
            key, value = "end_date_time", record.get("end_date_time")
            end = required(_utc(value))
            not_before(end, start, "start_date_time")
            key, value = "total_parking_time", record.get("total_parking_time")
            parking_hours = not_negative(number(value)) or 0.0
            key, value = "total_time", record.get("total_time")
            total_hours = required(not_negative(number(value)))
            charging_s = _charging_seconds(total_hours - parking_hours, start, end)
            key, value = "id", record.get("id")
            unique(cdr_id, line, duplicate_id)
        except Invalid as problem:
            return RowError(source, line, key, value, problem.reason, record)
        return Session(cdr_id, charger_id, start, end, energy_wh, charging_s)

    return build


def _utc(value: object) -> datetime | None:
    """OCPI timestamps are RFC 3339, except that one without an offset is UTC."""
    moment = _iso8601(value)
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _charging_seconds(hours: float, start: datetime, end: datetime) -> int:
    if hours < 0:
        raise Invalid("less than total_parking_time")
    seconds = math.floor(hours * 3600 + 0.5)
    span = int((end - start).total_seconds())
    if seconds <= span:
        return seconds
    if seconds - span <= _HOURS_TOLERANCE_S:
        return span
    raise Invalid(f"charging for {seconds} s is longer than the session ({span} s)")


def _object(value: object, *, required: bool = False) -> dict[str, object]:
    if type(value) is dict:
        return value
    if value is None and not required:
        return {}
    raise Invalid("required" if value is None else "not a JSON object")


def _list(value: object, *, at_least_one: bool = False) -> list[object]:
    if value is None and not at_least_one:
        return []
    if type(value) is not list:
        raise Invalid("required" if value is None else "not a JSON array")
    if at_least_one and not value:
        raise Invalid("must not be empty")
    return value


def _larger(current: float | None, candidate: float | None) -> float | None:
    if candidate is None:
        return current
    return candidate if current is None else max(current, candidate)
