"""API keys: metadata, hashed secrets and charger scopes."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from evshare.errors import KeyExists, NoSuchKey, NoSuchPlan
from evshare.model import UNLIMITED_PLAN, ApiKey, epoch, from_epoch
from evshare.store import sql
from evshare.store.sqlite.connection import transaction, translated_errors


def require_plan(db: sqlite3.Connection, plan: str | None) -> None:
    """NoSuchPlan unless a key may be put on `plan` (None: the default plan)."""
    if (
        plan not in (None, UNLIMITED_PLAN)
        and not db.execute(sql.PLAN_EXISTS, {"name": plan}).fetchone()
    ):
        raise NoSuchPlan(str(plan))


class SqliteKeys:
    _db: sqlite3.Connection

    async def create_key(self, key: ApiKey, lookup_id: str, secret_hash: bytes) -> None:
        created = epoch(key.created_at)
        with transaction(self._db) as db:
            if db.execute(sql.KEY_EXISTS, {"name": key.name}).fetchone():
                raise KeyExists(key.name)
            require_plan(db, key.plan)
            db.execute(
                sql.INSERT_KEY,
                {
                    "name": key.name,
                    "all_chargers": key.all_chargers,
                    "created_at": created,
                    "expires_at": None if key.expires_at is None else epoch(key.expires_at),
                    "plan": key.plan,
                },
            )
            db.executemany(
                "INSERT INTO key_chargers (key_name, charger_id) VALUES (?, ?)",
                [(key.name, charger) for charger in sorted(key.charger_ids)],
            )
            db.execute(
                sql.INSERT_SECRET,
                {
                    "lookup": lookup_id,
                    "name": key.name,
                    "secret_hash": secret_hash,
                    "created_at": created,
                },
            )

    async def list_keys(self) -> list[ApiKey]:
        with translated_errors():
            rows = self._db.execute(
                "SELECT name, all_chargers, created_at, expires_at, revoked_at, plan "
                "FROM api_keys ORDER BY name"
            ).fetchall()
            scopes: dict[str, set[str]] = {}
            for name, charger in self._db.execute("SELECT key_name, charger_id FROM key_chargers"):
                scopes.setdefault(name, set()).add(charger)
        return [
            ApiKey(
                name=name,
                all_chargers=bool(all_chargers),
                created_at=from_epoch(created),
                charger_ids=frozenset(scopes.get(name, ())),
                expires_at=None if expires is None else from_epoch(expires),
                revoked_at=None if revoked is None else from_epoch(revoked),
                plan=plan,
            )
            for name, all_chargers, created, expires, revoked, plan in rows
        ]

    async def get_key(self, name: str) -> ApiKey | None:
        # Key management is rare and keys are few: reuse the listing rather than a second query.
        return next((k for k in await self.list_keys() if k.name == name), None)

    async def revoke_key(self, name: str, at: datetime) -> None:
        with transaction(self._db) as db:
            if db.execute(sql.REVOKE_KEY, {"at": epoch(at), "name": name}).rowcount == 0:
                raise NoSuchKey(name)

    async def add_secret(
        self, name: str, lookup_id: str, secret_hash: bytes, retire_others_at: datetime
    ) -> None:
        retire = epoch(retire_others_at)
        with transaction(self._db) as db:
            if not db.execute(sql.KEY_EXISTS, {"name": name}).fetchone():
                raise NoSuchKey(name)
            db.execute(
                "UPDATE key_secrets SET not_after = min(coalesce(not_after, ?), ?) "
                "WHERE key_name = ?",
                (retire, retire, name),
            )
            db.execute(
                "INSERT INTO key_secrets (lookup_id, key_name, secret_hash, created_at) "
                "VALUES (?, ?, ?, unixepoch())",
                (lookup_id, name, secret_hash),
            )
