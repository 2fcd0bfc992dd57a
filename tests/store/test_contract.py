"""The store contract (store/port.py), on every store: each test runs once per adapter through the
`store_url` fixture (memory, SQLite, PostgreSQL), and asserts what the port promises, edge cases
included."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from evshare.config import load_settings
from evshare.errors import KeyManagementError, NoSuchPlan
from evshare.model import UNLIMITED_PLAN, ApiKey, Charger, Plan, Session
from evshare.store import Store, UpsertCounts, Visibility, open_store, schema
from evshare.store.memory import MemoryStore
from evshare.store.port import SessionPages

pytestmark = pytest.mark.anyio

EVERYONE = Visibility("admin", all_chargers=True)
T0 = datetime(2025, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)

FULL = Charger(
    id="CA-0002",
    name="Calgary — Kensington Rd L2",
    serial_number="SN-1",
    model="SmartTWO-BSR",
    manufacturer="FLO",
    max_output_power_w=7200.0,
    max_available_current_a=30,
    output_voltage_v=240.5,
    number_of_connectors=2,
    time_zone="America/Edmonton",
    latitude=51.0447,
    longitude=-114.0719,
    commissioning_date=date(2021, 4, 12),
)
MINIMAL = Charger(id="CA-0010", name="Minimal")
# Byte order puts upper case before lower case and ASCII before multi-byte UTF-8, and an id may
# hold any character a JSON string must escape.
CHARGERS = [
    MINIMAL,
    FULL,
    Charger(id="ca-0001", name="lower case"),
    Charger(id="Zeta", name="capital Z"),
    Charger(id="Électrique", name="non-ASCII"),
    Charger(id='odd "quoted" \\ id', name="escapes"),
]
IDS_IN_BYTE_ORDER = sorted((c.id for c in CHARGERS), key=str.encode)

FULL_JSON = {
    "id": "CA-0002",
    "name": "Calgary — Kensington Rd L2",
    "serialNumber": "SN-1",
    "model": "SmartTWO-BSR",
    "manufacturer": "FLO",
    "maxOutputPower": 7200,
    "maxAvailableCurrent": 30,
    "outputVoltage": 240.5,
    "numberOfConnectors": 2,
    "timeZone": "America/Edmonton",
    "latitude": 51.0447,
    "longitude": -114.0719,
    "commissioningDate": "2021-04-12",
}


def session(
    sid: str,
    start: datetime,
    minutes: int | None = 60,
    *,
    charger: str = "CA-0002",
    energy: float = 17934.1,
    duration: int | None = 3000,
) -> Session:
    end = None if minutes is None else start + timedelta(minutes=minutes)
    return Session(sid, charger, start, end, energy, duration)


def session_json(s: Session) -> dict[str, Any]:
    assert s.end_time is not None
    doc: dict[str, Any] = {
        "id": s.id,
        "chargerId": s.charger_id,
        "energy": s.energy_wh,
        "startTime": s.start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endTime": s.end_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if s.charging_duration_s is not None:
        doc["chargingDuration"] = s.charging_duration_s
    return doc


# Ordered by start then id: "s-a" and "s-b" start together; "s-open" is still in progress.
BEFORE = session("s-before", T0 - timedelta(seconds=1))
FIRST = session("s-first", T0, energy=18000)
SAME_START_B = session("s-b", T0 + timedelta(days=3))
SAME_START_A = session("s-a", T0 + timedelta(days=3), duration=None, energy=0.5)
LAST = session("s-last", T0 + timedelta(days=31) - timedelta(seconds=1))
AFTER = session("s-after", T0 + timedelta(days=31))
OPEN = session("s-open", T0 + timedelta(days=5), minutes=None)
ELSEWHERE = session("s-other", T0 + timedelta(days=2), charger="ca-0001")
ODD = session('s-"odd"\\é', T0 + timedelta(days=4), charger='odd "quoted" \\ id')
SESSIONS = [BEFORE, FIRST, SAME_START_B, SAME_START_A, LAST, AFTER, OPEN, ELSEWHERE, ODD]
SERVED_FOR_FULL = [BEFORE, FIRST, SAME_START_A, SAME_START_B, LAST, AFTER]


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(load_settings(database_url=store_url))
    yield opened
    await opened.close()


@pytest.fixture
async def loaded(store: Store) -> Store:
    await store.upsert_chargers(CHARGERS)
    await store.upsert_sessions(SESSIONS)
    return store


async def scoped_key(store: Store, name: str, charger_ids: list[str]) -> Visibility:
    key = ApiKey(name=name, all_chargers=False, created_at=NOW, charger_ids=frozenset(charger_ids))
    await store.create_key(key, f"lookup-{name}", b"hash")
    return Visibility(name, all_chargers=False)


async def listed(
    store: Store,
    scope: Visibility = EVERYONE,
    ids: list[str] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[Any], int]:
    body, total = await store.chargers_json(scope, ids, offset, limit)
    return orjson.loads(body), total


async def ids_listed(
    store: Store, scope: Visibility = EVERYONE, **kwargs: Any
) -> tuple[list[str], int]:
    chargers, total = await listed(store, scope, **kwargs)
    return [c["id"] for c in chargers], total


async def sessions(
    store: Store, charger: str, start: datetime | None = None, end: datetime | None = None
) -> list[Any] | None:
    body = await store.sessions_json(
        EVERYONE,
        charger,
        start,
        end,
    )
    return None if body is None else orjson.loads(body)


# --- an empty store ----------------------------------------------------------------------------


async def test_an_empty_store_answers_every_read_with_nothing(store: Store) -> None:
    assert await store.chargers_json(EVERYONE, None, 0, 10) == (b"[]", 0)
    assert await store.chargers_json(EVERYONE, ["CA-0002"], 0, None) == (b"[]", 0)
    assert await store.charger_json(EVERYONE, "CA-0002") is None
    assert await store.sessions_json(EVERYONE, "CA-0002", None, None) is None
    assert await store.count_chargers() == 0
    assert await store.list_keys() == []
    assert await store.get_key("nobody") is None
    assert await store.find_credential("0123456789ab") is None
    await store.ping()


# --- chargers ----------------------------------------------------------------------------------


async def test_chargers_are_listed_in_byte_order_of_id_with_their_total(loaded: Store) -> None:
    assert await ids_listed(loaded) == (IDS_IN_BYTE_ORDER, len(CHARGERS))
    assert IDS_IN_BYTE_ORDER[:3] == ["CA-0002", "CA-0010", "Zeta"]
    assert IDS_IN_BYTE_ORDER[-1] == "Électrique"
    assert await loaded.count_chargers() == len(CHARGERS)


async def test_a_charger_renders_every_field_it_has_and_leaves_out_the_rest(loaded: Store) -> None:
    chargers, _ = await listed(loaded, ids=["CA-0002", "CA-0010"])
    assert chargers == [FULL_JSON, {"id": "CA-0010", "name": "Minimal"}]
    detail = await loaded.charger_json(EVERYONE, "CA-0002")
    assert detail is not None
    assert orjson.loads(detail) == FULL_JSON
    # Whole numbers stay whole numbers, and the keys come in the contract's order.
    assert isinstance(orjson.loads(detail)["numberOfConnectors"], int)
    assert list(orjson.loads(detail)) == list(FULL_JSON)
    odd = await loaded.charger_json(EVERYONE, 'odd "quoted" \\ id')
    assert odd is not None
    assert orjson.loads(odd) == {"id": 'odd "quoted" \\ id', "name": "escapes"}


async def test_pages_are_slices_of_the_same_order_and_keep_the_true_total(loaded: Store) -> None:
    pages = [await ids_listed(loaded, offset=offset, limit=4) for offset in (0, 4, 8)]
    assert pages == [
        (IDS_IN_BYTE_ORDER[:4], 6),
        (IDS_IN_BYTE_ORDER[4:], 6),
        ([], 6),
    ]
    assert await ids_listed(loaded, offset=6, limit=None) == ([], 6)
    assert await ids_listed(loaded, offset=2**70, limit=1000) == ([], 6)
    assert await ids_listed(loaded, offset=0, limit=0) == ([], 6)
    assert await ids_listed(loaded, offset=5, limit=1) == (IDS_IN_BYTE_ORDER[5:], 6)


async def test_an_ids_filter_keeps_only_visible_known_ids_once(loaded: Store) -> None:
    wanted = ["Zeta", "unknown", "CA-0002", "Zeta", "zeta", "nul\x00id"]
    assert await ids_listed(loaded, ids=wanted) == (["CA-0002", "Zeta"], 2)
    assert await ids_listed(loaded, ids=wanted, offset=1, limit=1) == (["Zeta"], 2)
    assert await ids_listed(loaded, ids=[]) == ([], 0)
    assert await ids_listed(loaded, ids=["unknown"]) == ([], 0)


async def test_an_unknown_charger_has_no_detail_and_no_sessions(loaded: Store) -> None:
    for missing in ("CA-9999", "ca-0002", "", "nul\x00id"):
        assert await loaded.charger_json(EVERYONE, missing) is None
        assert await loaded.sessions_json(EVERYONE, missing, None, None) is None


# --- scopes ------------------------------------------------------------------------------------


async def test_a_scoped_key_sees_only_the_chargers_granted_to_it(loaded: Store) -> None:
    scope = await scoped_key(loaded, "partner", ["Zeta", "CA-0010", "not-imported-yet"])
    await scoped_key(loaded, "other", ["CA-0002"])
    assert await ids_listed(loaded, scope) == (["CA-0010", "Zeta"], 2)
    assert await ids_listed(loaded, scope, offset=1, limit=5) == (["Zeta"], 2)
    assert await ids_listed(loaded, scope, ids=["CA-0002", "Zeta", "not-imported-yet"]) == (
        ["Zeta"],
        1,
    )
    assert await loaded.charger_json(scope, "Zeta") is not None
    assert await loaded.charger_json(scope, "CA-0002") is None
    assert await loaded.charger_json(scope, "not-imported-yet") is None
    # A hidden charger is as absent as a missing one, even when it has sessions.
    assert await loaded.sessions_json(scope, "CA-0002", None, None) is None
    assert await loaded.sessions_json(scope, "Zeta", None, None) == b"[]"


async def test_a_scope_names_its_own_key_only(loaded: Store) -> None:
    await scoped_key(loaded, "other", ["CA-0002"])
    stranger = Visibility("nobody", all_chargers=False)
    assert await ids_listed(loaded, stranger) == ([], 0)
    assert await loaded.charger_json(stranger, "CA-0002") is None
    assert await loaded.sessions_json(stranger, "CA-0002", None, None) is None


async def test_a_charger_imported_after_the_key_becomes_visible_to_it(loaded: Store) -> None:
    scope = await scoped_key(loaded, "partner", ["not-imported-yet"])
    assert await ids_listed(loaded, scope) == ([], 0)
    await loaded.upsert_chargers([Charger(id="not-imported-yet", name="late")])
    assert await ids_listed(loaded, scope) == (["not-imported-yet"], 1)


# --- sessions ----------------------------------------------------------------------------------


async def test_sessions_come_by_start_then_id_and_in_progress_ones_never(loaded: Store) -> None:
    assert await sessions(loaded, "CA-0002") == [session_json(s) for s in SERVED_FOR_FULL]
    assert await sessions(loaded, "ca-0001") == [session_json(ELSEWHERE)]
    assert await sessions(loaded, 'odd "quoted" \\ id') == [session_json(ODD)]


async def test_a_session_renders_as_the_contract_says(loaded: Store) -> None:
    body = await loaded.sessions_json(EVERYONE, "CA-0002", T0, T0 + timedelta(seconds=1))
    assert body is not None
    [first] = orjson.loads(body)
    assert first == {
        "id": "s-first",
        "chargerId": "CA-0002",
        "energy": 18000,
        "startTime": "2025-03-01T00:00:00Z",
        "endTime": "2025-03-01T01:00:00Z",
        "chargingDuration": 3000,
    }
    assert isinstance(first["chargingDuration"], int)
    assert list(first) == list(session_json(FIRST))
    [same_a, _] = await sessions(loaded, "CA-0002", SAME_START_A.start_time, LAST.start_time) or []
    assert "chargingDuration" not in same_a
    assert same_a["energy"] == 0.5
    last = await sessions(loaded, "CA-0002", LAST.start_time, AFTER.start_time)
    assert last == [session_json(LAST)]
    assert b'"energy":17934.1,' in (
        await loaded.sessions_json(EVERYONE, "CA-0002", LAST.start_time, None) or b""
    )


async def test_the_range_includes_its_start_and_excludes_its_end(loaded: Store) -> None:
    march = (T0, T0 + timedelta(days=31))
    assert await sessions(loaded, "CA-0002", *march) == [
        session_json(s) for s in (FIRST, SAME_START_A, SAME_START_B, LAST)
    ]
    assert await sessions(loaded, "CA-0002", start=T0) == [
        session_json(s) for s in (FIRST, SAME_START_A, SAME_START_B, LAST, AFTER)
    ]
    assert await sessions(loaded, "CA-0002", end=T0) == [session_json(BEFORE)]
    assert await sessions(loaded, "CA-0002", T0, T0) == []
    assert await sessions(loaded, "CA-0002", T0 + timedelta(days=60)) == []


async def test_a_session_once_finished_is_served(loaded: Store) -> None:
    finished = replace(OPEN, end_time=OPEN.start_time + timedelta(hours=2))
    counts = await loaded.upsert_sessions([finished])
    assert counts == UpsertCounts(updated=1)
    served = await sessions(loaded, "CA-0002")
    assert served is not None
    assert session_json(finished) in served


# --- loading -----------------------------------------------------------------------------------


async def test_upserts_count_inserted_updated_and_unchanged_rows(store: Store) -> None:
    assert await store.upsert_chargers(CHARGERS) == UpsertCounts(inserted=6)
    assert await store.upsert_chargers(CHARGERS) == UpsertCounts(unchanged=6)
    renamed = replace(FULL, name="renamed", serial_number=None)
    new = Charger(id="CA-0100", name="new")
    assert await store.upsert_chargers([renamed, MINIMAL, new]) == UpsertCounts(1, 1, 1)
    detail = await store.charger_json(EVERYONE, "CA-0002")
    assert detail is not None
    assert "serialNumber" not in orjson.loads(detail)
    assert orjson.loads(detail)["name"] == "renamed"

    assert await store.upsert_sessions(SESSIONS) == UpsertCounts(inserted=len(SESSIONS))
    assert await store.upsert_sessions(SESSIONS) == UpsertCounts(unchanged=len(SESSIONS))
    corrected = replace(FIRST, energy_wh=18000.5)
    assert await store.upsert_sessions([corrected, LAST]) == UpsertCounts(updated=1, unchanged=1)
    assert await store.upsert_sessions([]) == UpsertCounts()
    assert await store.upsert_chargers([]) == UpsertCounts()


async def test_an_id_given_twice_in_one_call_counts_once_and_the_last_wins(store: Store) -> None:
    first, second = Charger(id="CA-1", name="first"), Charger(id="CA-1", name="second")
    assert await store.upsert_chargers([first, second]) == UpsertCounts(inserted=1)
    assert await store.upsert_chargers([second, second]) == UpsertCounts(unchanged=1)
    assert await store.upsert_chargers([first, second, first]) == UpsertCounts(updated=1)
    detail = await store.charger_json(EVERYONE, "CA-1")
    assert detail is not None
    assert orjson.loads(detail)["name"] == "first"


async def test_a_failed_write_leaves_nothing_behind(store: Store) -> None:
    broken = Charger(id="CA-2", name=None)  # type: ignore[arg-type]
    # A database's NOT NULL constraint, or the memory and DynamoDB stores' own check.
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError, ValueError)):
        await store.upsert_chargers([Charger(id="CA-1", name="fine"), broken])
    assert await store.count_chargers() == 0
    assert await store.upsert_chargers([Charger(id="CA-1", name="fine")]) == UpsertCounts(1)


# --- keys --------------------------------------------------------------------------------------


def api_key(name: str, **fields: Any) -> ApiKey:
    return ApiKey(**{"name": name, "all_chargers": True, "created_at": NOW, **fields})


async def test_keys_round_trip_in_byte_order_of_name(store: Store) -> None:
    partner = api_key(
        "partner",
        all_chargers=False,
        charger_ids=frozenset({"CA-0002", "Zeta"}),
        expires_at=NOW + timedelta(days=30),
        plan="basic",
    )
    admin, zulu = api_key("Admin"), api_key("Zulu")
    await store.create_plan(Plan("basic", rate=1, burst=1))
    for n, key in enumerate((partner, admin, zulu)):
        await store.create_key(key, f"lookup{n}", bytes([n]) * 32)
    assert await store.list_keys() == [admin, zulu, partner]
    assert await store.get_key("partner") == partner
    assert await store.get_key("PARTNER") is None


async def test_a_key_is_created_only_on_a_plan_that_exists(store: Store) -> None:
    with pytest.raises(NoSuchPlan, match="there is no plan named 'gold'"):
        await store.create_key(api_key("ops", plan="gold"), "lookup1", b"1" * 32)
    assert await store.list_keys() == []
    assert await store.find_credential("lookup1") is None
    await store.create_key(api_key("free", plan=UNLIMITED_PLAN), "lookup2", b"2" * 32)
    assert await store.get_key("free") == api_key("free", plan=UNLIMITED_PLAN)


async def test_a_key_name_is_taken_once(store: Store) -> None:
    await store.create_key(api_key("ops"), "lookup1", b"1" * 32)
    with pytest.raises(KeyManagementError, match="a key named 'ops' already exists"):
        await store.create_key(api_key("ops", all_chargers=False), "lookup2", b"2" * 32)
    assert await store.list_keys() == [api_key("ops")]
    assert await store.find_credential("lookup2") is None


async def test_a_credential_carries_what_authentication_needs(store: Store) -> None:
    expires = NOW + timedelta(days=30)
    key = api_key("partner", all_chargers=False, charger_ids=frozenset({"A"}), expires_at=expires)
    await store.create_key(key, "lookup1", b"\x00\xff" * 16)
    credential = await store.find_credential("lookup1")
    assert credential is not None
    assert credential.key_name == "partner"
    assert credential.secret_hash == b"\x00\xff" * 16
    assert credential.all_chargers is False
    assert credential.not_after == expires
    assert credential.revoked is False
    assert credential.plan is None


async def test_revoking_stops_every_secret_once_and_for_all(store: Store) -> None:
    await store.create_key(api_key("ops"), "lookup1", b"1" * 32)
    await store.revoke_key("ops", NOW + timedelta(hours=1))
    await store.revoke_key("ops", NOW + timedelta(hours=2))  # the first revocation stands
    key = await store.get_key("ops")
    assert key is not None
    assert key.revoked_at == NOW + timedelta(hours=1)
    credential = await store.find_credential("lookup1")
    assert credential is not None
    assert credential.revoked is True
    with pytest.raises(KeyManagementError, match="there is no key named 'ghost'"):
        await store.revoke_key("ghost", NOW)


async def test_a_new_secret_retires_the_older_ones_at_the_given_time(store: Store) -> None:
    expires = NOW + timedelta(days=10)
    await store.create_key(api_key("ops", expires_at=expires), "lookup1", b"1" * 32)
    await store.add_secret("ops", "lookup2", b"2" * 32, retire_others_at=NOW + timedelta(days=1))
    await store.add_secret("ops", "lookup3", b"3" * 32, retire_others_at=NOW + timedelta(days=2))
    first, second, third = [await store.find_credential(f"lookup{n}") for n in (1, 2, 3)]
    assert first is not None
    assert second is not None
    assert third is not None
    # Each secret ends at the earliest of: its retirement, the key's expiry.
    assert first.not_after == NOW + timedelta(days=1)  # not pushed later by the 2nd
    assert second.not_after == NOW + timedelta(days=2)
    assert third.not_after == expires
    assert third.secret_hash == b"3" * 32
    assert third.key_name == "ops"
    with pytest.raises(KeyManagementError, match="there is no key named 'ghost'"):
        await store.add_secret("ghost", "lookup4", b"4" * 32, retire_others_at=NOW)
    assert await store.find_credential("lookup4") is None


# --- the same answers from every store ---------------------------------------------------------


async def test_every_store_renders_the_same_json_for_the_same_data(
    tmp_path: Path, postgres_database: str
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'same.db'}"
    schema.upgrade(sqlite_url)
    memory_url = "memory://same-json"
    answers = []
    for url in (memory_url, sqlite_url, postgres_database):
        store = await open_store(load_settings(database_url=url))
        try:
            await _empty(store, url)
            await store.upsert_chargers(CHARGERS)
            await store.upsert_sessions(SESSIONS)
            scope = await scoped_key(store, "partner", ["Zeta", "CA-0002"])
            answers.append(await _every_answer(store, scope))
        finally:
            await store.close()
    MemoryStore.forget("same-json")
    in_memory, on_sqlite, on_postgres = answers
    assert on_postgres == on_sqlite
    assert in_memory == on_sqlite


async def _empty(store: Store, url: str) -> None:
    if url.startswith("postgresql://"):
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("TRUNCATE chargers, sessions, api_keys CASCADE")
    assert await store.count_chargers() == 0


async def _every_answer(store: Store, scope: Visibility) -> list[Any]:
    answers: list[Any] = []
    for who in (EVERYONE, scope):
        for ids in (None, ["Zeta", "CA-0002", "missing"]):
            for offset, limit in ((0, None), (1, 2), (10, 5)):
                body, total = await store.chargers_json(who, ids, offset, limit)
                answers.append((orjson.loads(body), total))
        for charger in [*IDS_IN_BYTE_ORDER, "missing"]:
            detail = await store.charger_json(who, charger)
            answers.append(None if detail is None else orjson.loads(detail))
            for start, end in ((None, None), (T0, T0 + timedelta(days=4))):
                found = await store.sessions_json(who, charger, start, end)
                answers.append(None if found is None else orjson.loads(found))
    return answers


# --- imports and exports -----------------------------------------------------------------------


async def test_an_import_lands_whole_on_a_clean_exit_and_not_at_all_otherwise(
    store: Store,
) -> None:
    async with store.importing(dry_run=True) as dry:
        assert await dry.upsert_chargers(CHARGERS) == UpsertCounts(inserted=6)
    assert await store.count_chargers() == 0

    class Interrupted(Exception):
        pass

    async def interrupted_import() -> None:
        async with store.importing() as failing:
            await failing.upsert_chargers(CHARGERS)
            raise Interrupted

    with pytest.raises(Interrupted):
        await interrupted_import()
    assert await store.count_chargers() == 0

    async with store.importing() as session:
        assert await session.upsert_chargers(CHARGERS[:4]) == UpsertCounts(inserted=4)
        assert await session.upsert_chargers(CHARGERS) == UpsertCounts(inserted=2, unchanged=4)
        assert await session.upsert_sessions(SESSIONS) == UpsertCounts(inserted=len(SESSIONS))
        assert await session.upsert_sessions([]) == UpsertCounts()
    assert await ids_listed(store) == (IDS_IN_BYTE_ORDER, 6)
    assert await sessions(store, "CA-0002") == [session_json(s) for s in SERVED_FOR_FULL]


async def test_an_import_remembers_the_ids_it_read_until_it_ends(store: Store) -> None:
    async with store.importing(dry_run=True) as session:
        assert await session.repeated(["a", "b", "b"]) == set()
        assert await session.repeated(["c", "b", "A"]) == {"b"}
        assert await session.repeated([]) == set()
        assert await session.repeated(["a", "c", "d"]) == {"a", "c"}
    async with store.importing(dry_run=True) as session:
        assert await session.repeated(["a"]) == set()


async def test_charger_zones_name_every_charger(loaded: Store) -> None:
    zones = await loaded.charger_zones()
    assert zones == {c.id: c.time_zone for c in CHARGERS}
    assert zones["CA-0002"] == "America/Edmonton"
    assert zones["CA-0010"] is None


async def test_exports_give_back_every_row_in_order_in_progress_too(loaded: Store) -> None:
    exported = [c async for c in loaded.export_chargers()]
    assert exported == sorted(CHARGERS, key=lambda c: c.id.encode())
    everything = [s async for s in loaded.export_sessions(None, None, None)]
    assert everything == sorted(
        SESSIONS, key=lambda s: (s.charger_id.encode(), s.start_time, s.id.encode())
    )
    assert OPEN in everything
    one = [s async for s in loaded.export_sessions("CA-0002", T0, LAST.start_time)]
    assert one == [FIRST, SAME_START_A, SAME_START_B, OPEN]
    assert [s async for s in loaded.export_sessions("missing", None, None)] == []


async def test_an_export_larger_than_any_page_misses_and_repeats_nothing(store: Store) -> None:
    # Three sessions a second on each of two chargers: ties on start time across page boundaries.
    many = [
        session(f"{charger}-{n:05d}", T0 + timedelta(seconds=n // 3), charger=charger)
        for charger in ("CA-0002", "CA-0010")
        for n in range(6001)
    ]
    await store.upsert_sessions(many)
    everything = [s.id async for s in store.export_sessions(None, None, None)]
    assert everything == [s.id for s in many]
    later = [s async for s in store.export_sessions("CA-0010", T0 + timedelta(seconds=1000), None)]
    assert later == [s for s in many[6001:] if s.start_time >= T0 + timedelta(seconds=1000)]


# --- provenance of collected chargers (evshare collect) -----------------------------------------


async def test_collected_chargers_keep_their_source_id_and_watermark(store: Store) -> None:
    await store.upsert_chargers([Charger(id="a:CH-1", name="one"), Charger(id="b:CH-1", name="x")])
    await store.record_collected("a", [("CH-1", "a:CH-1")], 100)
    await store.record_collected("b", [("CH-1", "b:CH-1")], 100)
    assert (await store.collected_chargers("a"))["CH-1"].watermark is None
    await store.finish_collected("a", "CH-1", date(2026, 1, 5), [])
    await store.record_collected("a", [("CH-1", "a:CH-1")], 200)  # seen again: watermark kept
    [row] = (await store.collected_chargers("a")).values()
    assert (row.source, row.remote_id, row.charger_id, row.watermark) == (
        "a",
        "CH-1",
        "a:CH-1",
        date(2026, 1, 5),
    )
    assert (await store.collected_chargers("b"))["CH-1"].watermark is None
    assert await store.collected_chargers("c") == {}


async def test_a_window_of_stored_sessions_and_vanished_ones_deleted(store: Store) -> None:
    await store.upsert_chargers([Charger(id="a:CH-1", name="one"), Charger(id="a:CH-2", name="2")])
    await store.record_collected("a", [("CH-1", "a:CH-1"), ("CH-2", "a:CH-2")], 100)
    day = timedelta(days=1)
    sessions = [
        Session(f"a:CH-1:{n}", "a:CH-1", T0 + n * day, T0 + n * day + day / 24, 10.0 + n, None)
        for n in range(5)
    ]
    other = Session("a:CH-2:0", "a:CH-2", T0, None, 1.0, 60)
    await store.upsert_sessions([*sessions, other])
    window = await store.stored_sessions("a:CH-1", T0 + day, T0 + 3 * day)
    assert window == {s.id: s for s in sessions[1:3]}
    assert set(await store.stored_sessions("a:CH-1", None, None)) == {s.id for s in sessions}
    await store.finish_collected("a", "CH-1", date(2026, 1, 5), ["a:CH-1:1", "a:CH-2:0"])
    left = await store.stored_sessions("a:CH-1", None, None)
    assert set(left) == {s.id for s in sessions} - {"a:CH-1:1"}
    # Only the named charger's sessions are deleted, whatever ids are given.
    assert set(await store.stored_sessions("a:CH-2", None, None)) == {"a:CH-2:0"}


# --- streamed histories (the optional SessionPages part of the read path) -----------------------


async def test_pages_of_a_history_join_to_the_same_sessions_in_order(loaded: Store) -> None:
    assert isinstance(loaded, SessionPages)  # every store streams histories
    whole = await loaded.sessions_json(EVERYONE, FULL.id, None, None)
    assert whole is not None
    for rows in (1, 2, 5, 100):
        pages = [page async for page in loaded.session_pages(FULL.id, None, None, rows)]
        assert all(page.count(b'"id"') <= rows for page in pages)
        assert b"[" + b",".join(pages) + b"]" == whole
    later = [page async for page in loaded.session_pages(FULL.id, T0, None, 2)]
    assert orjson.loads(b"[" + b",".join(later) + b"]") == [
        session_json(s) for s in SERVED_FOR_FULL if s.start_time >= T0
    ]
    assert [page async for page in loaded.session_pages("no-such", None, None, 2)] == []


async def test_visibility_of_a_charger_for_pages(loaded: Store) -> None:
    assert isinstance(loaded, SessionPages)  # every store streams histories
    scoped = await scoped_key(loaded, "pages", ["ca-0001"])
    assert await loaded.charger_visible(EVERYONE, FULL.id)
    assert not await loaded.charger_visible(scoped, FULL.id)
    assert await loaded.charger_visible(scoped, "ca-0001")
    assert not await loaded.charger_visible(EVERYONE, "no-such")
    assert not await loaded.charger_visible(EVERYONE, "nul\x00")
