"""The embedded SQLite store: one file, WAL, no server to run."""

from __future__ import annotations

from evshare.store.sqlite.collected import SqliteCollected
from evshare.store.sqlite.connection import connect, existing_folder_path, translated_errors
from evshare.store.sqlite.imports import SqliteImports
from evshare.store.sqlite.keys import SqliteKeys
from evshare.store.sqlite.plans import SqlitePlans
from evshare.store.sqlite.reads import SqliteReads
from evshare.store.sqlite.usage import SqliteUsage
from evshare.store.sqlite.writes import SqliteWrites


class SqliteStore(
    SqliteReads,
    SqliteKeys,
    SqliteWrites,
    SqliteImports,
    SqlitePlans,
    SqliteUsage,
    SqliteCollected,
):
    """One connection, used from the event loop's thread (see reads.py for why)."""

    def __init__(self, database_url: str) -> None:
        self._db = connect(existing_folder_path(database_url))
        self._credentials = {}
        self._credentials_version = (-1, -1)

    async def ping(self) -> None:
        with translated_errors():
            self._db.execute("SELECT 1 FROM chargers LIMIT 1").fetchall()

    async def close(self) -> None:
        self._db.close()


__all__ = ["SqliteStore"]
