"""Bulk loads: each store's raw limit, and PostgreSQL scratch databases.

The raw limit is the fastest plain way to put the same session rows into a table of the same
shape as evshare's: one transaction of sqlite3 `executemany` for SQLite, `COPY` for PostgreSQL.
Rows are parsed from the dataset and their times turned into epoch seconds before the clock
starts, so the figure is the database's alone.

The tables mirror evshare's as they stand after `evshare db upgrade`, indexes included
(src/evshare/store/migrations/versions/: 0001, 0006's document, 0007's index);
tests/test_bench_loads.py fails when they drift apart. A row's document is the dataset's own
line, already in the contract's shape.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
from psycopg import sql

from evshare.store.sqlite.imports import IMPORT_CACHE_KIB

# (id, charger id, start, end (epoch seconds), energy Wh, charging duration s, the session's
# document: evshare stores each served session's contract JSON, migration 0006)
Row = tuple[str, str, int, int, float, int, str]
COLUMNS = "id, charger_id, start_ts, end_ts, energy_wh, charging_duration_s, doc"

SQLITE_DDL = (
    "CREATE TABLE sessions (charger_id TEXT NOT NULL, start_ts BIGINT NOT NULL,"
    " id TEXT NOT NULL, end_ts BIGINT, energy_wh FLOAT NOT NULL, charging_duration_s BIGINT,"
    " doc TEXT, PRIMARY KEY (charger_id, start_ts, id)) WITHOUT ROWID",
    "CREATE UNIQUE INDEX sessions_id ON sessions (id)",
)
POSTGRES_SCHEMA = "bench_raw"
POSTGRES_DDL = (
    f"CREATE SCHEMA {POSTGRES_SCHEMA}",
    f'CREATE TABLE {POSTGRES_SCHEMA}.sessions (id text COLLATE "C" PRIMARY KEY,'
    ' charger_id text COLLATE "C" NOT NULL, start_ts bigint NOT NULL, end_ts bigint,'
    " energy_wh double precision NOT NULL, charging_duration_s bigint, doc text)",
    # Migration 0007's: the documents are served from the index.
    f"CREATE INDEX sessions_served ON {POSTGRES_SCHEMA}.sessions (charger_id, start_ts, id)"
    " INCLUDE (end_ts, energy_wh, charging_duration_s, doc)",
)


def _epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def read_sessions(path: Path) -> list[Row]:
    rows: list[Row] = []
    with path.open("rb") as lines:
        for line in lines:
            s = orjson.loads(line)
            rows.append(
                (
                    s["id"],
                    s["chargerId"],
                    _epoch(s["startTime"]),
                    _epoch(s["endTime"]),
                    s["energy"],
                    s["chargingDuration"],
                    line.strip().decode(),
                )
            )
    return rows


def raw_sqlite(rows: list[Row], database: Path) -> float:
    """Seconds to load `rows` into a fresh SQLite file with one executemany and one commit,
    with the settings of evshare's import connection (WAL, synchronous=NORMAL, its page cache:
    without that cache the raw load ran at half its speed, 58k against 135k rows/s)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
        for statement in SQLITE_DDL:
            connection.execute(statement)
        began = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(
            f"INSERT INTO sessions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows
        )
        connection.execute("COMMIT")
        return time.perf_counter() - began
    finally:
        connection.close()


def raw_postgres(rows: list[Row], url: str) -> float:
    """Seconds to COPY `rows` into a fresh table in schema bench_raw of `url`'s database."""
    with psycopg.connect(url) as connection:
        for statement in POSTGRES_DDL:
            connection.execute(statement)
        connection.commit()
        began = time.perf_counter()
        copy_sql = f"COPY {POSTGRES_SCHEMA}.sessions ({COLUMNS}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
        connection.commit()
        return time.perf_counter() - began


def server_version(url: str) -> str:
    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """Create a database of the harness's own for one run, yield its URL, and drop it.

    A database rather than a schema: `evshare db upgrade` creates its tables wherever the URL
    points, and a fresh database keeps them clear of anyone else's.
    """
    name = f"evshare_bench_{os.getpid()}_{int(time.time())}"
    parts = urlsplit(admin_url)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
