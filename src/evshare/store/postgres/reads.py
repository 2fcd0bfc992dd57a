"""The API's three read queries, answered with the contract's JSON: chargers' stored documents,
sessions rendered by PostgreSQL as they are read (see documents.py).

One round trip each (two for an empty list of sessions, to tell an empty range from a hidden
charger). A page of chargers is assembled with `string_agg` rather than `json_agg`, whose output
puts a newline between elements.
"""

from __future__ import annotations

from collections.abc import Sequence

from evshare.model import Credential
from evshare.store.port import Scope
from evshare.store.postgres import documents
from evshare.store.postgres.connection import FAR_FUTURE, FAR_PAST, Connection, Database

# OFFSET and LIMIT take a bigint; a page beyond it is as empty as one just past the end.
_BIGINT_MAX = 2**63 - 1

_SCOPED = "c.id IN (SELECT charger_id FROM key_chargers WHERE key_name = %(key)s)"
_IN_IDS = "c.id = ANY(%(ids)s::text[])"


def _charger_filter(all_chargers: bool, filtered: bool) -> str:
    clauses = [] if all_chargers else [_SCOPED]
    if filtered:
        clauses.append(_IN_IDS)
    return " AND ".join(clauses) or "true"


def _chargers_sql(where: str) -> str:
    # LIMIT NULL is no limit.
    return f"""SELECT (SELECT count(*) FROM chargers c WHERE {where}),
        (SELECT '[' || coalesce(string_agg(page.doc, ',' ORDER BY page.id), '') || ']'
         FROM (SELECT c.id, c.doc FROM chargers c WHERE {where}
               ORDER BY c.id LIMIT %(limit)s OFFSET %(offset)s) page)"""


_CHARGERS_SQL = {
    (all_, filtered): _chargers_sql(_charger_filter(all_, filtered))
    for all_ in (True, False)
    for filtered in (True, False)
}
_CHARGER_SQL = {
    all_: "SELECT c.doc FROM chargers c WHERE c.id = %(charger)s"
    + ("" if all_ else f" AND {_SCOPED}")
    for all_ in (True, False)
}


def _visible(all_chargers: bool) -> str:
    if all_chargers:
        return "SELECT 1 FROM chargers c WHERE c.id = %(charger)s"
    return f"SELECT 1 FROM chargers c WHERE c.id = %(charger)s AND {_SCOPED}"


def _sessions_sql(all_chargers: bool) -> str:
    # Rows in index order, joined by the caller: cheaper than sorting inside string_agg.
    return f"""SELECT {documents.session_doc("s.")} FROM sessions s
        WHERE s.charger_id = %(charger)s AND s.start_ts >= %(start)s AND s.start_ts < %(end)s
          AND s.end_ts IS NOT NULL AND EXISTS ({_visible(all_chargers)})
        ORDER BY s.start_ts, s.id"""


_SESSIONS_SQL = {all_: _sessions_sql(all_) for all_ in (True, False)}
_VISIBLE_SQL = {all_: _visible(all_) for all_ in (True, False)}

_CREDENTIAL_SQL = """SELECT k.name, s.secret_hash, k.all_chargers, k.expires_at, s.not_after,
        k.revoked_at IS NOT NULL, k.plan
    FROM key_secrets s JOIN api_keys k ON k.name = s.key_name
    WHERE s.lookup_id = %s"""


def _storable(charger_id: str) -> bool:
    """PostgreSQL text cannot hold NUL, so no stored id has one (and asking for one is an error)."""
    return "\x00" not in charger_id


class PostgresReads:
    _db: Database

    async def find_credential(self, lookup_id: str) -> Credential | None:
        async def query(conn: Connection) -> Credential | None:
            cursor = await conn.execute(_CREDENTIAL_SQL, (lookup_id,))
            row = await cursor.fetchone()
            if row is None:
                return None
            name, secret_hash, all_chargers, expires_at, not_after, revoked, plan = row
            ends = [t for t in (expires_at, not_after) if t is not None]
            return Credential(
                key_name=name,
                secret_hash=bytes(secret_hash),
                all_chargers=all_chargers,
                not_after=min(ends) if ends else None,
                revoked=revoked,
                plan=plan,
            )

        return await self._db.read(query)

    async def chargers_json(
        self, scope: Scope, ids: Sequence[str] | None, offset: int, limit: int | None
    ) -> tuple[bytes, int]:
        sql = _CHARGERS_SQL[scope.all_chargers, ids is not None]
        params = {
            "key": scope.key_name,
            "ids": [i for i in ids or () if _storable(i)],
            "limit": None if limit is None else min(limit, _BIGINT_MAX),
            "offset": min(offset, _BIGINT_MAX),
        }

        async def query(conn: Connection) -> tuple[bytes, int]:
            cursor = await conn.execute(sql, params)
            [(total, page)] = await cursor.fetchall()
            return str(page).encode(), int(total)

        return await self._db.read(query)

    async def charger_json(self, scope: Scope, charger_id: str) -> bytes | None:
        if not _storable(charger_id):
            return None
        params = {"charger": charger_id, "key": scope.key_name}

        async def query(conn: Connection) -> bytes | None:
            cursor = await conn.execute(_CHARGER_SQL[scope.all_chargers], params)
            row = await cursor.fetchone()
            return None if row is None else str(row[0]).encode()

        return await self._db.read(query)

    async def sessions_json(
        self, scope: Scope, charger_id: str, start: int | None, end: int | None
    ) -> bytes | None:
        if not _storable(charger_id):
            return None
        params = {
            "charger": charger_id,
            "key": scope.key_name,
            "start": FAR_PAST if start is None else start,
            "end": FAR_FUTURE if end is None else end,
        }

        async def query(conn: Connection) -> bytes | None:
            cursor = await conn.execute(_SESSIONS_SQL[scope.all_chargers], params)
            rows = await cursor.fetchall()
            if rows:
                return ("[" + ",".join(row[0] for row in rows) + "]").encode()
            # No rows: an empty range of a visible charger, or a charger the caller cannot see.
            cursor = await conn.execute(_VISIBLE_SQL[scope.all_chargers], params)
            return None if await cursor.fetchone() is None else b"[]"

        return await self._db.read(query, statements=2)
