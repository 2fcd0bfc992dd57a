"""The storage port: what the API, the CLI and the importers need from a database.

Each backend (store/sqlite, store/postgres, store/memory, ...) is an adapter that implements
`Store`; one contract test suite (tests/store/test_contract.py) runs against every adapter to
prove them equal.

What crosses the port: the value objects of model.py, and, for the API's three reads, documents.
Instants are aware UTC datetimes (calendar days, as in usage, are dates); epoch seconds and other
storage spellings stay inside the adapters.

A document is the contract's JSON of a charger or a session as UTF-8 bytes, by these rules, the
same for every adapter: the members of model.CHARGER_FIELDS / SESSION_FIELDS under their contract
names, in declaration order (a session's: SESSION_WIRE_ORDER), optional fields left out rather
than null, timestamps RFC 3339 UTC with a Z suffix and whole seconds; lists as a JSON array of
documents, chargers in byte order of id, sessions by startTime then id, sessions without an
endTime never served. Handing the API documents rather than objects saves building and
serializing a Python object per row, most of the difference between a fast endpoint and a slow
one; how an adapter produces them (a stored column, SQL, Python) is its own affair.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from evshare.model import ApiKey, Charger, Credential, Plan, Session, UsageRow, Visibility


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


class ReadStore(Protocol):
    """The API's read path. Every query is confined to what `visible` lets the caller see."""

    async def find_credential(self, lookup_id: str) -> Credential | None:
        """The secret hash and key state for a public lookup id, or None."""
        ...

    async def chargers_json(
        self, visible: Visibility, ids: Sequence[str] | None, offset: int, limit: int | None
    ) -> tuple[bytes, int]:
        """A JSON array of the visible chargers (restricted to `ids` when given), in byte order
        of id, `offset`/`limit` applied; and how many match in all (ignoring offset/limit)."""
        ...

    async def charger_json(self, visible: Visibility, charger_id: str) -> bytes | None:
        """One visible charger as a JSON object, or None if it is absent or hidden."""
        ...

    async def sessions_json(
        self, visible: Visibility, charger_id: str, start: datetime | None, end: datetime | None
    ) -> bytes | None:
        """A JSON array of the charger's completed sessions with `start <= startTime < end`
        (None means unbounded); None if the charger is absent or hidden."""
        ...


class KeyStore(Protocol):
    """API keys: metadata, secret hashes and scopes."""

    async def create_key(
        self,
        key: ApiKey,
        lookup_id: str,
        secret_hash: bytes,
    ) -> None:
        """Store a new key with its first secret. KeyExists if the name exists, NoSuchPlan if
        `key.plan` names no stored plan (the built-in model.UNLIMITED_PLAN needs none)."""
        ...

    async def list_keys(self) -> list[ApiKey]: ...

    async def get_key(self, name: str) -> ApiKey | None: ...

    async def revoke_key(self, name: str, at: datetime) -> None:
        """NoSuchKey if there is no such key."""
        ...

    async def add_secret(
        self, name: str, lookup_id: str, secret_hash: bytes, retire_others_at: datetime
    ) -> None:
        """Add a secret to a key; every older secret stops working at `retire_others_at`
        (or earlier, if it was already due to). NoSuchKey if there is no such key."""
        ...


class WriteStore(Protocol):
    """Loading data. Each call is one transaction: all rows land, or none."""

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts: ...

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts: ...


class ImportSession(Protocol):
    """One import invocation: everything it writes lands together when it ends, or nothing does
    (an error, a kill or a dry run leaves the store as it was)."""

    async def repeated(self, ids: Sequence[str]) -> set[str]:
        """Remember `ids` as read in this import; return those already remembered."""
        ...

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts: ...

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts: ...


class ImportStore(Protocol):
    """Bulk loading and unloading, for the importers and `evshare export`."""

    def importing(self, *, dry_run: bool = False) -> AbstractAsyncContextManager[ImportSession]:
        """A transaction for one import: committed on a clean exit (rolled back on an exception,
        or always with `dry_run`)."""
        ...

    async def count_chargers(self) -> int: ...

    async def charger_zones(self) -> dict[str, str | None]:
        """Every charger's id and IANA time zone, to check and localize sessions on import."""
        ...

    def export_chargers(self) -> AsyncIterator[Charger]:
        """Every charger, by id."""
        ...

    def export_sessions(
        self, charger_id: str | None, start: datetime | None, end: datetime | None
    ) -> AsyncIterator[Session]:
        """Sessions (in progress too) with `start <= startTime < end`, by charger, start, id."""
        ...


class PlanStore(Protocol):
    """Usage plans, and which plan each key is on. The plan model.UNLIMITED_PLAN is built in: it
    has no row, cannot be created or deleted, and keys may be put on it."""

    async def create_plan(self, plan: Plan) -> None:
        """Store a plan already checked by `limits.check_plan`. PlanExists if the name exists."""
        ...

    async def list_plans(self) -> list[Plan]:
        """Every stored plan, by name. A plan with no throttle has rate inf and burst 0."""
        ...

    async def get_plan(self, name: str) -> Plan | None: ...

    async def delete_plan(self, name: str) -> None:
        """NoSuchPlan if there is no such plan, PlanInUse if keys are on it: a key never points
        at a plan that is gone."""
        ...

    async def set_key_plan(self, key_name: str, plan: str | None) -> None:
        """Put a key on a plan (None: the default plan). NoSuchKey or NoSuchPlan if either is
        missing."""
        ...


class UsageStore(Protocol):
    """Requests and refusals per key per UTC day."""

    async def add_usage(self, rows: Sequence[UsageRow]) -> None:
        """Add the counts of `rows` to what is stored (rows are increments), in one transaction."""
        ...

    async def usage(
        self, key_name: str | None = None, first: date | None = None, last: date | None = None
    ) -> list[UsageRow]:
        """Stored counts, by key then day; `first` and `last` are inclusive, None unbounded."""
        ...


@dataclass(frozen=True, slots=True)
class CollectedCharger:
    """A charger `evshare collect` brought in: its source, its id there, its local id
    (`<source>:<remote_id>`), and the last UTC day through which its sessions were collected."""

    source: str
    remote_id: str
    charger_id: str
    watermark: date | None


class ProvenanceStore(Protocol):
    """Where collected data came from, and how far each charger's collection got."""

    async def collected_chargers(self, source: str) -> dict[str, CollectedCharger]:
        """The source's collected chargers, by their id at the source."""
        ...

    async def record_collected(
        self, source: str, ids: Sequence[tuple[str, str]], seen_at: int
    ) -> None:
        """Record (remote id, local id) pairs as collected from `source` (seen at `seen_at`,
        epoch seconds); pairs already recorded keep their watermark."""
        ...

    async def stored_sessions(
        self, charger_id: str, start: datetime | None, end: datetime | None
    ) -> dict[str, Session]:
        """The charger's stored sessions (in progress too) with `start <= startTime < end`
        (None: unbounded), by id."""
        ...

    async def finish_collected(
        self, source: str, remote_id: str, watermark: date, vanished: Sequence[str]
    ) -> None:
        """In one transaction: delete the charger's sessions whose ids are in `vanished`, and
        set its watermark."""
        ...


class Store(
    ReadStore, KeyStore, WriteStore, ImportStore, PlanStore, UsageStore, ProvenanceStore, Protocol
):
    """Everything evshare keeps. Adapters are created by `store.open_store(settings)`."""

    async def ping(self) -> None:
        """Raise Unavailable if the database cannot answer."""
        ...

    async def close(self) -> None: ...
