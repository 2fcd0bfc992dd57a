"""Loading chargers and sessions: idempotent upserts by id, one transaction per call."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from evshare.model import Charger, Session
from evshare.store import sql
from evshare.store.port import UpsertCounts
from evshare.store.rows import CHARGER_COLUMNS, SESSION_COLUMNS, charger_row, session_row
from evshare.store.sqlite import documents
from evshare.store.sqlite.connection import transaction


def upsert_sql(table: str, columns: Sequence[str], doc: str | None = None) -> str:
    """An upsert of one row of `columns` (positional parameters), rendering `doc` if given."""
    names = ", ".join(columns)
    # The WHERE keeps an identical row untouched, so `changes()` counts only real updates.
    upsert = sql.upsert_set(table, columns, doc is not None, distinct="IS NOT")
    if doc is None:
        return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)}) {upsert}"
    # The document is rendered from the given values by this statement ("WHERE true" lets
    # SQLite parse an upsert of a SELECT).
    given = ", ".join(f"? AS {c}" for c in columns)
    return (
        f"INSERT INTO {table} ({names}, doc) SELECT {names}, {doc} FROM (SELECT {given}) "
        f"WHERE true {upsert}"
    )


UPSERT_CHARGER = upsert_sql("chargers", CHARGER_COLUMNS, documents.charger_doc(""))
UPSERT_SESSION = upsert_sql("sessions", SESSION_COLUMNS)


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
