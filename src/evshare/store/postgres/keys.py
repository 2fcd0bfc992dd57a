"""API keys: metadata, hashed secrets and charger scopes."""

from __future__ import annotations

from datetime import datetime

from psycopg.rows import TupleRow

from evshare.errors import KeyExists, NoSuchKey, NoSuchPlan
from evshare.model import UNLIMITED_PLAN, ApiKey, epoch, from_epoch
from evshare.store import sql
from evshare.store.postgres.connection import Connection, Database

# Names in byte order, as SQLite sorts them, whatever the database's default collation.
_KEYS_SQL = """SELECT k.name, k.all_chargers, k.created_at, k.expires_at, k.revoked_at, k.plan,
        array_remove(array_agg(kc.charger_id), NULL)
    FROM api_keys k LEFT JOIN key_chargers kc ON kc.key_name = k.name
    {where}
    GROUP BY k.name ORDER BY k.name COLLATE "C\""""
_LIST_SQL = _KEYS_SQL.format(where="")
_GET_SQL = _KEYS_SQL.format(where="WHERE k.name = %s")
_INSERT_KEY = sql.for_psycopg(sql.INSERT_KEY + " ON CONFLICT (name) DO NOTHING")
_INSERT_SECRET = sql.for_psycopg(sql.INSERT_SECRET)
_REVOKE_KEY = sql.for_psycopg(sql.REVOKE_KEY)
# Locks the plan against a concurrent delete until this transaction commits (see plans.py).
_SHARE_PLAN = sql.for_psycopg(sql.PLAN_EXISTS + " FOR SHARE")


async def require_plan(conn: Connection, plan: str | None) -> None:
    """NoSuchPlan unless a key may be put on `plan` (None: the default plan)."""
    if plan not in (None, UNLIMITED_PLAN):
        cursor = await conn.execute(_SHARE_PLAN, {"name": plan})
        if await cursor.fetchone() is None:
            raise NoSuchPlan(str(plan))


def _key(row: TupleRow) -> ApiKey:
    name, all_chargers, created, expires, revoked, plan, chargers = row
    return ApiKey(
        name=name,
        all_chargers=all_chargers,
        created_at=from_epoch(created),
        charger_ids=frozenset(chargers),
        expires_at=None if expires is None else from_epoch(expires),
        revoked_at=None if revoked is None else from_epoch(revoked),
        plan=plan,
    )


class PostgresKeys:
    _db: Database

    async def create_key(self, key: ApiKey, lookup_id: str, secret_hash: bytes) -> None:
        created = epoch(key.created_at)

        async def work(conn: Connection) -> None:
            await require_plan(conn, key.plan)
            cursor = await conn.execute(
                _INSERT_KEY,
                {
                    "name": key.name,
                    "all_chargers": key.all_chargers,
                    "created_at": created,
                    "expires_at": None if key.expires_at is None else epoch(key.expires_at),
                    "plan": key.plan,
                },
            )
            if cursor.rowcount == 0:
                raise KeyExists(key.name)
            await conn.execute(
                "INSERT INTO key_chargers (key_name, charger_id) SELECT %s, unnest(%s::text[])",
                (key.name, sorted(key.charger_ids)),
            )
            await conn.execute(
                _INSERT_SECRET,
                {
                    "lookup": lookup_id,
                    "name": key.name,
                    "secret_hash": secret_hash,
                    "created_at": created,
                },
            )

        await self._db.write(work, statements=4)

    async def list_keys(self) -> list[ApiKey]:
        async def query(conn: Connection) -> list[ApiKey]:
            cursor = await conn.execute(_LIST_SQL)
            return [_key(row) for row in await cursor.fetchall()]

        return await self._db.read(query)

    async def get_key(self, name: str) -> ApiKey | None:
        async def query(conn: Connection) -> ApiKey | None:
            cursor = await conn.execute(_GET_SQL, (name,))
            row = await cursor.fetchone()
            return None if row is None else _key(row)

        return await self._db.read(query)

    async def revoke_key(self, name: str, at: datetime) -> None:
        async def work(conn: Connection) -> None:
            cursor = await conn.execute(_REVOKE_KEY, {"at": epoch(at), "name": name})
            if cursor.rowcount == 0:
                raise NoSuchKey(name)

        await self._db.write(work, statements=1)

    async def add_secret(
        self, name: str, lookup_id: str, secret_hash: bytes, retire_others_at: datetime
    ) -> None:
        retire = epoch(retire_others_at)

        async def work(conn: Connection) -> None:
            # Locks the key against a concurrent revoke or rotation until this one commits.
            cursor = await conn.execute(
                "SELECT 1 FROM api_keys WHERE name = %s FOR UPDATE", (name,)
            )
            if await cursor.fetchone() is None:
                raise NoSuchKey(name)
            # least() skips NULLs: a secret without an end gets `retire`.
            await conn.execute(
                "UPDATE key_secrets SET not_after = least(not_after, %s) WHERE key_name = %s",
                (retire, name),
            )
            await conn.execute(
                "INSERT INTO key_secrets (lookup_id, key_name, secret_hash, created_at) "
                "VALUES (%s, %s, %s, floor(extract(epoch FROM statement_timestamp())))",
                (lookup_id, name, secret_hash),
            )

        await self._db.write(work, statements=3)
