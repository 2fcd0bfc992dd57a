"""The API's three read queries, answered with the contract's JSON: the stored documents of
chargers and sessions (see documents.py).

Calls are synchronous on purpose: each is one indexed lookup that finishes in microseconds, far
less than a hop to a worker thread would cost. A range of sessions is read in one call when both
its ends are dates; a charger's history without an end is read in pages (`session_pages`) that
the API streams, so that no read holds the event loop for long.

Whether the caller may see the charger is asked first, and the sessions read only then: a
hidden charger costs what a missing one does (one indexed lookup), however many sessions it has.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import orjson

from evshare.model import Credential, Visibility, epoch
from evshare.store import sql
from evshare.store.rows import credential_from_row
from evshare.store.sqlite.connection import (
    FAR_FUTURE,
    FAR_PAST,
    translated_errors,
    unavailable,
)

_IN_IDS = "c.id IN (SELECT value FROM json_each(:ids))"


def _charger_filter(visible: Visibility, ids: Sequence[str] | None) -> str:
    clauses = [] if visible.all_chargers else [sql.SCOPED]
    if ids is not None:
        clauses.append(_IN_IDS)
    return " AND ".join(clauses) or "1"


_BOTH = (True, False)
_VISIBLE_SQL = {a: sql.visible(a) for a in _BOTH}
# The documents joined in the primary key's order (charger, start, id), which the range scan
# follows, so no sort runs and group_concat meets them in that order.
_DOCS_SQL = """SELECT group_concat(doc, ',') FROM (SELECT s.doc FROM sessions s
    WHERE s.charger_id = :charger AND s.start_ts >= :start AND s.start_ts < :end
      AND s.doc IS NOT NULL ORDER BY s.start_ts, s.id)"""
# One statement, one row: NULL for a charger the key cannot see (CASE tests it first, and reads
# no session then), else the JSON array, as bytes. 4-5 µs less than a visibility statement and
# then the range (of ~10 on a month), the array never decoded and encoded again.
_SESSIONS_SQL = {
    a: f"""SELECT CASE WHEN EXISTS ({sql.visible(a)})
        THEN CAST('[' || coalesce(({_DOCS_SQL}), '') || ']' AS BLOB) END"""
    for a in _BOTH
}
_PAGE_SQL = """SELECT s.start_ts, s.id, s.doc FROM sessions s
    WHERE s.charger_id = :charger AND (s.start_ts, s.id) > (:after_start, :after_id)
      AND s.start_ts >= :start AND s.start_ts < :end AND s.doc IS NOT NULL
    ORDER BY s.start_ts, s.id LIMIT :rows"""
_CHARGER_SQL = {a: sql.charger_doc(a) for a in _BOTH}


def _joined(rows: list[tuple[str]]) -> bytes:
    return ("[" + ",".join(row[0] for row in rows) + "]").encode()


_CACHED_CREDENTIALS = 4096


class SqliteReads:
    _db: sqlite3.Connection
    # Credentials found, and the data_version they were read at (see find_credential).
    _credentials: dict[str, Credential | None]
    _credentials_version: tuple[int, int]

    async def find_credential(self, lookup_id: str) -> Credential | None:
        # Any write invalidates the cache: PRAGMA data_version changes when another connection
        # commits (the CLI, another worker), total_changes when this one writes. A revoked key
        # is refused on its next request.
        db = self._db
        try:
            (others,) = db.execute("PRAGMA data_version").fetchone()
            version = (others, db.total_changes)
            if version != self._credentials_version or len(self._credentials) > _CACHED_CREDENTIALS:
                self._credentials = {}
                self._credentials_version = version
            try:
                return self._credentials[lookup_id]
            except KeyError:
                row = db.execute(sql.CREDENTIAL, {"lookup": lookup_id}).fetchone()
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from None
        credential = None if row is None else credential_from_row(row)
        self._credentials[lookup_id] = credential
        return credential

    async def chargers_json(
        self, visible: Visibility, ids: Sequence[str] | None, offset: int, limit: int | None
    ) -> tuple[bytes, int]:
        where = _charger_filter(visible, ids)
        params = {"key": visible.key_name, "ids": orjson.dumps(list(ids or ())).decode()}
        with translated_errors():
            (total,) = self._db.execute(
                f"SELECT count(*) FROM chargers c WHERE {where}", params
            ).fetchone()
            if offset >= total or limit == 0:
                return b"[]", total
            rows = self._db.execute(
                f"SELECT c.doc FROM chargers c WHERE {where} ORDER BY c.id "
                "LIMIT :limit OFFSET :offset",
                {**params, "limit": -1 if limit is None else limit, "offset": offset},
            ).fetchall()
        return _joined(rows), total

    async def charger_json(self, visible: Visibility, charger_id: str) -> bytes | None:
        try:
            row = self._db.execute(
                _CHARGER_SQL[visible.all_chargers],
                {"charger": charger_id, "key": visible.key_name},
            ).fetchone()
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from None
        return None if row is None else str(row[0]).encode()

    async def sessions_json(
        self, visible: Visibility, charger_id: str, start: datetime | None, end: datetime | None
    ) -> bytes | None:
        params = _range(visible, charger_id, start, end)
        try:
            (answer,) = self._db.execute(_SESSIONS_SQL[visible.all_chargers], params).fetchone()
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from None
        return None if answer is None else bytes(answer)

    async def charger_visible(self, visible: Visibility, charger_id: str) -> bool:
        params = {"charger": charger_id, "key": visible.key_name}
        with translated_errors():
            return (
                self._db.execute(_VISIBLE_SQL[visible.all_chargers], params).fetchone() is not None
            )

    async def session_pages(
        self, charger_id: str, start: datetime | None, end: datetime | None, rows: int
    ) -> AsyncIterator[bytes]:
        params: dict[str, object] = {
            **_range(None, charger_id, start, end),
            "after_start": FAR_PAST - 1,
            "after_id": "",
            "rows": rows,
        }
        while True:
            with translated_errors():
                page = self._db.execute(_PAGE_SQL, params).fetchall()
            if not page:
                return
            yield ",".join(doc for _, _, doc in page).encode()
            if len(page) < rows:
                return
            params["after_start"], params["after_id"] = page[-1][0], page[-1][1]


def _range(
    visible: Visibility | None, charger_id: str, start: datetime | None, end: datetime | None
) -> dict[str, object]:
    return {
        "charger": charger_id,
        "key": "" if visible is None else visible.key_name,
        "start": FAR_PAST if start is None else epoch(start),
        "end": FAR_FUTURE if end is None else epoch(end),
    }
