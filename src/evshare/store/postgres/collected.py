"""Provenance and watermarks of collected chargers (see migrations/versions/0004)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from evshare.model import Session, epoch
from evshare.store.port import CollectedCharger
from evshare.store.postgres.connection import Connection, Database
from evshare.store.rows import SESSION_COLUMNS, Row, session_from_row

_COLUMNS = ", ".join(SESSION_COLUMNS)
_FAR_PAST = -(2**62)
_FAR_FUTURE = 2**62


class PostgresCollected:
    _db: Database

    async def collected_chargers(self, source: str) -> dict[str, CollectedCharger]:
        async def query(conn: Connection) -> list[tuple[str, str, date | None]]:
            cursor = await conn.execute(
                "SELECT remote_id, charger_id, watermark FROM collected_chargers WHERE source = %s",
                (source,),
            )
            return await cursor.fetchall()

        rows = await self._db.read(query)
        return {
            remote: CollectedCharger(source, remote, local, mark) for remote, local, mark in rows
        }

    async def record_collected(
        self, source: str, ids: Sequence[tuple[str, str]], seen_at: int
    ) -> None:
        if not ids:
            return

        async def work(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO collected_chargers "
                "(source, remote_id, charger_id, first_seen, last_seen) "
                "SELECT %s, r, l, %s, %s FROM unnest(%s::text[], %s::text[]) AS t(r, l) "
                "ON CONFLICT (source, remote_id) DO UPDATE SET last_seen = excluded.last_seen",
                (source, seen_at, seen_at, [r for r, _ in ids], [loc for _, loc in ids]),
            )

        await self._db.write(work, statements=1)

    async def stored_sessions(
        self, charger_id: str, start: datetime | None, end: datetime | None
    ) -> dict[str, Session]:
        async def query(conn: Connection) -> list[Row]:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM sessions "
                "WHERE charger_id = %s AND start_ts >= %s AND start_ts < %s",
                (
                    charger_id,
                    _FAR_PAST if start is None else epoch(start),
                    _FAR_FUTURE if end is None else epoch(end),
                ),
            )
            return await cursor.fetchall()

        rows = await self._db.read(query)
        return {row[0]: session_from_row(row) for row in rows}

    async def finish_collected(
        self, source: str, remote_id: str, watermark: date, vanished: Sequence[str]
    ) -> None:
        async def work(conn: Connection) -> None:
            if vanished:
                await conn.execute(
                    "DELETE FROM sessions WHERE id = ANY(%s::text[]) AND charger_id = "
                    "(SELECT charger_id FROM collected_chargers "
                    "WHERE source = %s AND remote_id = %s)",
                    (list(vanished), source, remote_id),
                )
            await conn.execute(
                "UPDATE collected_chargers SET watermark = %s WHERE source = %s AND remote_id = %s",
                (watermark, source, remote_id),
            )

        await self._db.write(work, statements=2)
