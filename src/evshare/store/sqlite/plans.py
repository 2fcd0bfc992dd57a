"""Usage plans, and which plan each key is on.

Every write is one BEGIN IMMEDIATE transaction, and SQLite runs those one at a time across
processes: a plan cannot be deleted between another writer's check that it exists and its
putting a key on it.
"""

from __future__ import annotations

import sqlite3

from evshare.errors import NoSuchKey, NoSuchPlan, PlanExists, PlanInUse
from evshare.model import Plan
from evshare.store import sql
from evshare.store.rows import plan_from_row, plan_params
from evshare.store.sqlite.connection import transaction, translated_errors
from evshare.store.sqlite.keys import require_plan


class SqlitePlans:
    _db: sqlite3.Connection

    async def create_plan(self, plan: Plan) -> None:
        with transaction(self._db) as db:
            if db.execute(sql.PLAN_EXISTS, {"name": plan.name}).fetchone():
                raise PlanExists(plan.name)
            db.execute(sql.INSERT_PLAN, plan_params(plan))

    async def list_plans(self) -> list[Plan]:
        with translated_errors():
            rows = self._db.execute(f"SELECT {sql.PLAN_LIST} FROM plans ORDER BY name").fetchall()
        return [plan_from_row(row) for row in rows]

    async def get_plan(self, name: str) -> Plan | None:
        with translated_errors():
            row = self._db.execute(sql.GET_PLAN, {"name": name}).fetchone()
        return None if row is None else plan_from_row(row)

    async def delete_plan(self, name: str) -> None:
        with transaction(self._db) as db:
            users = [
                row[0] for row in db.execute(sql.PLAN_USERS + " ORDER BY name", {"name": name})
            ]
            if users:
                raise PlanInUse(name, users)
            if db.execute(sql.DELETE_PLAN, {"name": name}).rowcount == 0:
                raise NoSuchPlan(name)

    async def set_key_plan(self, key_name: str, plan: str | None) -> None:
        with transaction(self._db) as db:
            require_plan(db, plan)
            if db.execute(sql.SET_KEY_PLAN, {"plan": plan, "name": key_name}).rowcount == 0:
                raise NoSuchKey(key_name)
