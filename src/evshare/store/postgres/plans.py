"""Usage plans, and which plan each key is on.

Both writes that could leave a key on a deleted plan lock the plan's row first: deleting takes
it FOR UPDATE, putting a key on it FOR SHARE. Whichever comes second waits for the first to
commit and then sees its effect, so a key never points at a plan that is gone (and the one lock
order rules out a deadlock between them).
"""

from __future__ import annotations

from evshare.errors import KeyManagementError
from evshare.limits import UNLIMITED
from evshare.limits.plans import in_use_message
from evshare.model import Plan
from evshare.store.postgres.connection import Connection, Database
from evshare.store.rows import PLAN_COLUMNS, plan_from_row, plan_row

_COLUMNS = ", ".join(PLAN_COLUMNS)


class PostgresPlans:
    _db: Database

    async def create_plan(self, plan: Plan) -> None:
        async def work(conn: Connection) -> None:
            cursor = await conn.execute(
                f"INSERT INTO plans ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                plan_row(plan),
            )
            if cursor.rowcount == 0:
                raise KeyManagementError(f"a plan named {plan.name!r} already exists")

        await self._db.write(work, statements=1)

    async def list_plans(self) -> list[Plan]:
        async def query(conn: Connection) -> list[Plan]:
            cursor = await conn.execute(f'SELECT {_COLUMNS} FROM plans ORDER BY name COLLATE "C"')
            return [plan_from_row(row) for row in await cursor.fetchall()]

        return await self._db.read(query)

    async def get_plan(self, name: str) -> Plan | None:
        async def query(conn: Connection) -> Plan | None:
            cursor = await conn.execute(f"SELECT {_COLUMNS} FROM plans WHERE name = %s", (name,))
            row = await cursor.fetchone()
            return None if row is None else plan_from_row(row)

        return await self._db.read(query)

    async def delete_plan(self, name: str) -> None:
        async def work(conn: Connection) -> None:
            cursor = await conn.execute("SELECT 1 FROM plans WHERE name = %s FOR UPDATE", (name,))
            if await cursor.fetchone() is None:
                raise KeyManagementError(f"there is no plan named {name!r}")
            cursor = await conn.execute(
                'SELECT name FROM api_keys WHERE plan = %s ORDER BY name COLLATE "C"', (name,)
            )
            users = [row[0] for row in await cursor.fetchall()]
            if users:
                raise KeyManagementError(in_use_message(name, users))
            await conn.execute("DELETE FROM plans WHERE name = %s", (name,))

        await self._db.write(work, statements=3)

    async def set_key_plan(self, key_name: str, plan: str | None) -> None:
        async def work(conn: Connection) -> None:
            if plan not in (None, UNLIMITED.name):
                cursor = await conn.execute(
                    "SELECT 1 FROM plans WHERE name = %s FOR SHARE", (plan,)
                )
                if await cursor.fetchone() is None:
                    raise KeyManagementError(f"there is no plan named {plan!r}")
            cursor = await conn.execute(
                "UPDATE api_keys SET plan = %s WHERE name = %s", (plan, key_name)
            )
            if cursor.rowcount == 0:
                raise KeyManagementError(f"there is no key named {key_name!r}")

        await self._db.write(work, statements=2)
