"""The SQLite connection every command and worker opens: memory-mapped reads that still see what
other connections commit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evshare.config import load_settings
from evshare.store import open_store, schema
from evshare.store.sqlite.connection import connect


def _mapped(db: sqlite3.Connection) -> int:
    (mapped,) = db.execute("PRAGMA mmap_size").fetchone()
    return int(mapped)


def test_reads_go_through_a_memory_map(tmp_path: Path) -> None:
    db = connect(tmp_path / "a.db")
    try:
        mapped = _mapped(db)
    finally:
        db.close()
    # Clamped to the SQLite build's ceiling, but never off (0).
    assert mapped > 0


def test_a_mapped_reader_sees_every_commit_of_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    writer, reader = connect(path), connect(path)
    try:
        writer.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        for round_ in range(3):
            # Enough rows to grow the file past its first pages each time, so the reader's map
            # must follow the file as it grows and as the WAL is checkpointed into it.
            writer.execute("BEGIN")
            writer.executemany(
                "INSERT INTO t VALUES (?, ?)",
                ((round_ * 5000 + i, "x" * 200) for i in range(5000)),
            )
            writer.execute("COMMIT")
            writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (count,) = reader.execute("SELECT count(*) FROM t").fetchone()
            assert count == (round_ + 1) * 5000
        writer.execute("UPDATE t SET v = 'changed' WHERE k = 7")
        assert reader.execute("SELECT v FROM t WHERE k = 7").fetchone() == ("changed",)
    finally:
        writer.close()
        reader.close()


@pytest.mark.anyio
async def test_an_import_writes_without_the_map_and_gives_it_back(tmp_path: Path) -> None:
    # A bulk write through a mapped file is slower (store/sqlite/imports.py): the map is off
    # for the import's transaction, whether it commits or fails, and on again after it.
    url = f"sqlite:///{tmp_path / 'evshare.db'}"
    schema.upgrade(url)
    store = await open_store(load_settings(database_url=url))
    try:
        db = store._db  # type: ignore[attr-defined]
        serving = _mapped(db)
        assert serving > 0
        async with store.importing():
            assert _mapped(db) == 0
        assert _mapped(db) == serving
        with pytest.raises(RuntimeError):
            async with store.importing():
                raise RuntimeError
        assert _mapped(db) == serving
    finally:
        await store.close()
