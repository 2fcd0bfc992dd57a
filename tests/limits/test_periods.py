from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evshare.limits.periods import bounds
from evshare.model import Period


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: float = 0) -> float:
    whole = int(s)
    return datetime(y, mo, d, h, mi, whole, tzinfo=UTC).timestamp() + (s - whole)


@pytest.mark.parametrize(
    ("period", "now", "first", "after"),
    [
        ("day", at(2024, 3, 10, 12), at(2024, 3, 10), at(2024, 3, 11)),
        ("day", at(2024, 3, 10), at(2024, 3, 10), at(2024, 3, 11)),
        ("day", at(2024, 3, 10, 23, 59, 59.999), at(2024, 3, 10), at(2024, 3, 11)),
        ("day", at(2023, 12, 31, 23, 59, 59), at(2023, 12, 31), at(2024, 1, 1)),
        # 2024-01-01 is a Monday
        ("week", at(2024, 1, 1), at(2024, 1, 1), at(2024, 1, 8)),
        ("week", at(2024, 1, 7, 23, 59, 59.5), at(2024, 1, 1), at(2024, 1, 8)),
        ("week", at(2024, 1, 8), at(2024, 1, 8), at(2024, 1, 15)),
        ("week", at(2025, 12, 31, 9), at(2025, 12, 29), at(2026, 1, 5)),
        ("week", at(1970, 1, 1), at(1969, 12, 29), at(1970, 1, 5)),
        ("month", at(2024, 2, 29, 23, 59, 59), at(2024, 2, 1), at(2024, 3, 1)),
        ("month", at(2024, 3, 1), at(2024, 3, 1), at(2024, 4, 1)),
        ("month", at(2023, 2, 15), at(2023, 2, 1), at(2023, 3, 1)),
        ("month", at(2100, 2, 28), at(2100, 2, 1), at(2100, 3, 1)),
        ("month", at(2023, 12, 31, 23, 59, 59.9), at(2023, 12, 1), at(2024, 1, 1)),
        ("month", at(2024, 1, 1), at(2024, 1, 1), at(2024, 2, 1)),
        ("month", at(2024, 4, 30, 12), at(2024, 4, 1), at(2024, 5, 1)),
    ],
)
def test_bounds(period: Period, now: float, first: float, after: float) -> None:
    assert bounds(period, now) == (first, after)


@pytest.mark.parametrize(
    ("month", "days"),
    [((2024, 2), 29), ((2023, 2), 28), ((2000, 2), 29), ((2024, 4), 30), ((2024, 12), 31)],
)
def test_month_length(month: tuple[int, int], days: int) -> None:
    first, after = bounds("month", at(*month, 10))
    assert after - first == days * 86_400
