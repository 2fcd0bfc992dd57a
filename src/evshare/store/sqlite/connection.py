"""Opening the SQLite file and turning its failures into evshare errors."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evshare.errors import ConfigError, Unavailable

# Reads through a memory map of the file rather than a pread() per page: a one-month sessions
# request otherwise makes about four such calls, each copying a page out of the kernel's cache
# (measured side by side under granian: 10.8k against 9.7k requests/s on that endpoint, 154
# against 170 us of server CPU each). Imports turn it off while they write (imports.py).
# SQLite clamps this to its build's ceiling (2 GiB on Debian's); the rest of a larger file is
# read as before. Address space only: the pages are the kernel's page cache, shared by workers.
MMAP_BYTES = 1 << 40

# Far past any real timestamp, inside SQLite's 64-bit integers: stands for an open range end.
FAR_PAST = -(2**62)
FAR_FUTURE = 2**62


def sqlite_path(database_url: str) -> Path:
    """`sqlite:///relative.db` or `sqlite:////absolute/path.db` to a path."""
    rest = database_url.removeprefix("sqlite://")
    if not rest.startswith("/") or rest == "/":
        raise ConfigError.about(
            "database_url",
            database_url,
            "not a SQLite URL; use sqlite:///relative/path.db or sqlite:////absolute/path.db",
        )
    return Path(rest[1:])


def existing_folder_path(database_url: str) -> Path:
    """The file path of a SQLite URL whose folder exists (folders are not created)."""
    path = sqlite_path(database_url)
    if not path.parent.exists():
        raise ConfigError.about(
            "database_url", database_url, f"the folder {path.parent} does not exist"
        )
    return path


def owner_only_path(database_url: str) -> Path:
    """`existing_folder_path`, the file created first if it does not exist yet: empty, readable
    and writable by its owner only. It will hold API key hashes and the operator's data, and
    SQLite gives its -wal and -shm files the same permissions (it would otherwise create all
    three world-readable under the usual umask). Only for what will write the file: a check that
    refuses to start must leave nothing behind."""
    path = existing_folder_path(database_url)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        reason = f"cannot create {path}: {exc}"
        raise ConfigError.about("database_url", database_url, reason) from None
    return path


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with a busy timeout,
    reading through a memory map.

    WAL lets the server's readers run while an import writes; NORMAL synchronous is safe
    with WAL (a power cut may lose the last commit, never corrupt the file). Writes still go
    through write(): SQLite maps the file read-only.
    """
    try:
        db = sqlite3.connect(path, isolation_level=None, cached_statements=256)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    except sqlite3.Error as exc:
        raise Unavailable(f"cannot open the SQLite database {path}: {exc}") from None
    return db


def unavailable(exc: sqlite3.OperationalError) -> Unavailable:
    """What `translated_errors` raises, for the hot reads that catch the error themselves (a
    context manager per query costs a microsecond)."""
    return Unavailable(f"the SQLite database cannot answer: {exc}")


@contextmanager
def translated_errors() -> Iterator[None]:
    """A locked or unreadable database is a temporary unavailability, not a server error."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise Unavailable(f"the SQLite database cannot answer: {exc}") from None


@contextmanager
def pragmas(db: sqlite3.Connection, **values: int) -> Iterator[None]:
    """The given integer PRAGMAs set for the block, then given back what they were."""
    before = {name: int(db.execute(f"PRAGMA {name}").fetchone()[0]) for name in values}
    for name, value in values.items():
        db.execute(f"PRAGMA {name} = {value:d}")
    try:
        yield
    finally:
        for name, value in before.items():
            db.execute(f"PRAGMA {name} = {value:d}")


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
    with translated_errors():
        db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    with translated_errors():
        db.execute("COMMIT")
