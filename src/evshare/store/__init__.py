"""Storage: the `Store` port and its adapters, chosen by the database URL."""

from __future__ import annotations

from evshare.config import Settings
from evshare.store.port import Scope, Store, UpsertCounts
from evshare.store.schema import require_current


async def open_store(settings: Settings, *, check_schema: bool = True) -> Store:
    """Open the store named by `settings.database_url`.

    With `check_schema`, refuse (SchemaOutOfDate) a database whose schema is not current.
    """
    if check_schema:
        require_current(settings.database_url)
    from evshare.store.sqlite import SqliteStore

    return SqliteStore(settings.database_url)


__all__ = ["Scope", "Store", "UpsertCounts", "open_store"]
