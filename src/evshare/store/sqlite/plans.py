"""Usage plans, and which plan each key is on.

Every write is one BEGIN IMMEDIATE transaction, and SQLite runs those one at a time across
processes: a plan cannot be deleted between another writer's check that it exists and its
putting a key on it.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from evshare.errors import KeyManagementError
from evshare.limits import UNLIMITED
from evshare.model import Plan
from evshare.store.sqlite.connection import transaction, translated_errors

COLUMNS = "name, rate, burst, quota, period"


def plan_row(plan: Plan) -> tuple[object, ...]:
    """No throttle (an infinite rate) is stored as a NULL rate and burst."""
    throttled = math.isfinite(plan.rate)
    return (
        plan.name,
        plan.rate if throttled else None,
        plan.burst if throttled else None,
        plan.quota,
        plan.period,
    )


def plan_of(row: tuple[Any, ...]) -> Plan:
    name, rate, burst, quota, period = row
    if rate is None:
        return Plan(name=name, rate=math.inf, burst=0, quota=quota, period=period)
    return Plan(name=name, rate=float(rate), burst=int(burst), quota=quota, period=period)


def in_use_message(name: str, users: list[str]) -> str:
    shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
    return (
        f"the plan {name!r} is used by {len(users)} key(s): {shown}; move them to another plan "
        "with `evshare keys set-plan KEY PLAN` first"
    )


class SqlitePlans:
    _db: sqlite3.Connection

    async def create_plan(self, plan: Plan) -> None:
        with transaction(self._db) as db:
            if db.execute("SELECT 1 FROM plans WHERE name = ?", (plan.name,)).fetchone():
                raise KeyManagementError(f"a plan named {plan.name!r} already exists")
            db.execute(f"INSERT INTO plans ({COLUMNS}) VALUES (?, ?, ?, ?, ?)", plan_row(plan))

    async def list_plans(self) -> list[Plan]:
        with translated_errors():
            rows = self._db.execute(f"SELECT {COLUMNS} FROM plans ORDER BY name").fetchall()
        return [plan_of(row) for row in rows]

    async def get_plan(self, name: str) -> Plan | None:
        with translated_errors():
            row = self._db.execute(
                f"SELECT {COLUMNS} FROM plans WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else plan_of(row)

    async def delete_plan(self, name: str) -> None:
        with transaction(self._db) as db:
            users = [
                row[0]
                for row in db.execute(
                    "SELECT name FROM api_keys WHERE plan = ? ORDER BY name", (name,)
                )
            ]
            if users:
                raise KeyManagementError(in_use_message(name, users))
            if db.execute("DELETE FROM plans WHERE name = ?", (name,)).rowcount == 0:
                raise KeyManagementError(f"there is no plan named {name!r}")

    async def set_key_plan(self, key_name: str, plan: str | None) -> None:
        with transaction(self._db) as db:
            if (
                plan not in (None, UNLIMITED.name)
                and db.execute("SELECT 1 FROM plans WHERE name = ?", (plan,)).fetchone() is None
            ):
                raise KeyManagementError(f"there is no plan named {plan!r}")
            cursor = db.execute("UPDATE api_keys SET plan = ? WHERE name = ?", (plan, key_name))
            if cursor.rowcount == 0:
                raise KeyManagementError(f"there is no key named {key_name!r}")
