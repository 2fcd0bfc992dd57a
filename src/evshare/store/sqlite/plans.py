"""Usage plans, and which plan each key is on.

Every write is one BEGIN IMMEDIATE transaction, and SQLite runs those one at a time across
processes: a plan cannot be deleted between another writer's check that it exists and its
putting a key on it.
"""

from __future__ import annotations

import sqlite3

from evshare.errors import KeyManagementError
from evshare.limits import UNLIMITED
from evshare.limits.plans import in_use_message
from evshare.model import Plan
from evshare.store.rows import PLAN_COLUMNS, plan_from_row, plan_row
from evshare.store.sqlite.connection import transaction, translated_errors

COLUMNS = ", ".join(PLAN_COLUMNS)


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
        return [plan_from_row(row) for row in rows]

    async def get_plan(self, name: str) -> Plan | None:
        with translated_errors():
            row = self._db.execute(
                f"SELECT {COLUMNS} FROM plans WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else plan_from_row(row)

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
