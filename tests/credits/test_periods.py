"""Compliance periods cut on the charger's own clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from evshare.credits import periods


def _utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_a_year_in_vancouver_starts_at_eight_utc_and_has_a_short_march() -> None:
    found = periods.buckets("cfr", 2024, ZoneInfo("America/Vancouver"))
    assert [b.month for b in found] == [f"2024-{m:02d}" for m in range(1, 13)]
    assert {b.period for b in found} == {"2024"}
    assert found[0].start == _utc("2024-01-01T08:00:00")
    assert found[-1].end == _utc("2025-01-01T08:00:00")
    march = found[2]
    assert march.end - march.start == 31 * 86400 - 3600  # DST starts on 10 March
    assert all(a.end == b.start for a, b in itertools.pairwise(found))


def test_cfr_2022_starts_on_june_21_and_2023_has_two_halves() -> None:
    zone = ZoneInfo("America/Toronto")
    first = periods.buckets("cfr", 2022, zone)[0]
    assert (first.period, first.month) == ("2022", "2022-06")
    assert first.start == _utc("2022-06-21T04:00:00")
    halves = periods.buckets("cfr", 2023, zone)
    assert [b.period for b in halves] == ["2023-H1"] * 6 + ["2023-H2"] * 6


def test_bc_years_are_calendar_years() -> None:
    found = periods.buckets("bc-lcfs", 2025, ZoneInfo("UTC"))
    assert {b.period for b in found} == {"2025"}
    assert found[0].start == _utc("2025-01-01T00:00:00")
