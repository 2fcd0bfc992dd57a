"""Loading chargers and sessions: idempotent upserts by id, one transaction per call.

The rows are COPYed into a temporary table and merged with one INSERT ... ON CONFLICT. Loading
the demo set (47,028 sessions in batches of 20,000) takes 0.3 s this way against 3.0 s with
`executemany` of the same upsert (pipelined), and 0.5 s with `unnest` of array parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

from evshare.model import Charger, Session
from evshare.store import sql
from evshare.store.port import UpsertCounts
from evshare.store.postgres import documents
from evshare.store.postgres.connection import Connection, Database
from evshare.store.rows import CHARGER_COLUMNS, SESSION_COLUMNS, Row, charger_row, session_row


def upsert_sql(table: str, columns: Sequence[str], doc: str | None = None) -> str:
    """A merge of the table `incoming` (rows of `columns`) into `table`, rendering `doc` if
    given; it answers how many rows it inserted and how many it updated."""
    names = ", ".join(columns)
    # A document is rendered from the incoming columns by this statement. The WHERE leaves an
    # identical row untouched and out of RETURNING; of the rows returned, a new one has no xmax
    # (no earlier version of it was replaced).
    return f"""WITH merged (inserted) AS (
            INSERT INTO {table} ({names}{", doc" if doc else ""})
            SELECT {names}{", " + doc if doc else ""} FROM incoming
            {sql.upsert_set(table, columns, doc is not None)}
            RETURNING xmax = 0)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"""


_COLUMNS = {"chargers": CHARGER_COLUMNS, "sessions": SESSION_COLUMNS}
_COPY = {
    table: f"COPY incoming ({', '.join(columns)}) FROM STDIN" for table, columns in _COLUMNS.items()
}
_MERGE = {
    "chargers": upsert_sql("chargers", CHARGER_COLUMNS, documents.charger_doc("")),
    "sessions": upsert_sql("sessions", SESSION_COLUMNS),
}


UPSERT_STATEMENTS = 4


async def upsert(conn: Connection, table: str, rows: Sequence[Row]) -> UpsertCounts:
    """Upsert `rows` (id first) inside the caller's transaction and count what changed."""
    # One row per id, the last given winning: ON CONFLICT cannot touch a row twice in a statement.
    latest = list({row[0]: row for row in rows}.values())
    # Dropped at once, not just at commit: an import's transaction upserts batch after batch.
    await conn.execute(f"CREATE TEMPORARY TABLE incoming (LIKE {table}) ON COMMIT DROP")
    async with conn.cursor().copy(_COPY[table]) as copy:
        for row in latest:
            await copy.write_row(row)
    cursor = await conn.execute(_MERGE[table])
    [(inserted, updated)] = await cursor.fetchall()
    await conn.execute("DROP TABLE incoming")
    return UpsertCounts(
        inserted=inserted, updated=updated, unchanged=len(latest) - inserted - updated
    )


class PostgresWrites:
    _db: Database

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts:
        return await self._upsert("chargers", [charger_row(c) for c in chargers])

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts:
        return await self._upsert("sessions", [session_row(s) for s in sessions])

    async def _upsert(self, table: str, rows: list[Row]) -> UpsertCounts:
        if not rows:
            return UpsertCounts()

        async def work(conn: Connection) -> UpsertCounts:
            return await upsert(conn, table, rows)

        return await self._db.write(work, statements=UPSERT_STATEMENTS)
