"""The SQL both SQL stores run, written once.

Statements use named parameters (`:name`), as SQLite reads them; `for_psycopg` rewrites them for
PostgreSQL (`%(name)s`). What only one database can say (JSON rendering, id lists, bulk loading)
stays in that adapter, next to the statement that uses it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from evshare.store.rows import CHARGER_COLUMNS, PLAN_COLUMNS, SESSION_COLUMNS

_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def for_psycopg(sql: str) -> str:
    """`:name` parameters as psycopg's `%(name)s` (a `::type` cast is left alone)."""
    return _NAMED.sub(r"%(\1)s", sql)


# --- the API's reads ----------------------------------------------------------------------------

CREDENTIAL_COLUMNS = """k.name, s.secret_hash, k.all_chargers, k.expires_at, s.not_after,
    k.revoked_at IS NOT NULL, k.plan"""
"""A row for rows.credential_from_row, from CREDENTIAL_TABLES."""
CREDENTIAL_TABLES = "key_secrets s JOIN api_keys k ON k.name = s.key_name"
CREDENTIAL = f"SELECT {CREDENTIAL_COLUMNS} FROM {CREDENTIAL_TABLES} WHERE s.lookup_id = :lookup"

SCOPED = "c.id IN (SELECT charger_id FROM key_chargers WHERE key_name = :key)"


def visible(all_chargers: bool) -> str:
    """One row if the charger :charger exists and :key may see it."""
    if all_chargers:
        return "SELECT 1 FROM chargers c WHERE c.id = :charger"
    return f"SELECT 1 FROM chargers c WHERE c.id = :charger AND {SCOPED}"


def charger_doc(all_chargers: bool) -> str:
    return "SELECT c.doc FROM chargers c WHERE c.id = :charger" + (
        "" if all_chargers else f" AND {SCOPED}"
    )


# --- loading and unloading ----------------------------------------------------------------------

CHARGER_LIST = ", ".join(CHARGER_COLUMNS)
SESSION_LIST = ", ".join(SESSION_COLUMNS)
SESSION_ORDER = "ORDER BY charger_id, start_ts, id"
IN_RANGE = "start_ts >= :start AND start_ts < :end"


def upsert_set(
    table: str, columns: Sequence[str], with_doc: bool, distinct: str = "IS DISTINCT FROM"
) -> str:
    """The ON CONFLICT clause of an upsert by id that leaves an identical row untouched (so that
    the database counts only real updates), re-rendering the row's document if it has one.
    `distinct`: SQLite before 3.39 spells it IS NOT."""
    changed = [c for c in columns if c != "id"]
    assign = ", ".join(f"{c} = excluded.{c}" for c in [*changed, *(["doc"] if with_doc else [])])
    old = ", ".join(f"{table}.{c}" for c in changed)
    new = ", ".join(f"excluded.{c}" for c in changed)
    return f"ON CONFLICT (id) DO UPDATE SET {assign} WHERE ({old}) {distinct} ({new})"


# --- keys ---------------------------------------------------------------------------------------

KEY_EXISTS = "SELECT 1 FROM api_keys WHERE name = :name"
INSERT_KEY = """INSERT INTO api_keys (name, all_chargers, created_at, expires_at, plan)
    VALUES (:name, :all_chargers, :created_at, :expires_at, :plan)"""
INSERT_SECRET = """INSERT INTO key_secrets (lookup_id, key_name, secret_hash, created_at)
    VALUES (:lookup, :name, :secret_hash, :created_at)"""  # noqa: S105 - a statement, not a secret
REVOKE_KEY = "UPDATE api_keys SET revoked_at = coalesce(revoked_at, :at) WHERE name = :name"
SET_KEY_PLAN = "UPDATE api_keys SET plan = :plan WHERE name = :name"

# --- plans --------------------------------------------------------------------------------------

PLAN_LIST = ", ".join(PLAN_COLUMNS)
INSERT_PLAN = f"INSERT INTO plans ({PLAN_LIST}) VALUES (:name, :rate, :burst, :quota, :period)"
GET_PLAN = f"SELECT {PLAN_LIST} FROM plans WHERE name = :name"
PLAN_EXISTS = "SELECT 1 FROM plans WHERE name = :name"
PLAN_USERS = "SELECT name FROM api_keys WHERE plan = :name"
DELETE_PLAN = "DELETE FROM plans WHERE name = :name"
