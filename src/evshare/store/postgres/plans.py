"""Usage plans, and which plan each key is on.

Both writes that could leave a key on a deleted plan lock the plan's row first: deleting takes
it FOR UPDATE, putting a key on it (or creating a key on it) FOR SHARE. Whichever comes second
waits for the first to commit and then sees its effect, so a key never points at a plan that is
gone (and the one lock order rules out a deadlock between them).
"""

from __future__ import annotations

from evshare.errors import NoSuchKey, NoSuchPlan, PlanExists, PlanInUse
from evshare.model import Plan
from evshare.store import sql
from evshare.store.postgres.connection import Connection, Database
from evshare.store.postgres.keys import require_plan
from evshare.store.rows import plan_from_row, plan_params

_INSERT = sql.for_psycopg(sql.INSERT_PLAN + " ON CONFLICT (name) DO NOTHING")
_LIST = f'SELECT {sql.PLAN_LIST} FROM plans ORDER BY name COLLATE "C"'
_GET = sql.for_psycopg(sql.GET_PLAN)
_LOCK = sql.for_psycopg(sql.PLAN_EXISTS + " FOR UPDATE")
_USERS = sql.for_psycopg(sql.PLAN_USERS + ' ORDER BY name COLLATE "C"')
_DELETE = sql.for_psycopg(sql.DELETE_PLAN)
_SET_KEY_PLAN = sql.for_psycopg(sql.SET_KEY_PLAN)


class PostgresPlans:
    _db: Database

    async def create_plan(self, plan: Plan) -> None:
        async def work(conn: Connection) -> None:
            cursor = await conn.execute(_INSERT, plan_params(plan))
            if cursor.rowcount == 0:
                raise PlanExists(plan.name)

        await self._db.write(work, statements=1)

    async def list_plans(self) -> list[Plan]:
        async def query(conn: Connection) -> list[Plan]:
            cursor = await conn.execute(_LIST)
            return [plan_from_row(row) for row in await cursor.fetchall()]

        return await self._db.read(query)

    async def get_plan(self, name: str) -> Plan | None:
        async def query(conn: Connection) -> Plan | None:
            cursor = await conn.execute(_GET, {"name": name})
            row = await cursor.fetchone()
            return None if row is None else plan_from_row(row)

        return await self._db.read(query)

    async def delete_plan(self, name: str) -> None:
        async def work(conn: Connection) -> None:
            cursor = await conn.execute(_LOCK, {"name": name})
            if await cursor.fetchone() is None:
                raise NoSuchPlan(name)
            cursor = await conn.execute(_USERS, {"name": name})
            users = [row[0] for row in await cursor.fetchall()]
            if users:
                raise PlanInUse(name, users)
            await conn.execute(_DELETE, {"name": name})

        await self._db.write(work, statements=3)

    async def set_key_plan(self, key_name: str, plan: str | None) -> None:
        async def work(conn: Connection) -> None:
            await require_plan(conn, plan)
            cursor = await conn.execute(_SET_KEY_PLAN, {"plan": plan, "name": key_name})
            if cursor.rowcount == 0:
                raise NoSuchKey(key_name)

        await self._db.write(work, statements=2)
