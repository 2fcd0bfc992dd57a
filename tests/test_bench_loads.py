"""`make bench`'s raw load limit writes into tables shaped like evshare's own: same columns, same
indexes. A raw table with fewer indexes than `evshare db upgrade` builds would make the product's
import look slower than it is against "the same rows into the same table" (and one with more,
faster); the bench's DDL is a copy, so this test is what keeps it in step with the migrations."""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

from evshare.store import schema

BENCH = Path(__file__).parents[1] / "bench"


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("loads")


def sqlite_shape(path: Path) -> tuple[list[Any], list[Any]]:
    """The sessions table's columns, and each index with its columns and their order."""
    with sqlite3.connect(path) as db:
        columns = db.execute("PRAGMA table_xinfo(sessions)").fetchall()
        indexes = [
            (name, unique, origin, db.execute(f"PRAGMA index_xinfo({name})").fetchall())
            for _, name, unique, origin, _ in db.execute("PRAGMA index_list(sessions)")
        ]
    return columns, sorted(indexes)


def test_the_raw_sqlite_table_is_shaped_like_evshares(loads: ModuleType, tmp_path: Path) -> None:
    schema.upgrade(f"sqlite:///{tmp_path / 'evshare.db'}")
    with sqlite3.connect(tmp_path / "raw.db") as raw:
        for statement in loads.SQLITE_DDL:
            raw.execute(statement)
    product = sqlite_shape(tmp_path / "evshare.db")
    assert product[1], "evshare's sessions table has no index: the query above is wrong"
    assert sqlite_shape(tmp_path / "raw.db") == product


def postgres_shape(db: psycopg.Connection[Any], namespace: str) -> tuple[list[Any], list[str]]:
    columns = db.execute(
        "SELECT column_name, data_type, collation_name, is_nullable FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = 'sessions' ORDER BY ordinal_position",
        [namespace],
    ).fetchall()
    indexes = [
        str(definition).replace(f" ON {namespace}.sessions ", " ON sessions ")
        for (definition,) in db.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'sessions'"
            " ORDER BY indexname",
            [namespace],
        )
    ]
    return columns, indexes


def test_the_raw_postgres_table_is_shaped_like_evshares(
    loads: ModuleType, postgres_database: str
) -> None:
    with psycopg.connect(postgres_database) as db:
        for statement in loads.POSTGRES_DDL:
            db.execute(statement)
        try:
            product = postgres_shape(db, "public")
            assert len(product[1]) >= 2, product
            assert postgres_shape(db, loads.POSTGRES_SCHEMA) == product
        finally:
            db.rollback()  # the shared test database keeps no bench schema
