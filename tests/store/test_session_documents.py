"""A session's stored SQLite document, rendered in Python as the row is written, says what
SQLite's own rendering (json_object and strftime, which the migration uses for existing rows)
says: the same members in the same order, the same values."""

from __future__ import annotations

import sqlite3

import orjson
import pytest

from evshare.store.sqlite.documents import session_doc, session_document

ROWS = [
    ("S-1", "CH-1", 1_709_294_400, 1_709_297_100, 12000.5, 2700),
    ("S-2", "CH-1", 1_709_294_400, 1_709_297_100, 12000, None),
    ("S-3", "CH-1", 0, 59, 0.1, 0),
    ("before 1970", "CH-1", -86_401, -1, 1e-7, 1),
    ('quote " and \\ backslash', "Électrique", 1_700_000_000, 1_700_003_599, 7.25, 3599),
    ("control \x01\x1f\t", "tab\tid", 1_735_689_599, 1_735_689_600, 3e20, 12),
    ("emoji 🚗", "CH/slash", 4_102_444_799, 4_102_444_800, 123456.789, 86_400),
]


@pytest.mark.parametrize("row", ROWS)
def test_python_and_sqlite_render_the_same_document(row: tuple[object, ...]) -> None:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE sessions (id TEXT, charger_id TEXT, start_ts INTEGER, end_ts INTEGER,"
        " energy_wh FLOAT, charging_duration_s INTEGER)"
    )
    db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)", row)
    (by_sqlite,) = db.execute(f"SELECT {session_doc('')} FROM sessions").fetchone()
    by_python = session_document(row)
    assert by_python is not None
    assert list(orjson.loads(by_python).items()) == list(orjson.loads(by_sqlite).items())


def test_a_session_in_progress_has_no_document() -> None:
    assert session_document(("S", "CH", 0, None, 1.0, None)) is None
