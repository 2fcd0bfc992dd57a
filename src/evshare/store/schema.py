"""Versioned schema migrations (Alembic) for every SQL store, run through one code path.

The running server talks to the database through its driver directly; SQLAlchemy is used
here only so that one set of Alembic migrations serves SQLite and PostgreSQL alike. Checking
that a schema is current (every server start and CLI command) reads `alembic_version` through
the driver against HEAD, without importing Alembic: that import alone took a third of a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from evshare.errors import SchemaOutOfDate, Unavailable

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config

_MIGRATIONS = Path(__file__).with_name("migrations")

_DEFAULT_CONNECT_S = 10.0


@cache
def newest_migration() -> str:
    """The newest migration, by the numbered file names of the one chain (NNNN_name.py); read
    when first needed, not at import. tests/store/test_schema.py keeps it equal to Alembic's head.
    """
    numbers = [
        path.name[:4] for path in (_MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    ]
    return max(numbers)


def _libpq_timeout(seconds: float) -> int:
    # libpq counts whole seconds and enforces at least 2.
    return max(2, math.ceil(seconds))


@dataclass(frozen=True, slots=True)
class SchemaState:
    current: str | None  # None: an empty database
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def sqlalchemy_url(database_url: str) -> str:
    """The SQLAlchemy spelling of an evshare database URL (psycopg 3 for PostgreSQL)."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url.removeprefix(prefix)
    return database_url


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


@contextmanager
def _connection(database_url: str, connect_timeout: float) -> Iterator[sa.Connection]:
    import sqlalchemy as sa

    if database_url.startswith("sqlite:"):
        from evshare.store.sqlite.connection import owner_only_path

        owner_only_path(database_url)
    # A database that accepts connections and never answers must not hang start-up for ever.
    connect_args = (
        {}
        if database_url.startswith("sqlite:")
        else {"connect_timeout": _libpq_timeout(connect_timeout)}
    )
    engine = sa.create_engine(
        sqlalchemy_url(database_url), poolclass=sa.pool.NullPool, connect_args=connect_args
    )
    try:
        with engine.begin() as connection:
            yield connection
    except sa.exc.OperationalError as exc:
        raise Unavailable(f"cannot reach the database: {exc.orig}") from None
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest migration as Alembic computes it from the migration files."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # noqa: S101 - the package ships at least one migration
    return head


def _dynamodb(database_url: str) -> bool:
    return database_url.startswith("dynamodb://")


def state(database_url: str, connect_timeout: float = _DEFAULT_CONNECT_S) -> SchemaState:
    if _dynamodb(database_url):
        from evshare.store.dynamodb import schema as dynamodb
        from evshare.store.dynamodb.table import SCHEMA_VERSION

        return SchemaState(current=dynamodb.current_version(database_url), head=SCHEMA_VERSION)
    return SchemaState(
        current=current_revision(database_url, connect_timeout), head=newest_migration()
    )


def current_revision(database_url: str, connect_timeout: float = _DEFAULT_CONNECT_S) -> str | None:
    """The database's migration, read through its driver; None for an empty database."""
    if database_url.startswith("memory://"):
        return newest_migration()  # no schema: always current
    if database_url.startswith("sqlite:"):
        import sqlite3

        from evshare.store.sqlite.connection import existing_folder_path

        path = existing_folder_path(database_url)
        if not path.exists():
            return None  # connecting would create an empty file: a refused start leaves nothing
        try:
            with closing(sqlite3.connect(path)) as db:
                row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise Unavailable(f"cannot read the database: {exc}") from None
        return None if row is None else str(row[0])
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=_libpq_timeout(connect_timeout)) as db:
            # Two statements: PostgreSQL resolves a table name even in a branch never taken.
            (table,) = db.execute("SELECT to_regclass('alembic_version')").fetchone() or (None,)
            if table is None:
                return None
            row = db.execute("SELECT version_num FROM alembic_version LIMIT 1").fetchone()
    except psycopg.Error as exc:
        raise Unavailable(f"cannot reach the database: {exc}") from None
    return None if row is None else str(row[0])


def upgrade(database_url: str, connect_timeout: float = _DEFAULT_CONNECT_S) -> SchemaState:
    """Bring the schema to the newest revision; a no-op when it is already there (and for a
    store in memory, which has no schema). DynamoDB: the table, created or checked, and an import
    whose commit was cut short, finished."""
    if database_url.startswith("memory://"):
        return SchemaState(current=newest_migration(), head=newest_migration())
    if _dynamodb(database_url):
        from evshare.store.dynamodb import schema as dynamodb

        dynamodb.upgrade(database_url)
        return state(database_url)
    from alembic import command

    config = _config()
    with _connection(database_url, connect_timeout) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return state(database_url, connect_timeout)


def require_current(database_url: str, connect_timeout: float = _DEFAULT_CONNECT_S) -> None:
    """Raise SchemaOutOfDate, naming the command to run, unless the schema is at head.
    `connect_timeout`: seconds to wait for PostgreSQL (the settings' db_connect_timeout)."""
    found = state(database_url, connect_timeout)
    if found.up_to_date:
        return
    if found.current is None:
        raise SchemaOutOfDate(
            f"the database has no evshare schema yet (this evshare needs {found.head}): "
            "run `evshare db upgrade` with the same database first, or `evshare demo` for a "
            "database with demo data"
        )
    raise SchemaOutOfDate(
        f"the database schema is at {found.current}, this evshare needs {found.head}: "
        "run `evshare db upgrade` with the same database first"
    )
