"""Migration 0007: PostgreSQL serves a charger's sessions from one index that carries their
documents. The sessions statement is answered by an index-only scan of it; the longest ids an
import accepts, in 4-byte characters, still fit an index entry; the migration goes down and up
again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest

from evshare.config import load_settings
from evshare.model import MAX_ID_LENGTH, Charger, Session, Visibility
from evshare.store import open_store, schema
from evshare.store.postgres import PostgresStore
from evshare.store.postgres.connection import Connection
from tests.postgres.plans import nodes, range_statements

pytestmark = pytest.mark.postgres

EVERYONE = Visibility("admin", all_chargers=True)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
# The longest ids accepted, of characters UTF-8 spends 4 bytes on, random enough that PostgreSQL
# cannot compress them: a session's document then holds over 2,000 bytes of ids.
LONG_CHARGER = "".join(chr(0x1F600 + (i * 7919) % 80) for i in range(MAX_ID_LENGTH))
LONG_SESSION = "".join(chr(0x1F300 + (i * 104729) % 700) for i in range(MAX_ID_LENGTH))


def _indexes(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'sessions'")
        return {name for (name,) in rows}


async def _load_and_plan(url: str) -> tuple[bytes | None, list[dict[str, Any]]]:
    store = await open_store(load_settings(database_url=url))
    assert isinstance(store, PostgresStore)
    try:
        await store.upsert_chargers([Charger(id=LONG_CHARGER, name="long")])
        await store.upsert_sessions(
            [
                Session(LONG_SESSION, LONG_CHARGER, T0, T0 + timedelta(hours=1), 5.0, 3600),
                Session("short", LONG_CHARGER, T0 + timedelta(days=1), T0 + timedelta(days=2), 1),
            ]
        )
        body = await store.sessions_json(EVERYONE, LONG_CHARGER, None, None)
        forms = range_statements(None, LONG_CHARGER, 0, 2**62)

        async def explain(conn: Connection) -> list[dict[str, Any]]:
            # A table this small is cheaper to scan whole: ask how the index would be used.
            await conn.execute("SET enable_seqscan = off")
            await conn.execute("SET enable_bitmapscan = off")
            found = []
            try:
                for statement, params in (forms["batch"], forms["alone"]):
                    cursor = await conn.execute("EXPLAIN (FORMAT JSON) " + statement, params)
                    [(plan,)] = await cursor.fetchall()
                    found += nodes(plan[0]["Plan"])
            finally:
                await conn.execute("RESET ALL")
            return found

        return body, await store._db.read(explain, statements=6)
    finally:
        await store.close()


def test_sessions_are_served_from_the_index_alone(empty_database: str) -> None:
    schema.upgrade(empty_database)
    assert "sessions_served" in _indexes(empty_database)
    assert "sessions_by_charger" not in _indexes(empty_database)
    body, plan = asyncio.run(_load_and_plan(empty_database))
    assert body is not None
    assert [s["id"] for s in orjson.loads(body)] == [LONG_SESSION, "short"]
    assert len(orjson.loads(body)[0]["chargerId"].encode()) == 4 * MAX_ID_LENGTH
    scans = [n for n in plan if n.get("Relation Name") == "sessions"]
    # The statement of a batch, then that of a request alone.
    assert [(n["Node Type"], n["Index Name"]) for n in scans] == [
        ("Index Only Scan", "sessions_served"),
        ("Index Only Scan", "sessions_served"),
    ]


def test_the_migration_goes_down_and_up_again(empty_database: str) -> None:
    from alembic import command

    schema.upgrade(empty_database)
    config = schema._config()
    with schema._connection(empty_database, 5) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    assert "sessions_by_charger" in _indexes(empty_database)
    assert "sessions_served" not in _indexes(empty_database)
    schema.upgrade(empty_database)
    assert "sessions_served" in _indexes(empty_database)
    assert "sessions_by_charger" not in _indexes(empty_database)
