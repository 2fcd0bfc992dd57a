"""Imports and exports: one long transaction per import, rows streamed out for exports."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import orjson

from evshare.model import Charger, Session, epoch
from evshare.store import sql
from evshare.store.port import UpsertCounts
from evshare.store.rows import charger_from_row, charger_row, session_from_row
from evshare.store.sqlite.connection import FAR_FUTURE, FAR_PAST, pragmas, translated_errors
from evshare.store.sqlite.writes import UPSERT_CHARGER, UPSERT_SESSION, session_rows, upsert_rows

_EXPORT_CHARGERS = f"SELECT {sql.CHARGER_LIST} FROM chargers ORDER BY id"
_EXPORT_SESSIONS = f"""SELECT {sql.SESSION_LIST} FROM sessions
    WHERE (:charger IS NULL OR charger_id = :charger) AND {sql.IN_RANGE} {sql.SESSION_ORDER}"""


# The page cache of an import (the bench's raw load uses the same, to compare like with like).
IMPORT_CACHE_KIB = 256 * 1024


class SqliteImportSession:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def repeated(self, ids: Sequence[str]) -> set[str]:
        batch = orjson.dumps(list(ids)).decode()
        with translated_errors():
            seen = {
                row[0]
                for row in self._db.execute(
                    "SELECT value FROM json_each(?) WHERE value IN (SELECT id FROM import_seen)",
                    (batch,),
                )
            }
            self._db.execute(
                "INSERT OR IGNORE INTO import_seen (id) SELECT value FROM json_each(?)", (batch,)
            )
        return seen

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts:
        with translated_errors():
            return upsert_rows(
                self._db, "chargers", UPSERT_CHARGER, list(map(charger_row, chargers))
            )

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts:
        with translated_errors():
            return upsert_rows(self._db, "sessions", UPSERT_SESSION, session_rows(sessions))


class SqliteImports:
    _db: sqlite3.Connection

    @asynccontextmanager
    async def importing(self, *, dry_run: bool = False) -> AsyncIterator[SqliteImportSession]:
        # Rows arrive in file order, not the tables' order, so inserts land all over the
        # b-trees: a page cache that holds them is 2.4x faster on 1M sessions (a bounded cost,
        # given back when the import ends). The memory map that speeds reads up slows a bulk
        # write down (1M sessions: 29.5-31.1 s mapped against 27.1-27.5 s, alternating runs).
        with pragmas(self._db, cache_size=-IMPORT_CACHE_KIB, mmap_size=0):
            async with self._transaction(dry_run) as session:
                yield session

    @asynccontextmanager
    async def _transaction(self, dry_run: bool) -> AsyncIterator[SqliteImportSession]:
        db = self._db
        with translated_errors():
            db.execute("BEGIN IMMEDIATE")
        try:
            # The ids read so far, on disk rather than in memory: imports may be huge.
            db.execute("CREATE TEMP TABLE IF NOT EXISTS import_seen (id TEXT PRIMARY KEY)")
            db.execute("DELETE FROM import_seen")
            yield SqliteImportSession(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        with translated_errors():
            db.execute("ROLLBACK" if dry_run else "COMMIT")

    async def count_chargers(self) -> int:
        with translated_errors():
            (count,) = self._db.execute("SELECT count(*) FROM chargers").fetchone()
        return int(count)

    async def charger_zones(self) -> dict[str, str | None]:
        with translated_errors():
            return dict(self._db.execute("SELECT id, time_zone FROM chargers").fetchall())

    async def export_chargers(self) -> AsyncIterator[Charger]:
        with translated_errors():
            cursor = self._db.execute(_EXPORT_CHARGERS)
        for row in cursor:
            yield charger_from_row(row)

    async def export_sessions(
        self, charger_id: str | None, start: datetime | None, end: datetime | None
    ) -> AsyncIterator[Session]:
        params = {
            "charger": charger_id,
            "start": FAR_PAST if start is None else epoch(start),
            "end": FAR_FUTURE if end is None else epoch(end),
        }
        with translated_errors():
            cursor = self._db.execute(_EXPORT_SESSIONS, params)
        for row in cursor:
            yield session_from_row(row)
