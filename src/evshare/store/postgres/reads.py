"""The API's three read queries, answered with the contract's JSON: the stored documents of
chargers and sessions (see documents.py); a charger's history without an end date in pages.

One round trip each (two for an empty list of sessions, to tell an empty range from a hidden
charger). A page of chargers is assembled with `string_agg` rather than `json_agg`, whose output
puts a newline between elements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from evshare.model import Credential, Visibility, epoch
from evshare.store import sql
from evshare.store.postgres.connection import FAR_FUTURE, FAR_PAST, Connection, Database
from evshare.store.rows import credential_from_row

# OFFSET and LIMIT take a bigint; a page beyond it is as empty as one just past the end.
_BIGINT_MAX = 2**63 - 1

_IN_IDS = "c.id = ANY(:ids::text[])"


def _charger_filter(all_chargers: bool, filtered: bool) -> str:
    clauses = [] if all_chargers else [sql.SCOPED]
    if filtered:
        clauses.append(_IN_IDS)
    return " AND ".join(clauses) or "true"


def _chargers_sql(where: str) -> str:
    # LIMIT NULL is no limit.
    return sql.for_psycopg(f"""SELECT (SELECT count(*) FROM chargers c WHERE {where}),
        (SELECT '[' || coalesce(string_agg(page.doc, ',' ORDER BY page.id), '') || ']'
         FROM (SELECT c.id, c.doc FROM chargers c WHERE {where}
               ORDER BY c.id LIMIT :limit OFFSET :offset) page)""")


_BOTH = (True, False)
_CHARGERS_SQL = {
    (all_, filtered): _chargers_sql(_charger_filter(all_, filtered))
    for all_ in _BOTH
    for filtered in _BOTH
}
_CHARGER_SQL = {a: sql.for_psycopg(sql.charger_doc(a)) for a in _BOTH}
# Rows in index order, joined by the caller: cheaper than sorting inside string_agg. The
# visibility test is an uncorrelated EXISTS, which PostgreSQL runs once, first (a one-time
# filter): a hidden charger's sessions are never scanned.
_SESSIONS_SQL = {a: sql.for_psycopg(sql.session_docs(a, "s.doc")) for a in _BOTH}
_PAGE_SQL = sql.for_psycopg("""SELECT s.start_ts, s.id, s.doc FROM sessions s
    WHERE s.charger_id = :charger AND (s.start_ts, s.id) > (:after_start, :after_id)
      AND s.start_ts >= :start AND s.start_ts < :end AND s.doc IS NOT NULL
    ORDER BY s.start_ts, s.id LIMIT :rows""")
_VISIBLE_SQL = {a: sql.for_psycopg(sql.visible(a)) for a in _BOTH}
_CREDENTIAL_SQL = sql.for_psycopg(sql.CREDENTIAL)


def _storable(charger_id: str) -> bool:
    """PostgreSQL text cannot hold NUL, so no stored id has one (and asking for one is an error)."""
    return "\x00" not in charger_id


class PostgresReads:
    _db: Database

    async def find_credential(self, lookup_id: str) -> Credential | None:
        async def query(conn: Connection) -> Credential | None:
            cursor = await conn.execute(_CREDENTIAL_SQL, {"lookup": lookup_id})
            row = await cursor.fetchone()
            return None if row is None else credential_from_row(row)

        return await self._db.read(query)

    async def chargers_json(
        self, visible: Visibility, ids: Sequence[str] | None, offset: int, limit: int | None
    ) -> tuple[bytes, int]:
        statement = _CHARGERS_SQL[visible.all_chargers, ids is not None]
        params = {
            "key": visible.key_name,
            "ids": [i for i in ids or () if _storable(i)],
            "limit": None if limit is None else min(limit, _BIGINT_MAX),
            "offset": min(offset, _BIGINT_MAX),
        }

        async def query(conn: Connection) -> tuple[bytes, int]:
            cursor = await conn.execute(statement, params)
            [(total, page)] = await cursor.fetchall()
            return str(page).encode(), int(total)

        return await self._db.read(query)

    async def charger_json(self, visible: Visibility, charger_id: str) -> bytes | None:
        if not _storable(charger_id):
            return None
        params = {"charger": charger_id, "key": visible.key_name}

        async def query(conn: Connection) -> bytes | None:
            cursor = await conn.execute(_CHARGER_SQL[visible.all_chargers], params)
            row = await cursor.fetchone()
            return None if row is None else str(row[0]).encode()

        return await self._db.read(query)

    async def sessions_json(
        self, visible: Visibility, charger_id: str, start: datetime | None, end: datetime | None
    ) -> bytes | None:
        if not _storable(charger_id):
            return None
        params = {
            "charger": charger_id,
            "key": visible.key_name,
            "start": FAR_PAST if start is None else epoch(start),
            "end": FAR_FUTURE if end is None else epoch(end),
        }

        async def query(conn: Connection) -> bytes | None:
            cursor = await conn.execute(_SESSIONS_SQL[visible.all_chargers], params)
            rows = await cursor.fetchall()
            if rows:
                return ("[" + ",".join(row[0] for row in rows) + "]").encode()
            # No rows: an empty range of a visible charger, or a charger the caller cannot see.
            cursor = await conn.execute(_VISIBLE_SQL[visible.all_chargers], params)
            return None if await cursor.fetchone() is None else b"[]"

        return await self._db.read(query, statements=2)

    async def charger_visible(self, visible: Visibility, charger_id: str) -> bool:
        if not _storable(charger_id):
            return False
        params = {"charger": charger_id, "key": visible.key_name}

        async def query(conn: Connection) -> bool:
            cursor = await conn.execute(_VISIBLE_SQL[visible.all_chargers], params)
            return await cursor.fetchone() is not None

        return await self._db.read(query)

    async def session_pages(
        self, charger_id: str, start: datetime | None, end: datetime | None, rows: int
    ) -> AsyncIterator[bytes]:
        params: dict[str, object] = {
            "charger": charger_id,
            "start": FAR_PAST if start is None else epoch(start),
            "end": FAR_FUTURE if end is None else epoch(end),
            "after_start": FAR_PAST - 1,
            "after_id": "",
            "rows": rows,
        }

        async def query(conn: Connection) -> list[tuple[int, str, str]]:
            cursor = await conn.execute(_PAGE_SQL, params)
            return await cursor.fetchall()

        while True:
            page = await self._db.read(query)
            if not page:
                return
            yield ",".join(doc for _, _, doc in page).encode()
            if len(page) < rows:
                return
            params["after_start"], params["after_id"] = page[-1][0], page[-1][1]
