"""How chargers, sessions and plans map to table rows, the same for every SQL store.

Column order is the tables' (migrations/): chargers' columns run in the contract's field order,
which `evshare export` relies on too.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from evshare.model import Charger, Plan, Session, epoch, from_epoch

Row = tuple[Any, ...]

CHARGER_COLUMNS = (
    "id",
    "name",
    "serial_number",
    "model",
    "manufacturer",
    "max_output_power_w",
    "max_available_current_a",
    "output_voltage_v",
    "number_of_connectors",
    "time_zone",
    "latitude",
    "longitude",
    "commissioning_date",
)
SESSION_COLUMNS = ("id", "charger_id", "start_ts", "end_ts", "energy_wh", "charging_duration_s")
PLAN_COLUMNS = ("name", "rate", "burst", "quota", "period")


def charger_row(c: Charger) -> Row:
    return (
        c.id,
        c.name,
        c.serial_number,
        c.model,
        c.manufacturer,
        c.max_output_power_w,
        c.max_available_current_a,
        c.output_voltage_v,
        c.number_of_connectors,
        c.time_zone,
        c.latitude,
        c.longitude,
        None if c.commissioning_date is None else c.commissioning_date.isoformat(),
    )


def charger_from_row(row: Row) -> Charger:
    cid, name, serial, model, maker, power, current, volts, connectors, zone, lat, lon, day = row
    return Charger(
        id=cid,
        name=name,
        serial_number=serial,
        model=model,
        manufacturer=maker,
        max_output_power_w=power,
        max_available_current_a=current,
        output_voltage_v=volts,
        number_of_connectors=connectors,
        time_zone=zone,
        latitude=lat,
        longitude=lon,
        commissioning_date=None if day is None else date.fromisoformat(str(day)),
    )


def session_row(s: Session) -> Row:
    return (
        s.id,
        s.charger_id,
        epoch(s.start_time),
        None if s.end_time is None else epoch(s.end_time),
        s.energy_wh,
        s.charging_duration_s,
    )


def session_from_row(row: Row) -> Session:
    sid, charger, start_ts, end_ts, energy, duration = row
    end = None if end_ts is None else from_epoch(end_ts)
    return Session(sid, charger, from_epoch(start_ts), end, energy, duration)


def plan_row(plan: Plan) -> Row:
    """No throttle (an infinite rate) is stored as a NULL rate and burst."""
    throttled = math.isfinite(plan.rate)
    return (
        plan.name,
        plan.rate if throttled else None,
        plan.burst if throttled else None,
        plan.quota,
        plan.period,
    )


def plan_from_row(row: Row) -> Plan:
    name, rate, burst, quota, period = row
    if rate is None:
        return Plan(name=name, rate=math.inf, burst=0, quota=quota, period=period)
    return Plan(name=name, rate=float(rate), burst=int(burst), quota=quota, period=period)
