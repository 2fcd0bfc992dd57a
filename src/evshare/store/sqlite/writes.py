"""Loading chargers and sessions: idempotent upserts by id, one transaction per call."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from evshare.model import Charger, Session
from evshare.store.port import UpsertCounts
from evshare.store.rows import CHARGER_COLUMNS, SESSION_COLUMNS, charger_row, session_row
from evshare.store.sqlite import documents
from evshare.store.sqlite.connection import transaction, translated_errors

_CHARGER_COLUMNS = ", ".join(CHARGER_COLUMNS)
_SESSION_COLUMNS = ", ".join(SESSION_COLUMNS)


def _upsert_sql(table: str, columns: str, doc: str | None = None) -> str:
    names = [c.strip() for c in columns.split(",")]
    changed = [n for n in names if n != "id"]
    assign = ", ".join(f"{n} = excluded.{n}" for n in [*changed, *(["doc"] if doc else [])])
    old = ", ".join(f"{table}.{n}" for n in changed)
    new = ", ".join(f"excluded.{n}" for n in changed)
    # The WHERE keeps an identical row untouched, so `changes()` counts only real updates.
    upsert = f"ON CONFLICT (id) DO UPDATE SET {assign} WHERE ({old}) IS NOT ({new})"
    if doc is None:
        return f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in names)}) {upsert}"
    # The document is rendered from the given values by this statement ("WHERE true" lets
    # SQLite parse an upsert of a SELECT).
    given = ", ".join(f"? AS {n}" for n in names)
    return (
        f"INSERT INTO {table} ({columns}, doc) SELECT {columns}, {doc} FROM (SELECT {given}) "
        f"WHERE true {upsert}"
    )


UPSERT_CHARGER = _upsert_sql("chargers", _CHARGER_COLUMNS, documents.charger_doc(""))
UPSERT_SESSION = _upsert_sql("sessions", _SESSION_COLUMNS)


def upsert_rows(
    db: sqlite3.Connection, table: str, sql: str, rows: Sequence[tuple[object, ...]]
) -> UpsertCounts:
    """Upsert `rows` (id first) inside the caller's transaction and count what changed."""
    # One row per id, the last given winning: counted row by row, an id given twice would be
    # counted twice.
    rows = list({row[0]: row for row in rows}.values())
    ids = orjson.dumps([row[0] for row in rows]).decode()
    (existing,) = db.execute(
        f"SELECT count(*) FROM {table} WHERE id IN (SELECT value FROM json_each(?))", (ids,)
    ).fetchone()
    before = db.total_changes
    db.executemany(sql, rows)
    written = db.total_changes - before
    inserted = len(rows) - existing
    updated = written - inserted
    return UpsertCounts(inserted=inserted, updated=updated, unchanged=existing - updated)


class SqliteWrites:
    _db: sqlite3.Connection

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts:
        with transaction(self._db) as db:
            return upsert_rows(db, "chargers", UPSERT_CHARGER, [charger_row(c) for c in chargers])

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts:
        with transaction(self._db) as db:
            return upsert_rows(db, "sessions", UPSERT_SESSION, [session_row(s) for s in sessions])

    async def count_chargers(self) -> int:
        with translated_errors():
            (count,) = self._db.execute("SELECT count(*) FROM chargers").fetchone()
        return int(count)
