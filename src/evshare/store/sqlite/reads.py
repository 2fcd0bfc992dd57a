"""The API's three read queries, answered with the contract's JSON: chargers' stored documents,
sessions rendered by SQLite as they are read (see documents.py).

Calls are synchronous on purpose: each is one indexed lookup that finishes in microseconds, far
less than a hop to a worker thread would cost. A long range of sessions is read in one call too
(the contract pages chargers, not sessions): on one connection that holds the event loop for as
long as SQLite takes to read it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

import orjson

from evshare.model import Credential, Visibility, epoch
from evshare.store import sql
from evshare.store.rows import credential_from_row
from evshare.store.sqlite import documents
from evshare.store.sqlite.connection import FAR_FUTURE, FAR_PAST, translated_errors

_IN_IDS = "c.id IN (SELECT value FROM json_each(:ids))"


def _charger_filter(visible: Visibility, ids: Sequence[str] | None) -> str:
    clauses = [] if visible.all_chargers else [sql.SCOPED]
    if ids is not None:
        clauses.append(_IN_IDS)
    return " AND ".join(clauses) or "1"


_BOTH = (True, False)
_SESSIONS_SQL = {a: sql.session_docs(a, documents.session_doc("s.")) for a in _BOTH}
_VISIBLE_SQL = {a: sql.visible(a) for a in _BOTH}
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
        with translated_errors():
            (others,) = self._db.execute("PRAGMA data_version").fetchone()
            version = (others, self._db.total_changes)
            if version != self._credentials_version or len(self._credentials) > _CACHED_CREDENTIALS:
                self._credentials = {}
                self._credentials_version = version
            try:
                return self._credentials[lookup_id]
            except KeyError:
                row = self._db.execute(sql.CREDENTIAL, {"lookup": lookup_id}).fetchone()
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
        with translated_errors():
            row = self._db.execute(
                _CHARGER_SQL[visible.all_chargers],
                {"charger": charger_id, "key": visible.key_name},
            ).fetchone()
        return None if row is None else str(row[0]).encode()

    async def sessions_json(
        self, visible: Visibility, charger_id: str, start: datetime | None, end: datetime | None
    ) -> bytes | None:
        params = {
            "charger": charger_id,
            "key": visible.key_name,
            "start": FAR_PAST if start is None else epoch(start),
            "end": FAR_FUTURE if end is None else epoch(end),
        }
        with translated_errors():
            rows = self._db.execute(_SESSIONS_SQL[visible.all_chargers], params).fetchall()
            if rows:
                return _joined(rows)
            # No rows: an empty range of a visible charger, or a charger the caller cannot see.
            if self._db.execute(_VISIBLE_SQL[visible.all_chargers], params).fetchone() is None:
                return None
        return b"[]"
