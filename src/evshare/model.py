"""The domain's value objects. Units are in the field names; times are aware UTC datetimes.

These are what importers produce, what the store accepts and what the client parses. The API's
hot path does not build them: the store renders the contract's JSON directly (see store/port.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

Period = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class Charger:
    """One charging station, as the contract's `Charger` describes it.

    Optional fields the provider does not know are None here and left out on the wire.
    """

    id: str
    name: str
    serial_number: str | None = None
    model: str | None = None
    manufacturer: str | None = None
    max_output_power_w: float | None = None
    max_available_current_a: float | None = None
    output_voltage_v: float | None = None
    number_of_connectors: int | None = None
    time_zone: str | None = None  # IANA name, e.g. America/Edmonton
    latitude: float | None = None  # decimal degrees
    longitude: float | None = None  # decimal degrees, negative west of Greenwich
    commissioning_date: date | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """One charging session. `start_time`/`end_time` are aware UTC datetimes, whole seconds.

    A session without `end_time` is still in progress: stored, but not served.
    """

    id: str
    charger_id: str
    start_time: datetime
    end_time: datetime | None
    energy_wh: float
    charging_duration_s: int | None = None


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
    not_after: int | None  # epoch seconds after which the secret is no longer accepted
    revoked: bool
    plan: str | None = None


def epoch(moment: datetime) -> int:
    """Whole seconds since the Unix epoch; `moment` must be timezone-aware."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    return int(moment.timestamp() // 1)


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
