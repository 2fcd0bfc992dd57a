"""Requests and refusals per key per UTC day: increments added with one statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from evshare.model import UsageRow
from evshare.store.postgres.connection import Connection, Database

# An upsert may touch each row once per statement: rows are summed per (key, day) first, and
# sent in key then day order, so that concurrent flushes from several processes lock rows in
# the same order.
_ADD = """INSERT INTO usage (key_name, day, requests, throttled)
    SELECT * FROM unnest(%s::text[], %s::date[], %s::bigint[], %s::bigint[])
    ON CONFLICT (key_name, day) DO UPDATE SET
        requests = usage.requests + excluded.requests,
        throttled = usage.throttled + excluded.throttled"""

_USAGE = """SELECT key_name, day, requests, throttled FROM usage
    WHERE (%(key)s::text IS NULL OR key_name = %(key)s)
      AND (%(first)s::date IS NULL OR day >= %(first)s)
      AND (%(last)s::date IS NULL OR day <= %(last)s)
    ORDER BY key_name COLLATE "C", day"""


class PostgresUsage:
    _db: Database

    async def add_usage(self, rows: Sequence[UsageRow]) -> None:
        totals: dict[tuple[str, date], list[int]] = {}
        for row in rows:
            counts = totals.setdefault((row.key_name, row.day), [0, 0])
            counts[0] += row.requests
            counts[1] += row.throttled
        if not totals:
            return
        ordered = sorted(totals.items())
        columns = (
            [key for (key, _), _ in ordered],
            [day for (_, day), _ in ordered],
            [requests for _, (requests, _) in ordered],
            [throttled for _, (_, throttled) in ordered],
        )

        async def work(conn: Connection) -> None:
            await conn.execute(_ADD, columns)

        await self._db.write(work, statements=1)

    async def usage(
        self, key_name: str | None = None, first: date | None = None, last: date | None = None
    ) -> list[UsageRow]:
        params = {"key": key_name, "first": first, "last": last}

        async def query(conn: Connection) -> list[UsageRow]:
            cursor = await conn.execute(_USAGE, params)
            return [UsageRow(*row) for row in await cursor.fetchall()]

        return await self._db.read(query)
