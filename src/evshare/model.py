"""The domain's value objects, and the one table of their fields. Units are in the field names;
instants are aware UTC datetimes in whole seconds, calendar days are dates.

These are what importers produce, what the store accepts and what the client parses. The API's
hot path does not build them: each store answers with the contract's JSON documents, rendered
from the same field table (see store/port.py).

Each field of `Charger` and `Session` declares, once, next to its Python type: its name in the
contract, its JSON type, its unit, its database column and its bounds (`wire`). Store rows, the
stores' JSON renderers, export columns and import mappings are derived from that declaration
(`CHARGER_FIELDS`, `SESSION_FIELDS`), so a new optional field is one line here and a migration
that adds its column.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

Period = Literal["day", "week", "month"]

FieldType = Literal[
    "string", "time-zone", "province", "number", "integer", "date", "date-time", "duration"
]
"""How a field is written on the wire and read on import: `string` and `time-zone` (an IANA name)
are JSON strings; `date` is YYYY-MM-DD; `date-time` is RFC 3339 UTC with a Z suffix, whole
seconds; `duration` is whole seconds; `province` is a Canadian province or territory's
two-letter code (read from a code or a name)."""

_WIRE = "evshare.wire"

MAX_ID_LENGTH = 128
"""The longest id (of a charger or a session) an import accepts, in characters. PostgreSQL serves
a charger's sessions from an index that holds each session's charger id, id and document (which
holds both again): a B-tree entry takes at most 2,704 bytes, and four copies of 128 characters
of 4-byte UTF-8, with the rest of a document, stay within it (255 did not). Real ids are far
shorter: OCPI 2.2 allows at most 39 characters."""


@dataclass(frozen=True, slots=True)
class Wire:
    """One field as the contract, the database and the importers know it."""

    attr: str  # the value object's attribute
    contract: str  # the contract's (camelCase) name
    type: FieldType
    optional: bool  # left out of the contract's JSON when None, NULL in the database
    unit: str | None = None  # e.g. "W", "Wh", "s", "deg"
    column: str = ""  # the database column ("" until `fields_of` fills in `attr`)
    minimum: float | None = None  # the smallest value an import accepts
    maximum: float | None = None
    together_with: str | None = None  # another field's attr that must be given with this one
    served: bool = True  # False: evshare's own field, kept and imported, not in the contract's JSON


def wire(
    contract: str,
    type_: FieldType,
    *,
    optional: bool = True,
    unit: str | None = None,
    column: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    together_with: str | None = None,
    served: bool = True,
) -> dict[str, Any]:
    """The metadata of a dataclass field: `x: T = field(metadata=wire(...))`."""
    spec = Wire(
        "", contract, type_, optional, unit, column, minimum, maximum, together_with, served
    )
    return {_WIRE: spec}


def fields_of(cls: type) -> tuple[Wire, ...]:
    """The declared fields of a value object, in declaration order (the contract's)."""
    found = []
    for f in dataclasses.fields(cls):
        spec: Wire = f.metadata[_WIRE]
        found.append(dataclasses.replace(spec, attr=f.name, column=spec.column or f.name))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Charger:
    """One charging station, as the contract's `Charger` describes it.

    Optional fields the provider does not know are None here and left out on the wire.
    """

    id: str = field(metadata=wire("id", "string", optional=False, maximum=MAX_ID_LENGTH))
    name: str = field(metadata=wire("name", "string", optional=False))
    serial_number: str | None = field(default=None, metadata=wire("serialNumber", "string"))
    model: str | None = field(default=None, metadata=wire("model", "string"))
    manufacturer: str | None = field(default=None, metadata=wire("manufacturer", "string"))
    max_output_power_w: float | None = field(
        default=None, metadata=wire("maxOutputPower", "number", unit="W", minimum=0)
    )
    max_available_current_a: float | None = field(
        default=None, metadata=wire("maxAvailableCurrent", "number", unit="A", minimum=0)
    )
    output_voltage_v: float | None = field(
        default=None, metadata=wire("outputVoltage", "number", unit="V", minimum=0)
    )
    number_of_connectors: int | None = field(
        default=None, metadata=wire("numberOfConnectors", "integer", minimum=1)
    )
    time_zone: str | None = field(default=None, metadata=wire("timeZone", "time-zone"))
    latitude: float | None = field(
        default=None,
        metadata=wire(
            "latitude", "number", unit="deg", minimum=-90, maximum=90, together_with="longitude"
        ),
    )
    longitude: float | None = field(  # negative west of Greenwich
        default=None,
        metadata=wire(
            "longitude", "number", unit="deg", minimum=-180, maximum=180, together_with="latitude"
        ),
    )
    commissioning_date: date | None = field(
        default=None, metadata=wire("commissioningDate", "date")
    )
    # Not in the contract: where the charger is, for credits (evshare credits; CFR CI_e and
    # BC eligibility are by province). Set by an import mapping's `province` column.
    province: str | None = field(default=None, metadata=wire("province", "province", served=False))


@dataclass(frozen=True, slots=True)
class Session:
    """One charging session. `start_time`/`end_time` are aware UTC datetimes, whole seconds.

    A session without `end_time` is still in progress: stored, but not served.
    """

    id: str = field(metadata=wire("id", "string", optional=False, maximum=MAX_ID_LENGTH))
    charger_id: str = field(
        metadata=wire("chargerId", "string", optional=False, maximum=MAX_ID_LENGTH)
    )
    start_time: datetime = field(
        metadata=wire("startTime", "date-time", optional=False, column="start_ts")
    )
    end_time: datetime | None = field(metadata=wire("endTime", "date-time", column="end_ts"))
    energy_wh: float = field(
        metadata=wire("energy", "number", optional=False, unit="Wh", minimum=0)
    )
    charging_duration_s: int | None = field(
        default=None, metadata=wire("chargingDuration", "duration", unit="s", minimum=0)
    )


CHARGER_FIELDS = fields_of(Charger)
SERVED_CHARGER_FIELDS = tuple(f for f in CHARGER_FIELDS if f.served)
"""The fields in the contract's JSON of a charger (the others are evshare's own)."""
SESSION_FIELDS = fields_of(Session)
"""In declaration order. The contract orders a session's JSON members id, chargerId, energy,
startTime, endTime, chargingDuration (see `SESSION_WIRE_ORDER`)."""
SESSION_WIRE_ORDER = ("id", "chargerId", "energy", "startTime", "endTime", "chargingDuration")


def _wire_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_contract(value: Charger | Session) -> dict[str, Any]:
    """The contract's JSON object of a charger or a session, as a dict in the contract's member
    order: optional fields left out when None, dates and instants as text."""
    if isinstance(value, Charger):
        specs = SERVED_CHARGER_FIELDS
    else:
        order = SESSION_WIRE_ORDER.index
        specs = tuple(sorted(SESSION_FIELDS, key=lambda spec: order(spec.contract)))
    found = ((spec.contract, getattr(value, spec.attr)) for spec in specs)
    return {name: _wire_value(v) for name, v in found if v is not None}


UNLIMITED_PLAN = "unlimited"
"""The built-in plan: it limits nothing, has no stored row, cannot be created or deleted, and
keys may be put on it."""


@dataclass(frozen=True, slots=True)
class Plan:
    """A usage plan: a token bucket (`rate` per second, `burst` capacity) and an optional quota
    of `quota` requests per UTC calendar `period`."""

    name: str
    rate: float
    burst: int
    quota: int | None = None
    period: Period | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key's metadata. The secret is never held here: only its hash is ever stored."""

    name: str
    all_chargers: bool
    created_at: datetime
    charger_ids: frozenset[str] = field(default_factory=frozenset)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    plan: str | None = None


@dataclass(frozen=True, slots=True)
class Credential:
    """What authentication needs about one presented secret, found by its public lookup id."""

    key_name: str
    secret_hash: bytes
    all_chargers: bool
    not_after: datetime | None  # after this instant the secret is no longer accepted
    revoked: bool
    plan: str | None = None


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which chargers a caller may see: all of them, or those granted to its key."""

    key_name: str
    all_chargers: bool


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Requests and refusals of one key on one UTC day."""

    key_name: str
    day: date
    requests: int  # every request judged, admitted or not
    throttled: int  # of those, the ones refused (throttled or over quota)


def epoch(moment: datetime) -> int:
    """Whole seconds since the Unix epoch; `moment` must be timezone-aware."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    return int(moment.timestamp() // 1)


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
