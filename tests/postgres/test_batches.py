"""The PostgreSQL store's batched reads against a real database: many concurrent requests of
different keys share statements and each is answered exactly what it would be alone (hidden and
missing chargers alike absent, an empty range of a visible charger `[]`), a revoked key is seen
at once, and a hidden charger's sessions are never read (PostgreSQL's own plan says so)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from evshare import keys
from evshare.config import load_settings
from evshare.model import Charger, Session, Visibility
from evshare.store import open_store
from evshare.store.postgres import PostgresStore
from evshare.store.postgres.connection import Connection
from tests.postgres.plans import nodes, range_statements

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

T0 = datetime(2024, 5, 1, tzinfo=UTC)
CHARGERS = ["BATCH-1", "BATCH-2", "BATCH-3"]
SESSIONS_EACH = 12  # one a day from T0
ALL = Visibility("batch-all", all_chargers=True)
ONE = Visibility("batch-one", all_chargers=False)  # sees BATCH-1 only


@pytest.fixture
async def store(postgres_database: str) -> AsyncIterator[PostgresStore]:
    opened = await open_store(load_settings(database_url=postgres_database))
    assert isinstance(opened, PostgresStore)
    await opened.upsert_chargers([Charger(id=c, name=c.lower()) for c in CHARGERS])
    await opened.upsert_sessions(
        [
            Session(f"{c}-s{i}", c, start, start + timedelta(hours=1), 1000.0 + i, 3600)
            for c in CHARGERS
            for i in range(SESSIONS_EACH)
            for start in [T0 + timedelta(days=i)]
        ]
    )
    now = datetime.now(UTC)
    if await opened.get_key(ALL.key_name) is None:
        await keys.create(opened, ALL.key_name, now=now, all_chargers=True)
        await keys.create(opened, ONE.key_name, now=now, charger_ids=["BATCH-1"])
    try:
        yield opened
    finally:
        await opened.close()


def counting_statements(store: PostgresStore) -> list[int]:
    """Counts the store's calls to its pool from now on (one statement each, for these reads)."""
    calls = [0]
    read = store._db.read

    async def counted(work: Callable[[Connection], Awaitable[Any]], **kw: int) -> Any:
        calls[0] += 1
        return await read(work, **kw)

    store._db.read = counted  # type: ignore[method-assign]
    return calls


def recording_ranges(store: PostgresStore) -> list[list[tuple[Any, ...]]]:
    """The requests of each sessions statement the store sends from now on."""
    batches: list[list[tuple[Any, ...]]] = []
    fetch = store._fetch_ranges

    async def recorded(asked: Sequence[Any]) -> Any:
        batches.append(list(asked))
        return await fetch(asked)

    store._fetch_ranges = recorded  # type: ignore[method-assign]
    store._ranges._fetch = recorded  # the batcher's own reference
    return batches


def ids(body: bytes | None) -> list[str] | None:
    return None if body is None else [s["id"] for s in orjson.loads(body)]


async def test_concurrent_requests_share_statements_and_get_their_own_answers(
    store: PostgresStore,
) -> None:
    may = (T0, T0 + timedelta(days=5))
    asked = [
        (vis, charger, window)
        for vis in (ALL, ONE)
        for charger in [*CHARGERS, "NO-SUCH"]
        for window in (may, (T0 - timedelta(days=30), T0), (None, None))
    ] * 5
    calls = counting_statements(store)
    ranges = recording_ranges(store)
    sessions, details = await asyncio.gather(
        asyncio.gather(*(store.sessions_json(v, c, *w) for v, c, w in asked)),
        asyncio.gather(*(store.charger_json(v, c) for v, c, _ in asked)),
    )
    # Far fewer statements than requests (each request alone would be one), but a whole history
    # (dates left out: a range longer than a quarter) always in a statement of its own.
    whole = sum(1 for _, _, window in asked if window == (None, None))
    assert calls[0] <= whole + (2 * len(asked) - whole) // 8
    long_ones = [
        batch for batch in ranges if any(end - start > 92 * 86_400 for *_, start, end in batch)
    ]
    assert len(long_ones) == whole
    assert all(len(batch) == 1 for batch in long_ones)
    assert max(len(batch) for batch in ranges) > 1  # the short ones did share
    for (vis, charger, window), body, detail in zip(asked, sessions, details, strict=True):
        visible = charger != "NO-SUCH" and (vis is ALL or charger == "BATCH-1")
        if not visible:  # hidden and missing alike
            assert (body, detail) == (None, None)
            continue
        assert detail is not None
        assert json.loads(detail)["id"] == charger
        expected = {
            may: [f"{charger}-s{i}" for i in range(5)],
            (T0 - timedelta(days=30), T0): [],
            (None, None): [f"{charger}-s{i}" for i in range(SESSIONS_EACH)],
        }[window]
        assert ids(body) == expected
        # Each answer as the store gives it to a request alone.
        assert body == await store.sessions_json(vis, charger, *window)


async def test_credentials_of_many_keys_share_statements_and_see_a_revocation_at_once(
    store: PostgresStore,
) -> None:
    now = datetime.now(UTC)
    names = [f"batch-k{i}-{now.timestamp():.0f}" for i in range(8)]
    tokens = [await keys.create(store, name, now=now, all_chargers=True) for name in names]
    lookups = [str(keys.lookup_id_of(t)) for t in tokens]
    calls = counting_statements(store)
    found = await asyncio.gather(*(store.find_credential(lk) for lk in lookups * 4))
    assert calls[0] <= 4
    assert [c.key_name if c else None for c in found] == names * 4
    for credential, token in zip(found, tokens * 4, strict=True):
        assert credential is not None
        assert keys.accepts(credential, token, now)
    assert await store.find_credential("no-such-lookup") is None
    await store.revoke_key(names[0], now)
    again = await store.find_credential(lookups[0])
    assert again is not None
    assert again.revoked


@pytest.mark.parametrize("batched", [True, False], ids=["batch", "alone"])
async def test_a_hidden_chargers_sessions_are_never_read(
    store: PostgresStore, batched: bool
) -> None:
    """PostgreSQL's own account of the sessions statement, of a batch and of a request alone:
    for a charger the key may not see, the scan of its sessions never runs (for a visible one
    it does)."""

    async def session_scans(vis: Visibility, charger: str) -> int:
        key = None if vis.all_chargers else vis.key_name
        forms = range_statements(key, charger, -(2**62), 2**62)
        statement, params = forms["batch" if batched else "alone"]

        async def explain(conn: Connection) -> Any:
            cursor = await conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
            [(plan,)] = await cursor.fetchall()
            return plan

        plan = await store._db.read(explain)
        return sum(
            node.get("Actual Loops", 0)
            for node in nodes(plan[0]["Plan"])
            if node.get("Relation Name") == "sessions"
        )

    assert await session_scans(ONE, "BATCH-1") == 1
    assert await session_scans(ONE, "BATCH-2") == 0
    assert await session_scans(ONE, "NO-SUCH") == 0
