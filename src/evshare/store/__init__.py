"""Storage: the `Store` port and its adapters, chosen by the database URL."""

from __future__ import annotations

from evshare.config import Settings
from evshare.model import Visibility
from evshare.store.port import Store, UpsertCounts
from evshare.store.schema import require_current

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DYNAMODB_SCHEME = "dynamodb://"
MEMORY_SCHEME = "memory://"


async def open_store(settings: Settings, *, check_schema: bool = True) -> Store:
    """Open the store named by `settings.database_url`: `postgresql://...` (or `postgres://...`)
    for PostgreSQL, `dynamodb://TABLE?region=R` for DynamoDB, `sqlite:///PATH` for the embedded
    SQLite file, `memory://NAME` for the store of that name in this process's memory (for tests:
    every open of one name is the same store).

    With `check_schema`, refuse (SchemaOutOfDate) a database whose schema is not current.
    """
    if settings.database_url.startswith(MEMORY_SCHEME):
        from evshare.store.memory import MemoryStore

        return MemoryStore.named(settings.database_url.removeprefix(MEMORY_SCHEME))
    if settings.database_url.startswith(DYNAMODB_SCHEME):
        from evshare.store.dynamodb.store import DynamoStore

        return await DynamoStore.open(settings, check_schema=check_schema)
    if check_schema:
        require_current(settings.database_url, settings.db_connect_timeout)
    # Each adapter is imported only when chosen: the CLI and Lambda start faster without the other.
    if settings.database_url.startswith(POSTGRES_SCHEMES):
        from evshare.store.postgres import PostgresStore

        return await PostgresStore.open(settings)
    from evshare.store.sqlite import SqliteStore

    return SqliteStore(settings.database_url)


__all__ = ["Store", "UpsertCounts", "Visibility", "open_store"]
