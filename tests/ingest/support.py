"""Helpers for the importers' reading tests: files written on the fly, results split by kind."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from evshare.ingest import ChargerInfo, RowError

DATA = Path(__file__).parent / "data"

T = TypeVar("T")


class Files:
    """Writes test input under a temporary directory and returns its path as a string."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, content: str | bytes, *, gz: bool = False) -> str:
        data = content.encode() if isinstance(content, str) else content
        path = self.root / name
        path.write_bytes(gzip.compress(data) if gz else data)
        return str(path)


def split(rows: Iterable[T | RowError]) -> tuple[list[T], list[RowError]]:
    good: list[T] = []
    bad: list[RowError] = []
    for row in rows:
        if isinstance(row, RowError):
            bad.append(row)
        else:
            good.append(row)
    return good, bad


class StoredCharger:
    """A charger as the store's lookup would give it: all a session reader needs is its zone."""

    def __init__(self, time_zone: str | None) -> None:
        self.time_zone = time_zone


def lookup(zones: Mapping[str, str | None]) -> ChargerInfo:
    """A charger lookup knowing the chargers in `zones` (id → timeZone)."""

    def find(charger_id: str) -> StoredCharger | None:
        if charger_id not in zones:
            return None
        return StoredCharger(zones[charger_id])

    return find


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
