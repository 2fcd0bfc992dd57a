"""The PostgreSQL store: for more than one machine, or more than one writer.

One connection pool per process, opened in the app's lifespan (each server worker its own); see
connection.py for how it stays safe behind PgBouncer or RDS Proxy and bounded in time.
"""

from __future__ import annotations

from evshare.config import Settings
from evshare.store.postgres.collected import PostgresCollected
from evshare.store.postgres.connection import Connection, Database
from evshare.store.postgres.imports import PostgresImports
from evshare.store.postgres.keys import PostgresKeys
from evshare.store.postgres.plans import PostgresPlans
from evshare.store.postgres.reads import PostgresReads
from evshare.store.postgres.usage import PostgresUsage
from evshare.store.postgres.writes import PostgresWrites


class PostgresStore(
    PostgresReads,
    PostgresKeys,
    PostgresWrites,
    PostgresImports,
    PostgresPlans,
    PostgresUsage,
    PostgresCollected,
):
    def __init__(self, db: Database) -> None:
        self._db = db
        self._start_batches()

    @classmethod
    async def open(cls, settings: Settings) -> PostgresStore:
        return cls(await Database.open(settings))

    async def ping(self) -> None:
        async def query(conn: Connection) -> None:
            await conn.execute("SELECT 1 FROM chargers LIMIT 1")

        await self._db.read(query)

    async def close(self) -> None:
        await self._stop_batches()
        await self._db.close()


__all__ = ["PostgresStore"]
