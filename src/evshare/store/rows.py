"""How value objects map to table rows, the same for every SQL store, derived from the field
table (model.CHARGER_FIELDS, model.SESSION_FIELDS): a row holds the fields' columns in declaration
order, dates as ISO text, instants as epoch seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from evshare.model import (
    CHARGER_FIELDS,
    SESSION_FIELDS,
    Charger,
    Credential,
    Plan,
    Session,
    Wire,
    epoch,
    from_epoch,
)

Row = tuple[Any, ...]
_V = TypeVar("_V")

CHARGER_COLUMNS = tuple(f.column for f in CHARGER_FIELDS)
SESSION_COLUMNS = tuple(f.column for f in SESSION_FIELDS)
PLAN_COLUMNS = ("name", "rate", "burst", "quota", "period")

_TO_COLUMN: dict[str, Callable[[Any], Any]] = {"date": date.isoformat, "date-time": epoch}
_FROM_COLUMN: dict[str, Callable[[Any], Any]] = {
    "date": lambda day: date.fromisoformat(str(day)),
    "date-time": from_epoch,
}


def _compiled(source: str, env: dict[str, Any]) -> Any:
    # Built from the field table's own attribute names, never from data: a function per table
    # that reads like the hand-written one and runs as fast (a generic loop cost a third more
    # per session on import).
    return eval(source, env)  # noqa: S307


def _row_maker(fields: tuple[Wire, ...]) -> Callable[[Any], Row]:
    env: dict[str, Any] = {}
    parts = []
    for i, f in enumerate(fields):
        value = f"v.{f.attr}"
        if f.type in _TO_COLUMN:
            env[f"c{i}"] = _TO_COLUMN[f.type]
            value = (
                f"c{i}({value})"
                if not f.optional
                else f"(None if {value} is None else c{i}({value}))"
            )
        parts.append(value)
    return _compiled(f"lambda v: ({', '.join(parts)},)", env)  # type: ignore[no-any-return]


def _value_maker(cls: Callable[..., _V], fields: tuple[Wire, ...]) -> Callable[[Row], _V]:
    env: dict[str, Any] = {"cls": cls}
    parts = []
    for i, f in enumerate(fields):
        value = f"r[{i}]"
        if f.type in _FROM_COLUMN:
            env[f"c{i}"] = _FROM_COLUMN[f.type]
            value = (
                f"c{i}({value})"
                if not f.optional
                else f"(None if {value} is None else c{i}({value}))"
            )
        parts.append(value)
    return _compiled(f"lambda r: cls({', '.join(parts)})", env)  # type: ignore[no-any-return]


charger_row: Callable[[Charger], Row] = _row_maker(CHARGER_FIELDS)
charger_from_row: Callable[[Row], Charger] = _value_maker(Charger, CHARGER_FIELDS)
session_row: Callable[[Session], Row] = _row_maker(SESSION_FIELDS)
session_from_row: Callable[[Row], Session] = _value_maker(Session, SESSION_FIELDS)


def credential_from_row(row: Row) -> Credential:
    """A row of sql.CREDENTIAL: the key's and the secret's end, whichever comes first, applies."""
    name, secret_hash, all_chargers, expires_at, not_after, revoked, plan = row
    ends = [t for t in (expires_at, not_after) if t is not None]
    return Credential(
        key_name=name,
        secret_hash=bytes(secret_hash),
        all_chargers=bool(all_chargers),
        not_after=from_epoch(min(ends)) if ends else None,
        revoked=bool(revoked),
        plan=plan,
    )


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


def plan_params(plan: Plan) -> dict[str, Any]:
    """`plan_row` by column name, for sql.INSERT_PLAN."""
    return dict(zip(PLAN_COLUMNS, plan_row(plan), strict=True))


def plan_from_row(row: Row) -> Plan:
    name, rate, burst, quota, period = row
    if rate is None:
        return Plan(name=name, rate=math.inf, burst=0, quota=quota, period=period)
    return Plan(name=name, rate=float(rate), burst=int(burst), quota=quota, period=period)
