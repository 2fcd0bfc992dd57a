"""The API's three read queries, answered with the contract's JSON: chargers' stored documents,
sessions rendered by SQLite as they are read (see documents.py).

Calls are synchronous on purpose: each is one indexed lookup that finishes in microseconds, far
less than a hop to a worker thread would cost; long scans are bounded by the contract's paging.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from evshare.model import Credential
from evshare.store.port import Scope
from evshare.store.sqlite import documents
from evshare.store.sqlite.connection import FAR_FUTURE, FAR_PAST, translated_errors

_SCOPED = "c.id IN (SELECT charger_id FROM key_chargers WHERE key_name = :key)"
_IN_IDS = "c.id IN (SELECT value FROM json_each(:ids))"


def _charger_filter(scope: Scope, ids: Sequence[str] | None) -> str:
    clauses = [] if scope.all_chargers else [_SCOPED]
    if ids is not None:
        clauses.append(_IN_IDS)
    return " AND ".join(clauses) or "1"


def _visible(scope: Scope) -> str:
    if scope.all_chargers:
        return "SELECT 1 FROM chargers c WHERE c.id = :charger"
    return f"SELECT 1 FROM chargers c WHERE c.id = :charger AND {_SCOPED}"


def _sessions_sql(scope: Scope) -> str:
    return f"""SELECT {documents.session_doc("s.")} FROM sessions s
        WHERE s.charger_id = :charger AND s.start_ts >= :start AND s.start_ts < :end
          AND s.end_ts IS NOT NULL AND EXISTS ({_visible(scope)})
        ORDER BY s.start_ts, s.id"""


_SESSIONS_SQL = {all_: _sessions_sql(Scope("", all_)) for all_ in (True, False)}
_VISIBLE_SQL = {all_: _visible(Scope("", all_)) for all_ in (True, False)}
_CHARGER_SQL = {
    all_: "SELECT c.doc FROM chargers c WHERE c.id = :charger" + ("" if all_ else f" AND {_SCOPED}")
    for all_ in (True, False)
}


def _credential(row: tuple[Any, ...]) -> Credential:
    name, secret_hash, all_chargers, expires_at, not_after, revoked, plan = row
    ends = [t for t in (expires_at, not_after) if t is not None]
    return Credential(
        key_name=name,
        secret_hash=bytes(secret_hash),
        all_chargers=bool(all_chargers),
        not_after=min(ends) if ends else None,
        revoked=bool(revoked),
        plan=plan,
    )


def _joined(rows: list[tuple[str]]) -> bytes:
    return ("[" + ",".join(row[0] for row in rows) + "]").encode()


_CREDENTIAL_SQL = """SELECT k.name, s.secret_hash, k.all_chargers, k.expires_at, s.not_after,
        k.revoked_at IS NOT NULL, k.plan
    FROM key_secrets s JOIN api_keys k ON k.name = s.key_name
    WHERE s.lookup_id = ?"""
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
                row = self._db.execute(_CREDENTIAL_SQL, (lookup_id,)).fetchone()
        credential = None if row is None else _credential(row)
        self._credentials[lookup_id] = credential
        return credential

    async def chargers_json(
        self, scope: Scope, ids: Sequence[str] | None, offset: int, limit: int | None
    ) -> tuple[bytes, int]:
        where = _charger_filter(scope, ids)
        params = {"key": scope.key_name, "ids": orjson.dumps(list(ids or ())).decode()}
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

    async def charger_json(self, scope: Scope, charger_id: str) -> bytes | None:
        with translated_errors():
            row = self._db.execute(
                _CHARGER_SQL[scope.all_chargers], {"charger": charger_id, "key": scope.key_name}
            ).fetchone()
        return None if row is None else str(row[0]).encode()

    async def sessions_json(
        self, scope: Scope, charger_id: str, start: int | None, end: int | None
    ) -> bytes | None:
        params = {
            "charger": charger_id,
            "key": scope.key_name,
            "start": FAR_PAST if start is None else start,
            "end": FAR_FUTURE if end is None else end,
        }
        with translated_errors():
            rows = self._db.execute(_SESSIONS_SQL[scope.all_chargers], params).fetchall()
            if rows:
                return _joined(rows)
            # No rows: an empty range of a visible charger, or a charger the caller cannot see.
            if self._db.execute(_VISIBLE_SQL[scope.all_chargers], params).fetchone() is None:
                return None
        return b"[]"
