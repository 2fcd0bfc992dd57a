"""The table's items: their keys, and how chargers, sessions, keys and plans are written in them.

docs/dynamodb.md has the table of every item (partition key, sort key, attributes) and what
each API request reads. Sort keys are compared as UTF-8 bytes, which is the contract's order
of charger ids. A session's `<start>` is its start in epoch seconds plus 10^11, twelve digits,
so that it sorts as a number for any year from 1 to 9999. `doc` is the contract's JSON,
rendered when the row is written; `f` holds every field of the value object as JSON, for
exports and change detection.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime
from typing import Any

import orjson

from evshare.model import ApiKey, Charger, Plan, Session, epoch, from_epoch

META = "#META"
SCHEMA_SK = "schema"
CHARGERS = "#CHARGERS"
KEYS = "#KEYS"
PLANS = "#PLANS"
USAGE = "#USAGE"
SESSION_CHARGERS = "#SESSIONCHARGERS"  # the chargers that have sessions, for exports
ITEM = "#"  # the sort key of single-item partitions
_START_OFFSET = 100_000_000_000

Item = dict[str, Any]


def charger_pk(charger_id: str) -> str:
    return f"C#{charger_id}"


def sessions_pk(charger_id: str) -> str:
    return f"T#{charger_id}"


def pointer_pk(session_id: str) -> str:
    return f"P#{session_id}"


def grants_pk(key_name: str) -> str:
    return f"G#{key_name}"


def secret_pk(lookup_id: str) -> str:
    return f"S#{lookup_id}"


def limiter_pk(key_name: str) -> str:
    return f"L#{key_name}"


def start_sk(start: int) -> str:
    return f"{start + _START_OFFSET:012d}"


def session_sk(start: int, session_id: str) -> str:
    return f"{start_sk(start)}#{session_id}"


def usage_sk(key_name: str, day: date) -> str:
    return f"{key_name}#{day.isoformat()}"


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: float) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def number(attribute: dict[str, str] | None) -> float | None:
    if attribute is None:
        return None
    text = attribute["N"]
    value = float(text)
    return (
        int(text) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )


def integer(attribute: dict[str, str] | None) -> int | None:
    value = number(attribute)
    return None if value is None else int(value)


# --- documents: the contract's JSON, optional fields left out ---------------------------------

_CHARGER_WIRE = (
    ("id", "id"),
    ("name", "name"),
    ("serial_number", "serialNumber"),
    ("model", "model"),
    ("manufacturer", "manufacturer"),
    ("max_output_power_w", "maxOutputPower"),
    ("max_available_current_a", "maxAvailableCurrent"),
    ("output_voltage_v", "outputVoltage"),
    ("number_of_connectors", "numberOfConnectors"),
    ("time_zone", "timeZone"),
    ("latitude", "latitude"),
    ("longitude", "longitude"),
    ("commissioning_date", "commissioningDate"),
)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def charger_doc(charger: Charger) -> str:
    doc: dict[str, Any] = {}
    for field, wire in _CHARGER_WIRE:
        value = getattr(charger, field)
        if value is None:
            continue
        doc[wire] = value.isoformat() if isinstance(value, date) else value
    return orjson.dumps(doc).decode()


def session_doc(session: Session) -> str | None:
    """None for a session still in progress: it is stored, never served."""
    if session.end_time is None:
        return None
    doc: dict[str, Any] = {
        "id": session.id,
        "chargerId": session.charger_id,
        "energy": session.energy_wh,
        "startTime": _utc(session.start_time),
        "endTime": _utc(session.end_time),
    }
    if session.charging_duration_s is not None:
        doc["chargingDuration"] = session.charging_duration_s
    return orjson.dumps(doc).decode()


# --- every field of a value object, as JSON (exports, change detection) -----------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return epoch(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def fields_json(value: Charger | Session) -> str:
    return orjson.dumps(
        {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    ).decode()


def charger_from(fields: str) -> Charger:
    data = orjson.loads(fields)
    day = data.get("commissioning_date")
    data["commissioning_date"] = None if day is None else date.fromisoformat(day)
    known = {f.name for f in dataclasses.fields(Charger)}
    return Charger(**{k: v for k, v in data.items() if k in known})


def session_from(fields: str) -> Session:
    data = orjson.loads(fields)
    data["start_time"] = from_epoch(data["start_time"])
    end = data.get("end_time")
    data["end_time"] = None if end is None else from_epoch(end)
    known = {f.name for f in dataclasses.fields(Session)}
    return Session(**{k: v for k, v in data.items() if k in known})


# --- keys and plans ----------------------------------------------------------------------------


def key_attributes(key: ApiKey) -> Item:
    """The key's own state, as held on its item and copied onto each of its secrets."""
    item: Item = {"all": {"BOOL": key.all_chargers}, "created": n(epoch(key.created_at))}
    if key.expires_at is not None:
        item["expires_at"] = n(epoch(key.expires_at))
    if key.revoked_at is not None:
        item["revoked"] = n(epoch(key.revoked_at))
    if key.plan is not None:
        item["plan"] = s(key.plan)
    return item


def key_from(item: Item, grants: frozenset[str]) -> ApiKey:
    expires, revoked = integer(item.get("expires_at")), integer(item.get("revoked"))
    return ApiKey(
        name=item["sk"]["S"],
        all_chargers=bool(item["all"]["BOOL"]),
        created_at=from_epoch(integer(item["created"]) or 0),
        charger_ids=grants,
        expires_at=None if expires is None else from_epoch(expires),
        revoked_at=None if revoked is None else from_epoch(revoked),
        plan=item["plan"]["S"] if "plan" in item else None,
    )


def plan_attributes(plan: Plan) -> Item:
    item: Item = {}
    if math.isfinite(plan.rate):
        item["rate"] = n(float(plan.rate))
        item["burst"] = n(int(plan.burst))
    if plan.quota is not None and plan.period is not None:
        item["quota"] = n(int(plan.quota))
        item["period"] = s(plan.period)
    return item


def plan_from(item: Item) -> Plan:
    rate = number(item.get("rate"))
    quota = integer(item.get("quota"))
    period = item["period"]["S"] if "period" in item else None
    if rate is None:
        return Plan(item["sk"]["S"], rate=math.inf, burst=0, quota=quota, period=period)
    return Plan(
        item["sk"]["S"],
        rate=float(rate),
        burst=integer(item.get("burst")) or 0,
        quota=quota,
        period=period,
    )


def session_from_doc(doc: str) -> Session:
    """A completed session back from its document (exports)."""
    data = orjson.loads(doc)
    return Session(
        id=data["id"],
        charger_id=data["chargerId"],
        start_time=datetime.strptime(data["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        end_time=datetime.strptime(data["endTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        energy_wh=data["energy"],
        charging_duration_s=data.get("chargingDuration"),
    )


def session_from_row(item: Item) -> Session:
    return session_from_doc(item["doc"]["S"]) if "doc" in item else session_from(item["f"]["S"])
