"""API keys: metadata, hashed secrets and charger scopes."""

from __future__ import annotations

from datetime import datetime

from psycopg.rows import TupleRow

from evshare.errors import KeyManagementError
from evshare.model import ApiKey, epoch, from_epoch
from evshare.store.postgres.connection import Connection, Database

# Names in byte order, as SQLite sorts them, whatever the database's default collation.
_KEYS_SQL = """SELECT k.name, k.all_chargers, k.created_at, k.expires_at, k.revoked_at, k.plan,
        array_remove(array_agg(kc.charger_id), NULL)
    FROM api_keys k LEFT JOIN key_chargers kc ON kc.key_name = k.name
    {where}
    GROUP BY k.name ORDER BY k.name COLLATE "C\""""
_LIST_SQL = _KEYS_SQL.format(where="")
_GET_SQL = _KEYS_SQL.format(where="WHERE k.name = %s")


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
        async def work(conn: Connection) -> None:
            cursor = await conn.execute(
                "INSERT INTO api_keys (name, all_chargers, created_at, expires_at, plan) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (
                    key.name,
                    key.all_chargers,
                    epoch(key.created_at),
                    None if key.expires_at is None else epoch(key.expires_at),
                    key.plan,
                ),
            )
            if cursor.rowcount == 0:
                raise KeyManagementError(f"a key named {key.name!r} already exists")
            await conn.execute(
                "INSERT INTO key_chargers (key_name, charger_id) SELECT %s, unnest(%s::text[])",
                (key.name, sorted(key.charger_ids)),
            )
            await conn.execute(
                "INSERT INTO key_secrets (lookup_id, key_name, secret_hash, created_at) "
                "VALUES (%s, %s, %s, %s)",
                (lookup_id, key.name, secret_hash, epoch(key.created_at)),
            )

        await self._db.write(work, statements=3)

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
            cursor = await conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, %s) WHERE name = %s",
                (epoch(at), name),
            )
            if cursor.rowcount == 0:
                raise KeyManagementError(f"there is no key named {name!r}")

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
                raise KeyManagementError(f"there is no key named {name!r}")
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
