"""Versioned schema migrations (Alembic) for every SQL store, run through one code path.

The running server talks to the database through its driver directly; SQLAlchemy is used
here only so that one set of Alembic migrations serves SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from evshare.errors import SchemaOutOfDate, Unavailable

_MIGRATIONS = Path(__file__).with_name("migrations")


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
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


@contextmanager
def _connection(database_url: str) -> Iterator[sa.Connection]:
    if database_url.startswith("sqlite:"):
        from evshare.store.sqlite.connection import existing_folder_path

        existing_folder_path(database_url)
    # A database that accepts connections and never answers must not hang start-up for ever.
    connect_args = {} if database_url.startswith("sqlite:") else {"connect_timeout": 10}
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
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # noqa: S101 - the package ships at least one migration
    return head


def state(database_url: str) -> SchemaState:
    with _connection(database_url) as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return SchemaState(current=current, head=head_revision())


def upgrade(database_url: str) -> SchemaState:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    config = _config()
    with _connection(database_url) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return state(database_url)


def require_current(database_url: str) -> None:
    """Raise SchemaOutOfDate, naming the command to run, unless the schema is at head."""
    found = state(database_url)
    if not found.up_to_date:
        have = found.current or "an empty database"
        raise SchemaOutOfDate(
            f"the database schema is at {have}, this evshare needs {found.head}: "
            f"run `evshare db upgrade` (with the same --database-url) first"
        )
