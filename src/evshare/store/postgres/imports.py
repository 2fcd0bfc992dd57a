"""Imports and exports: one long transaction per import, exports read page by page.

An export reads pages of rows in key order, each page one short statement: a single statement
streaming millions of rows would outlive the statement timeout, and would hold a pooled
connection for as long as the consumer takes to write them out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from psycopg.rows import TupleRow

from evshare.model import Charger, Session
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
    CHARGER_COLUMNS,
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

_CHARGER_COLUMNS = ", ".join(CHARGER_COLUMNS)
_CHARGERS_FIRST = f"SELECT {_CHARGER_COLUMNS} FROM chargers ORDER BY id LIMIT {_PAGE}"
_CHARGERS_AFTER = (
    f"SELECT {_CHARGER_COLUMNS} FROM chargers WHERE id > %(after)s ORDER BY id LIMIT {_PAGE}"
)

_SESSION_COLUMNS = ", ".join(SESSION_COLUMNS)
_IN_RANGE = "start_ts >= %(start)s AND start_ts < %(end)s"
_SESSION_ORDER = f"ORDER BY charger_id, start_ts, id LIMIT {_PAGE}"
_SESSIONS_SQL = {  # by (one charger only?, first page?)
    (False, True): f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE {_IN_RANGE} {_SESSION_ORDER}",
    (False, False): f"""SELECT {_SESSION_COLUMNS} FROM sessions WHERE {_IN_RANGE}
        AND (charger_id, start_ts, id) > (%(charger_after)s, %(start_after)s, %(id_after)s)
        {_SESSION_ORDER}""",
    (True, True): f"""SELECT {_SESSION_COLUMNS} FROM sessions
        WHERE charger_id = %(charger)s AND {_IN_RANGE} {_SESSION_ORDER}""",
    (True, False): f"""SELECT {_SESSION_COLUMNS} FROM sessions
        WHERE charger_id = %(charger)s AND {_IN_RANGE}
          AND (start_ts, id) > (%(start_after)s, %(id_after)s) {_SESSION_ORDER}""",
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

    async def charger_zones(self) -> dict[str, str | None]:
        async def query(conn: Connection) -> dict[str, str | None]:
            cursor = await conn.execute("SELECT id, time_zone FROM chargers")
            return dict(await cursor.fetchall())

        return await self._db.read(query)

    async def export_chargers(self) -> AsyncIterator[Charger]:
        sql, params = _CHARGERS_FIRST, dict[str, object]()
        while page := await self._page(sql, params):
            for row in page:
                yield charger_from_row(row)
            sql, params = _CHARGERS_AFTER, {"after": page[-1][0]}

    async def export_sessions(
        self, charger_id: str | None, start: int | None, end: int | None
    ) -> AsyncIterator[Session]:
        one = charger_id is not None
        params: dict[str, object] = {
            "charger": charger_id,
            "start": FAR_PAST if start is None else start,
            "end": FAR_FUTURE if end is None else end,
        }
        sql = _SESSIONS_SQL[one, True]
        while page := await self._page(sql, params):
            for row in page:
                yield session_from_row(row)
            last_id, last_charger, last_start = page[-1][:3]
            params |= {
                "charger_after": last_charger,
                "start_after": last_start,
                "id_after": last_id,
            }
            sql = _SESSIONS_SQL[one, False]

    async def _page(self, sql: str, params: dict[str, object]) -> list[TupleRow]:
        async def query(conn: Connection) -> list[TupleRow]:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall()

        return await self._db.read(query)
