"""Imports and exports: one long transaction per import, exports read page by page.

An export reads pages of rows in key order, each page one short statement: a single statement
streaming millions of rows would outlive the statement timeout, and would hold a pooled
connection for as long as the consumer takes to write them out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from psycopg.rows import TupleRow

from evshare.model import Charger, Session, epoch
from evshare.store import sql
from evshare.store.port import UpsertCounts
from evshare.store.postgres.connection import (
    FAR_FUTURE,
    FAR_PAST,
    Connection,
    Database,
    Transaction,
)
from evshare.store.postgres.writes import UPSERT_STATEMENTS, upsert
from evshare.store.rows import (
    SESSION_COLUMNS,
    charger_from_row,
    charger_row,
    session_from_row,
    session_row,
)

_PAGE = 5000

# The ids read so far in this import, in the database rather than in memory: imports may be huge.
_SEEN_TABLE = 'CREATE TEMPORARY TABLE import_seen (id text COLLATE "C" PRIMARY KEY) ON COMMIT DROP'
_REPEATED = """WITH batch AS (SELECT DISTINCT unnest(%s::text[]) AS id),
        new AS (INSERT INTO import_seen SELECT id FROM batch ON CONFLICT DO NOTHING RETURNING id)
    SELECT id FROM batch EXCEPT SELECT id FROM new"""

_CHARGERS_FIRST = f"SELECT {sql.CHARGER_LIST} FROM chargers ORDER BY id LIMIT {_PAGE}"
_CHARGERS_AFTER = sql.for_psycopg(
    f"SELECT {sql.CHARGER_LIST} FROM chargers WHERE id > :after ORDER BY id LIMIT {_PAGE}"
)

_ID, _CHARGER_ID, _START = map(SESSION_COLUMNS.index, ("id", "charger_id", "start_ts"))
_SESSIONS = f"SELECT {sql.SESSION_LIST} FROM sessions WHERE {sql.IN_RANGE}"
_PAGE_ORDER = f"{sql.SESSION_ORDER} LIMIT {_PAGE}"
_SESSIONS_SQL = {  # by (one charger only?, first page?)
    key: sql.for_psycopg(statement)
    for key, statement in {
        (False, True): f"{_SESSIONS} {_PAGE_ORDER}",
        (False, False): f"""{_SESSIONS}
            AND (charger_id, start_ts, id) > (:charger_after, :start_after, :id_after)
            {_PAGE_ORDER}""",
        (True, True): f"{_SESSIONS} AND charger_id = :charger {_PAGE_ORDER}",
        (True, False): f"""{_SESSIONS} AND charger_id = :charger
            AND (start_ts, id) > (:start_after, :id_after) {_PAGE_ORDER}""",
    }.items()
}


class PostgresImportSession:
    def __init__(self, transaction: Transaction) -> None:
        self._tx = transaction

    async def repeated(self, ids: Sequence[str]) -> set[str]:
        async def work(conn: Connection) -> set[str]:
            cursor = await conn.execute(_REPEATED, (list(ids),))
            return {row[0] for row in await cursor.fetchall()}

        return await self._tx.run(work, statements=1)

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts:
        return await self._upsert("chargers", [charger_row(c) for c in chargers])

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts:
        return await self._upsert("sessions", [session_row(s) for s in sessions])

    async def _upsert(self, table: str, rows: list[tuple[object, ...]]) -> UpsertCounts:
        if not rows:
            return UpsertCounts()

        async def work(conn: Connection) -> UpsertCounts:
            return await upsert(conn, table, rows)

        return await self._tx.run(work, statements=UPSERT_STATEMENTS)


class PostgresImports:
    _db: Database

    @asynccontextmanager
    async def importing(self, *, dry_run: bool = False) -> AsyncIterator[PostgresImportSession]:
        async with self._db.transaction(commit=not dry_run) as transaction:

            async def create_seen(conn: Connection) -> None:
                await conn.execute(_SEEN_TABLE)

            await transaction.run(create_seen, statements=1)
            yield PostgresImportSession(transaction)

    async def count_chargers(self) -> int:
        async def query(conn: Connection) -> int:
            cursor = await conn.execute("SELECT count(*) FROM chargers")
            [(count,)] = await cursor.fetchall()
            return int(count)

        return await self._db.read(query)

    async def charger_zones(self) -> dict[str, str | None]:
        async def query(conn: Connection) -> dict[str, str | None]:
            cursor = await conn.execute("SELECT id, time_zone FROM chargers")
            return dict(await cursor.fetchall())

        return await self._db.read(query)

    async def export_chargers(self) -> AsyncIterator[Charger]:
        statement, params = _CHARGERS_FIRST, dict[str, object]()
        while page := await self._page(statement, params):
            for row in page:
                yield charger_from_row(row)
            statement, params = _CHARGERS_AFTER, {"after": page[-1][0]}

    async def export_sessions(
        self, charger_id: str | None, start: datetime | None, end: datetime | None
    ) -> AsyncIterator[Session]:
        one = charger_id is not None
        params: dict[str, object] = {
            "charger": charger_id,
            "start": FAR_PAST if start is None else epoch(start),
            "end": FAR_FUTURE if end is None else epoch(end),
        }
        statement = _SESSIONS_SQL[one, True]
        while page := await self._page(statement, params):
            for row in page:
                yield session_from_row(row)
            last = page[-1]
            params |= {
                "charger_after": last[_CHARGER_ID],
                "start_after": last[_START],
                "id_after": last[_ID],
            }
            statement = _SESSIONS_SQL[one, False]

    async def _page(self, statement: str, params: dict[str, object]) -> list[TupleRow]:
        async def query(conn: Connection) -> list[TupleRow]:
            cursor = await conn.execute(statement, params)
            return await cursor.fetchall()

        return await self._db.read(query)
