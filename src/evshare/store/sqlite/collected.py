"""Provenance and watermarks of collected chargers (see migrations/versions/0004)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime

import orjson

from evshare.model import Session, epoch
from evshare.store.port import CollectedCharger
from evshare.store.rows import SESSION_COLUMNS, session_from_row
from evshare.store.sqlite.connection import FAR_FUTURE, FAR_PAST, transaction, translated_errors

_COLUMNS = ", ".join(SESSION_COLUMNS)


class SqliteCollected:
    _db: sqlite3.Connection

    async def collected_chargers(self, source: str) -> dict[str, CollectedCharger]:
        with translated_errors():
            rows = self._db.execute(
                "SELECT remote_id, charger_id, watermark FROM collected_chargers WHERE source = ?",
                (source,),
            ).fetchall()
        return {
            remote: CollectedCharger(
                source, remote, local, None if mark is None else date.fromisoformat(mark)
            )
            for remote, local, mark in rows
        }

    async def record_collected(
        self, source: str, ids: Sequence[tuple[str, str]], seen_at: int
    ) -> None:
        with transaction(self._db) as db:
            db.executemany(
                "INSERT INTO collected_chargers "
                "(source, remote_id, charger_id, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (source, remote_id) DO UPDATE SET last_seen = excluded.last_seen",
                [(source, remote, local, seen_at, seen_at) for remote, local in ids],
            )

    async def stored_sessions(
        self, charger_id: str, start: datetime | None, end: datetime | None
    ) -> dict[str, Session]:
        with translated_errors():
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM sessions "
                "WHERE charger_id = ? AND start_ts >= ? AND start_ts < ?",
                (
                    charger_id,
                    FAR_PAST if start is None else epoch(start),
                    FAR_FUTURE if end is None else epoch(end),
                ),
            ).fetchall()
        return {row[0]: session_from_row(row) for row in rows}

    async def finish_collected(
        self, source: str, remote_id: str, watermark: date, vanished: Sequence[str]
    ) -> None:
        with transaction(self._db) as db:
            if vanished:
                db.execute(
                    "DELETE FROM sessions WHERE id IN (SELECT value FROM json_each(?)) AND "
                    "charger_id = (SELECT charger_id FROM collected_chargers "
                    "WHERE source = ? AND remote_id = ?)",
                    (orjson.dumps(list(vanished)).decode(), source, remote_id),
                )
            db.execute(
                "UPDATE collected_chargers SET watermark = ? WHERE source = ? AND remote_id = ?",
                (watermark.isoformat(), source, remote_id),
            )
