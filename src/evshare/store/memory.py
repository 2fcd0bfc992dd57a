"""A store held in this process's memory: the port's rules in plain Python, no database.

For tests that need a store but not a database (the API's in-process tests, the importers'), and
the reference the contract suite holds the SQL stores to: each method says in a few lines what
its SQL says. Nothing is kept when the process ends, and nothing is shared with another process.
Documents are rendered from the field table by `model.to_contract`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import orjson

from evshare.errors import KeyExists, NoSuchKey, NoSuchPlan, PlanExists, PlanInUse
from evshare.model import (
    CHARGER_FIELDS,
    SESSION_FIELDS,
    UNLIMITED_PLAN,
    ApiKey,
    Charger,
    Credential,
    Plan,
    Session,
    UsageRow,
    Visibility,
    Wire,
    to_contract,
)
from evshare.store.port import CollectedCharger, UpsertCounts


@dataclass
class _Secret:
    key_name: str
    secret_hash: bytes
    not_after: datetime | None = None


@dataclass
class _Tables:
    chargers: dict[str, Charger] = field(default_factory=dict)
    charger_docs: dict[str, bytes] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    secrets: dict[str, _Secret] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    usage: dict[tuple[str, date], tuple[int, int]] = field(default_factory=dict)
    collected: dict[tuple[str, str], CollectedCharger] = field(default_factory=dict)


def _document(value: Charger | Session) -> bytes:
    return orjson.dumps(to_contract(value))


def _array(documents: Sequence[bytes]) -> bytes:
    return b"[" + b",".join(documents) + b"]"


def _byte_order(text: str) -> bytes:
    return text.encode()


def _upsert(table: dict[str, Any], rows: Sequence[Any], specs: tuple[Wire, ...]) -> UpsertCounts:
    required = [spec.attr for spec in specs if not spec.optional]
    for row in rows:  # as a database's NOT NULL would, before anything is written
        missing = [attr for attr in required if getattr(row, attr) is None]
        if missing:
            raise ValueError(f"{type(row).__name__} {row.id!r}: {', '.join(missing)} required")
    latest = {row.id: row for row in rows}  # one row per id, the last given winning
    inserted = updated = unchanged = 0
    for row_id, row in latest.items():
        old = table.get(row_id)
        if old is None:
            inserted += 1
        elif old == row:
            unchanged += 1
            continue
        else:
            updated += 1
        table[row_id] = row
    return UpsertCounts(inserted, updated, unchanged)


class MemoryImportSession:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._seen: set[str] = set()

    async def repeated(self, ids: Sequence[str]) -> set[str]:
        again = {i for i in ids if i in self._seen}
        self._seen.update(ids)
        return again

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts:
        return await self._store.upsert_chargers(chargers)

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts:
        return await self._store.upsert_sessions(sessions)


class MemoryStore:
    """Every table as dicts. Each call runs to its end without yielding to the event loop, so
    each is atomic, as one transaction is in a database."""

    def __init__(self) -> None:
        self._t = _Tables()

    @classmethod
    def named(cls, name: str) -> MemoryStore:
        """The store of that name in this process, made empty on first use (memory://NAME)."""
        return _NAMED.setdefault(name, cls())

    @classmethod
    def forget(cls, name: str) -> None:
        """Drop the store of that name: the next `named(name)` is empty."""
        _NAMED.pop(name, None)

    # --- the API's reads ------------------------------------------------------------------------

    def _sees(self, visible: Visibility, charger_id: str) -> bool:
        if charger_id not in self._t.chargers:
            return False
        if visible.all_chargers:
            return True
        key = self._t.keys.get(visible.key_name)
        return key is not None and charger_id in key.charger_ids

    async def find_credential(self, lookup_id: str) -> Credential | None:
        secret = self._t.secrets.get(lookup_id)
        if secret is None:
            return None
        key = self._t.keys[secret.key_name]
        ends = [t for t in (key.expires_at, secret.not_after) if t is not None]
        return Credential(
            key_name=key.name,
            secret_hash=secret.secret_hash,
            all_chargers=key.all_chargers,
            not_after=min(ends) if ends else None,
            revoked=key.revoked_at is not None,
            plan=key.plan,
        )

    async def chargers_json(
        self, visible: Visibility, ids: Sequence[str] | None, offset: int, limit: int | None
    ) -> tuple[bytes, int]:
        wanted = self._t.chargers.keys() if ids is None else set(ids)
        found = sorted((i for i in wanted if self._sees(visible, i)), key=_byte_order)
        page = found[offset:] if limit is None else found[offset : offset + limit]
        return _array([self._t.charger_docs[i] for i in page]), len(found)

    async def charger_json(self, visible: Visibility, charger_id: str) -> bytes | None:
        if not self._sees(visible, charger_id):
            return None
        return self._t.charger_docs[charger_id]

    async def sessions_json(
        self, visible: Visibility, charger_id: str, start: datetime | None, end: datetime | None
    ) -> bytes | None:
        if not self._sees(visible, charger_id):
            return None
        return _array([_document(s) for s in self._served(charger_id, start, end)])

    async def charger_visible(self, visible: Visibility, charger_id: str) -> bool:
        return self._sees(visible, charger_id)

    async def session_pages(
        self, charger_id: str, start: datetime | None, end: datetime | None, rows: int
    ) -> AsyncIterator[bytes]:
        served = self._served(charger_id, start, end)
        for first in range(0, len(served), rows):
            yield b",".join(_document(s) for s in served[first : first + rows])

    def _served(
        self, charger_id: str, start: datetime | None, end: datetime | None
    ) -> list[Session]:
        """The charger's completed sessions in the range (one in progress is never served)."""
        return [s for s in self._sessions_of(charger_id, start, end) if s.end_time is not None]

    def _sessions_of(
        self, charger_id: str | None, start: datetime | None, end: datetime | None
    ) -> list[Session]:
        chosen = [
            s
            for s in self._t.sessions.values()
            if (charger_id is None or s.charger_id == charger_id)
            and (start is None or s.start_time >= start)
            and (end is None or s.start_time < end)
        ]
        return sorted(
            chosen, key=lambda s: (_byte_order(s.charger_id), s.start_time, _byte_order(s.id))
        )

    # --- keys -----------------------------------------------------------------------------------

    def _require_plan(self, plan: str | None) -> None:
        if plan not in (None, UNLIMITED_PLAN) and plan not in self._t.plans:
            raise NoSuchPlan(str(plan))

    async def create_key(self, key: ApiKey, lookup_id: str, secret_hash: bytes) -> None:
        if key.name in self._t.keys:
            raise KeyExists(key.name)
        self._require_plan(key.plan)
        self._t.keys[key.name] = key
        self._t.secrets[lookup_id] = _Secret(key.name, secret_hash)

    async def list_keys(self) -> list[ApiKey]:
        return [self._t.keys[name] for name in sorted(self._t.keys, key=_byte_order)]

    async def get_key(self, name: str) -> ApiKey | None:
        return self._t.keys.get(name)

    async def revoke_key(self, name: str, at: datetime) -> None:
        key = self._t.keys.get(name)
        if key is None:
            raise NoSuchKey(name)
        if key.revoked_at is None:
            self._t.keys[name] = replace(key, revoked_at=at)

    async def add_secret(
        self, name: str, lookup_id: str, secret_hash: bytes, retire_others_at: datetime
    ) -> None:
        if name not in self._t.keys:
            raise NoSuchKey(name)
        for secret in self._t.secrets.values():
            if secret.key_name == name:
                ends = [t for t in (secret.not_after, retire_others_at) if t is not None]
                secret.not_after = min(ends)
        self._t.secrets[lookup_id] = _Secret(name, secret_hash)

    # --- loading --------------------------------------------------------------------------------

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts:
        counts = _upsert(self._t.chargers, chargers, CHARGER_FIELDS)
        for charger in chargers:
            self._t.charger_docs[charger.id] = _document(self._t.chargers[charger.id])
        return counts

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts:
        return _upsert(self._t.sessions, sessions, SESSION_FIELDS)

    @asynccontextmanager
    async def importing(self, *, dry_run: bool = False) -> AsyncIterator[MemoryImportSession]:
        before = copy.copy(self._t)
        for name in ("chargers", "charger_docs", "sessions"):
            setattr(self._t, name, dict(getattr(before, name)))
        try:
            yield MemoryImportSession(self)
        except BaseException:
            self._t = before
            raise
        if dry_run:
            self._t = before

    async def count_chargers(self) -> int:
        return len(self._t.chargers)

    async def charger_zones(self) -> dict[str, str | None]:
        return {c.id: c.time_zone for c in self._t.chargers.values()}

    async def export_chargers(self) -> AsyncIterator[Charger]:
        for charger_id in sorted(self._t.chargers, key=_byte_order):
            yield self._t.chargers[charger_id]

    async def export_sessions(
        self, charger_id: str | None, start: datetime | None, end: datetime | None
    ) -> AsyncIterator[Session]:
        for session in self._sessions_of(charger_id, start, end):
            yield session

    # --- provenance of collected chargers -------------------------------------------------------

    async def collected_chargers(self, source: str) -> dict[str, CollectedCharger]:
        return {remote: row for (src, remote), row in self._t.collected.items() if src == source}

    async def record_collected(
        self, source: str, ids: Sequence[tuple[str, str]], seen_at: int
    ) -> None:
        del seen_at  # kept by the SQL stores only
        for remote, local in ids:
            self._t.collected.setdefault(
                (source, remote), CollectedCharger(source, remote, local, None)
            )

    async def stored_sessions(
        self, charger_id: str, start: datetime | None, end: datetime | None
    ) -> dict[str, Session]:
        return {s.id: s for s in self._sessions_of(charger_id, start, end)}

    async def finish_collected(
        self, source: str, remote_id: str, watermark: date, vanished: Sequence[str]
    ) -> None:
        row = self._t.collected[(source, remote_id)]
        for session_id in vanished:
            if (found := self._t.sessions.get(session_id)) and found.charger_id == row.charger_id:
                del self._t.sessions[session_id]
        self._t.collected[(source, remote_id)] = replace(row, watermark=watermark)

    # --- plans ----------------------------------------------------------------------------------

    async def create_plan(self, plan: Plan) -> None:
        if plan.name in self._t.plans:
            raise PlanExists(plan.name)
        if not math.isfinite(plan.rate):
            plan = replace(plan, burst=0)
        self._t.plans[plan.name] = plan

    async def list_plans(self) -> list[Plan]:
        return [self._t.plans[name] for name in sorted(self._t.plans, key=_byte_order)]

    async def get_plan(self, name: str) -> Plan | None:
        return self._t.plans.get(name)

    async def delete_plan(self, name: str) -> None:
        users = sorted((k.name for k in self._t.keys.values() if k.plan == name), key=_byte_order)
        if users:
            raise PlanInUse(name, users)
        if self._t.plans.pop(name, None) is None:
            raise NoSuchPlan(name)

    async def set_key_plan(self, key_name: str, plan: str | None) -> None:
        self._require_plan(plan)
        key = self._t.keys.get(key_name)
        if key is None:
            raise NoSuchKey(key_name)
        self._t.keys[key_name] = replace(key, plan=plan)

    # --- usage ----------------------------------------------------------------------------------

    async def add_usage(self, rows: Sequence[UsageRow]) -> None:
        for row in rows:
            requests, throttled = self._t.usage.get((row.key_name, row.day), (0, 0))
            self._t.usage[row.key_name, row.day] = (
                requests + row.requests,
                throttled + row.throttled,
            )

    async def usage(
        self, key_name: str | None = None, first: date | None = None, last: date | None = None
    ) -> list[UsageRow]:
        return [
            UsageRow(name, day, requests, throttled)
            for (name, day), (requests, throttled) in sorted(
                self._t.usage.items(), key=lambda item: (_byte_order(item[0][0]), item[0][1])
            )
            if (key_name is None or name == key_name)
            and (first is None or day >= first)
            and (last is None or day <= last)
        ]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


_NAMED: dict[str, MemoryStore] = {}

__all__ = ["MemoryStore"]
