"""Requests and refusals per key per UTC day: increments added in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date

from evshare.model import UsageRow
from evshare.store.sqlite.connection import pragmas, transaction, translated_errors

_ADD = """INSERT INTO usage (key_name, day, requests, throttled) VALUES (?, ?, ?, ?)
    ON CONFLICT (key_name, day) DO UPDATE SET
        requests = requests + excluded.requests, throttled = throttled + excluded.throttled"""

# The server flushes from its event loop's thread, and SQLite's busy handler sleeps in that
# thread: while an import holds the write lock, wait this long at most, fail, and let the next
# flush try again, rather than stall every request for the connection's usual 5 s.
_FLUSH_BUSY_MS = 200


class SqliteUsage:
    _db: sqlite3.Connection

    async def add_usage(self, rows: Sequence[UsageRow]) -> None:
        if not rows:
            return
        params = [(r.key_name, r.day.isoformat(), r.requests, r.throttled) for r in rows]
        with pragmas(self._db, busy_timeout=_FLUSH_BUSY_MS), transaction(self._db) as db:
            db.executemany(_ADD, params)

    async def usage(
        self, key_name: str | None = None, first: date | None = None, last: date | None = None
    ) -> list[UsageRow]:
        with translated_errors():
            rows = self._db.execute(
                """SELECT key_name, day, requests, throttled FROM usage
                   WHERE (:key IS NULL OR key_name = :key)
                     AND (:first IS NULL OR day >= :first) AND (:last IS NULL OR day <= :last)
                   ORDER BY key_name, day""",
                {
                    "key": key_name,
                    "first": first and first.isoformat(),
                    "last": last and last.isoformat(),
                },
            ).fetchall()
        return [
            UsageRow(name, date.fromisoformat(day), requests, throttled)
            for name, day, requests, throttled in rows
        ]
