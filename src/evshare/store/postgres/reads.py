"""The API's three read queries, answered with the contract's JSON: the stored documents of
chargers and sessions (see documents.py); a charger's history without an end date in pages.

The reads on every request — the credential, a charger, a range of its sessions — go through
batches.py: the requests of a process waiting on the same read share one statement (a range of
sessions longer than a quarter, perhaps a large answer, goes in one of its own). A
charger's sessions come with its visibility in that statement, which tells an empty range
from a hidden charger, and which PostgreSQL tests before it reads any session (a hidden
charger's history is never scanned). A page of chargers is assembled with `string_agg` rather
than `json_agg`, whose output puts a newline between elements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime

from evshare.model import Credential, Visibility, epoch
from evshare.store import sql
from evshare.store.postgres.batches import Batcher
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

# A batch's requests are rows of unnest(...) WITH ORDINALITY: `n` numbers them from 1. A NULL
# key_name is a key that sees every charger.
_SEES = """(r.key_name IS NULL OR EXISTS (SELECT 1 FROM key_chargers kc
    WHERE kc.key_name = r.key_name AND kc.charger_id = r.charger))"""


def _credentials(where: str) -> str:
    """Credentials by lookup id, each row led by its lookup id."""
    return sql.for_psycopg(
        f"SELECT s.lookup_id, {sql.CREDENTIAL_COLUMNS} FROM {sql.CREDENTIAL_TABLES} WHERE {where}"
    )


def _docs(charger: str, start: str, end: str) -> str:
    """The JSON documents, comma-separated in the contract's order, of the completed sessions of
    the charger with start <= start_ts < end (SQL expressions), if `v.visible` (else none read)."""
    return f"""(SELECT string_agg(s.doc, ',' ORDER BY s.start_ts, s.id) FROM sessions s
        WHERE v.visible AND s.charger_id = {charger} AND s.start_ts >= {start}
          AND s.start_ts < {end} AND s.end_ts IS NOT NULL)"""


_CREDENTIALS_SQL = _credentials("s.lookup_id = ANY(:lookups::text[])")
_CHARGERS_BATCH_SQL = sql.for_psycopg(f"""SELECT r.n, c.doc
    FROM unnest(:keys::text[], :chargers::text[]) WITH ORDINALITY AS r(key_name, charger, n)
    JOIN chargers c ON c.id = r.charger
    WHERE {_SEES}""")
# `v.visible` is a parameter of the sessions subquery: false, PostgreSQL skips the scan (a
# one-time filter) rather than reading the range and dropping it.
_SESSIONS_BATCH_SQL = sql.for_psycopg(f"""SELECT r.n, v.visible, d.docs
    FROM unnest(:keys::text[], :chargers::text[], :starts::bigint[], :ends::bigint[])
        WITH ORDINALITY AS r(key_name, charger, start_ts, end_ts, n)
    CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM chargers c WHERE c.id = r.charger)
        AND {_SEES}) v(visible)
    CROSS JOIN LATERAL (SELECT {_docs("r.charger", "r.start_ts", "r.end_ts")}) d(docs)""")
# A batch of one, the rule under light load, takes these simpler statements, in the same shape:
# PostgreSQL plans them in a fraction of the time (a lone month of sessions: 390 against 620 µs
# a round trip, a lone charger 230 against 340, a lone credential 290-340 against 340-380).
_CREDENTIAL_SQL = _credentials("s.lookup_id = :lookup")
_CHARGER_SQL = {
    a: sql.for_psycopg(
        "SELECT 1, c.doc FROM chargers c WHERE c.id = :charger"
        + ("" if a else f" AND {sql.SCOPED}")
    )
    for a in _BOTH
}
_RANGE_SQL = {
    a: sql.for_psycopg(f"""SELECT 1, v.visible, {_docs(":charger", ":start", ":end")}
        FROM (SELECT EXISTS ({sql.visible(a)})) v(visible)""")
    for a in _BOTH
}
_PAGE_SQL = sql.for_psycopg("""SELECT s.start_ts, s.id, s.doc FROM sessions s
    WHERE s.charger_id = :charger AND (s.start_ts, s.id) > (:after_start, :after_id)
      AND s.start_ts >= :start AND s.start_ts < :end AND s.doc IS NOT NULL
    ORDER BY s.start_ts, s.id LIMIT :rows""")
_VISIBLE_SQL = {a: sql.for_psycopg(sql.visible(a)) for a in _BOTH}

# The longest range that shares a statement with other requests' (a quarter, 92 days).
_SHARED_SPAN_S = 92 * 86_400

# A charger asked for by a key that sees every charger (None), or by the key named.
_ChargerAsked = tuple[str | None, str]
# ... and a range of its sessions, in epoch seconds (start inclusive, end exclusive).
_RangeAsked = tuple[str | None, str, int, int]


def _storable(charger_id: str) -> bool:
    """PostgreSQL text cannot hold NUL, so no stored id has one (and asking for one is an error)."""
    return "\x00" not in charger_id


class PostgresReads:
    _db: Database

    def _start_batches(self) -> None:
        # When statements are slow, each kind of read may hold up to a quarter of the pool; the
        # rest is for everything else.
        most = max(1, self._db.size // 4)
        self._credentials: Batcher[str, Credential] = Batcher(self._fetch_credentials, most)
        self._chargers: Batcher[_ChargerAsked, str] = Batcher(self._fetch_chargers, most)
        self._ranges: Batcher[_RangeAsked, bytes] = Batcher(self._fetch_ranges, most)

    async def _stop_batches(self) -> None:
        for batcher in (self._credentials, self._chargers, self._ranges):
            await batcher.close()

    async def find_credential(self, lookup_id: str) -> Credential | None:
        return await self._credentials.get(lookup_id)

    async def _fetch_credentials(self, lookups: Sequence[str]) -> Mapping[str, Credential]:
        statement, params = _CREDENTIALS_SQL, {"lookups": lookups}
        if len(lookups) == 1:
            statement, params = _CREDENTIAL_SQL, {"lookup": lookups[0]}

        async def query(conn: Connection) -> Mapping[str, Credential]:
            cursor = await conn.execute(statement, params)
            return {row[0]: credential_from_row(row[1:]) for row in await cursor.fetchall()}

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
        key = None if visible.all_chargers else visible.key_name
        doc = await self._chargers.get((key, charger_id))
        return None if doc is None else doc.encode()

    async def _fetch_chargers(self, asked: Sequence[_ChargerAsked]) -> Mapping[_ChargerAsked, str]:
        statement, params = (
            _CHARGERS_BATCH_SQL,
            {
                "keys": [key for key, _ in asked],
                "chargers": [c for _, c in asked],
            },
        )
        if len(asked) == 1:
            [(key, charger)] = asked
            statement, params = _CHARGER_SQL[key is None], {"key": key, "charger": charger}

        async def query(conn: Connection) -> Mapping[_ChargerAsked, str]:
            cursor = await conn.execute(statement, params)
            return {asked[n - 1]: doc for n, doc in await cursor.fetchall()}

        return await self._db.read(query)

    async def sessions_json(
        self, visible: Visibility, charger_id: str, start: datetime | None, end: datetime | None
    ) -> bytes | None:
        if not _storable(charger_id):
            return None
        key = None if visible.all_chargers else visible.key_name
        asked = (
            key,
            charger_id,
            FAR_PAST if start is None else epoch(start),
            FAR_FUTURE if end is None else epoch(end),
        )
        if asked[3] - asked[2] > _SHARED_SPAN_S:
            # A long range may be a large answer: it goes alone, and the requests that would
            # have shared its statement do not wait for it.
            return (await self._fetch_ranges([asked])).get(asked)
        return await self._ranges.get(asked)

    async def _fetch_ranges(self, asked: Sequence[_RangeAsked]) -> Mapping[_RangeAsked, bytes]:
        """Each visible charger's sessions in its range, as a JSON array (a hidden or missing
        charger is left out)."""
        statement, params = (
            _SESSIONS_BATCH_SQL,
            {
                "keys": [a[0] for a in asked],
                "chargers": [a[1] for a in asked],
                "starts": [a[2] for a in asked],
                "ends": [a[3] for a in asked],
            },
        )
        if len(asked) == 1:
            [(key, charger, start, end)] = asked
            statement = _RANGE_SQL[key is None]
            params = {"key": key, "charger": charger, "start": start, "end": end}

        async def query(conn: Connection) -> Mapping[_RangeAsked, bytes]:
            cursor = await conn.execute(statement, params)
            return {
                asked[n - 1]: b"[" + (docs or "").encode() + b"]"
                for n, visible, docs in await cursor.fetchall()
                if visible
            }

        return await self._db.read(query)

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
