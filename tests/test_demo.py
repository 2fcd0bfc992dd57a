from __future__ import annotations

import hashlib
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evshare.demo import DEFAULT_END, DemoData, generate
from evshare.model import Charger, Session

CHARGER_ID = re.compile(r"CA-[A-Z]{2}-[A-Z]{3}-\d{4}")
ZONES = {  # the zones each province may use
    "BC": {"America/Vancouver"},
    "AB": {"America/Edmonton"},
    "SK": {"America/Regina"},
    "MB": {"America/Winnipeg"},
    "ON": {"America/Toronto"},
    "QC": {"America/Toronto"},
    "NS": {"America/Halifax"},
    "PE": {"America/Halifax"},
    "NB": {"America/Moncton"},
    "NL": {"America/St_Johns"},
    "YT": {"America/Whitehorse"},
}
DC_THRESHOLD_W = 20_000


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate()


@pytest.fixture(scope="module")
def sessions(data: DemoData) -> list[Session]:
    return list(data.sessions())


def is_dc(charger: Charger) -> bool:
    assert charger.max_output_power_w is not None
    return charger.max_output_power_w > DC_THRESHOLD_W


def digest(data: DemoData) -> str:
    return hashlib.sha256(repr((data, list(data.sessions()))).encode()).hexdigest()


def zone_of(charger: Charger) -> ZoneInfo:
    assert charger.time_zone is not None
    return ZoneInfo(charger.time_zone)


def check_chargers(data: DemoData) -> None:
    ids = [charger.id for charger in data.chargers]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids, key=str.encode)
    serials = [c.serial_number for c in data.chargers if c.serial_number is not None]
    assert len(set(serials)) == len(serials)
    for charger in data.chargers:
        assert CHARGER_ID.fullmatch(charger.id), charger.id
        assert charger.time_zone in ZONES[charger.id[3:5]]
        assert datetime(2025, 7, 1, tzinfo=zone_of(charger)).utcoffset() is not None
        assert re.fullmatch(r".+ — .+ (L2|DC) #\d+", charger.name), charger.name
        assert (" DC #" in charger.name) == is_dc(charger)
        assert charger.model
        assert charger.manufacturer
        assert charger.number_of_connectors in {1, 2}
        assert charger.latitude is not None
        assert 42 < charger.latitude < 61
        assert charger.longitude is not None
        assert -136 < charger.longitude < -52
        power = charger.max_output_power_w
        assert power in {7200, 7680, 50_000, 150_000, 350_000}
        current, voltage = charger.max_available_current_a, charger.output_voltage_v
        if current is not None and voltage is not None:
            assert current * voltage == pytest.approx(power)
        if voltage is not None and power < DC_THRESHOLD_W:
            assert voltage == 240
        elif voltage is not None:
            assert 400 <= voltage <= 1000
        if charger.commissioning_date is not None:
            assert charger.commissioning_date < data.as_of.date()


def check_sessions(data: DemoData, sessions: list[Session]) -> None:
    chargers = {charger.id: charger for charger in data.chargers}
    assert len({session.id for session in sessions}) == len(sessions)
    by_charger: dict[str, list[Session]] = defaultdict(list)
    for session in sessions:
        by_charger[session.charger_id].append(session)
    # Charger by charger in id order: each charger's sessions form one run.
    runs = [charger_id for charger_id, _ in groupby(s.charger_id for s in sessions)]
    assert runs == sorted(by_charger, key=str.encode)
    assert set(runs) <= set(chargers)

    for charger_id, own in by_charger.items():
        charger = chargers[charger_id]
        zone = zone_of(charger)
        assert charger.max_output_power_w is not None
        low, high = (15_000, 90_000) if is_dc(charger) else (4_000, 40_000)
        assert own == sorted(own, key=lambda s: (s.start_time, s.id))
        assert [s.id for s in own] == sorted((s.id for s in own), key=str.encode)
        for session in own:
            start = session.start_time
            assert start.tzinfo is UTC
            assert start.microsecond == 0
            assert data.start <= start < data.as_of
            assert re.fullmatch(rf"{charger_id}-{start:%Y%m%d}-\d\d", session.id), session.id
            if charger.commissioning_date is not None:
                assert start.date() >= charger.commissioning_date
                assert start.astimezone(zone).date() >= charger.commissioning_date
            duration = session.charging_duration_s
            assert isinstance(duration, int)
            assert duration > 0
            assert session.energy_wh <= charger.max_output_power_w * duration / 3600
            if session.end_time is None:
                assert duration <= (data.as_of - start).total_seconds()
                assert 0 < session.energy_wh <= high
                assert data.as_of - start < timedelta(hours=24)
            else:
                end = session.end_time
                assert end.tzinfo is UTC
                assert end.microsecond == 0
                assert start < end <= data.as_of
                assert duration <= (end - start).total_seconds()
                assert end - start < timedelta(hours=24)
                assert low <= session.energy_wh <= high
        assert charger.number_of_connectors is not None
        assert concurrency(own) <= charger.number_of_connectors
        if charger.number_of_connectors == 1:
            assert all(s.end_time is not None for s in own[:-1])


def concurrency(sessions: list[Session]) -> int:
    """The most cars plugged in at once, holding sessions in progress open for ever: a car still
    plugged in must be the last on its connector."""
    events = [(s.start_time, 1) for s in sessions]
    events += [(s.end_time, -1) for s in sessions if s.end_time is not None]
    plugged = most = 0
    for _, change in sorted(events):  # at one instant, a car leaves before the next arrives
        plugged += change
        most = max(most, plugged)
    return most


def test_defaults_are_a_year_of_calendar_2025(data: DemoData, sessions: list[Session]) -> None:
    assert data.start == datetime(2025, 1, 1, tzinfo=UTC)
    assert data.as_of == datetime(2026, 1, 1, tzinfo=UTC)
    assert date(2025, 12, 31) == DEFAULT_END
    assert len(data.chargers) == 36
    assert 40_000 <= len(sessions) <= 60_000
    assert 2 <= sum(s.end_time is None for s in sessions) <= 40


def test_default_chargers(data: DemoData) -> None:
    check_chargers(data)
    chargers = data.chargers
    assert len({charger.id[3:5] for charger in chargers}) >= 9
    assert len({charger.time_zone for charger in chargers}) >= 8
    assert {charger.max_output_power_w for charger in chargers} >= {50_000, 150_000, 350_000}
    assert len({c.manufacturer for c in chargers if not is_dc(c)}) >= 3
    assert 0.3 < sum(map(is_dc, chargers)) / len(chargers) < 0.7
    mid_year = [
        c for c in chargers if c.commissioning_date and c.commissioning_date >= date(2025, 1, 1)
    ]
    assert len(mid_year) >= 2
    for name in (
        "serial_number",
        "max_available_current_a",
        "output_voltage_v",
        "commissioning_date",
    ):
        assert any(getattr(charger, name) is None for charger in chargers), name


def test_default_sessions(data: DemoData, sessions: list[Session]) -> None:
    check_sessions(data, sessions)


def test_mid_year_chargers_start_when_commissioned(data: DemoData, sessions: list[Session]) -> None:
    """check_sessions proves none starts earlier; here, that they do start soon after."""
    first: dict[str, datetime] = {}
    for session in sessions:
        first.setdefault(session.charger_id, session.start_time)
    for charger in data.chargers:
        if charger.commissioning_date and charger.commissioning_date > data.start.date():
            assert first[charger.id].date() - charger.commissioning_date < timedelta(days=7)


def test_in_progress_sessions_are_the_latest(data: DemoData, sessions: list[Session]) -> None:
    """check_sessions proves each is the last on its connector; here, that the default set has
    them, on chargers of one connector and of two."""
    connectors = {charger.id: charger.number_of_connectors for charger in data.chargers}
    last: dict[str, Session] = {session.charger_id: session for session in sessions}
    open_sessions = [s for s in sessions if s.end_time is None]
    assert {connectors[s.charger_id] for s in open_sessions} == {1, 2}
    for session in open_sessions:
        assert data.as_of - session.start_time < timedelta(hours=24)
        if connectors[session.charger_id] == 1:
            assert last[session.charger_id] is session


def test_same_seed_same_data(data: DemoData) -> None:
    again = generate(seed=2026)
    assert again.chargers == data.chargers
    assert list(again.sessions()) == list(data.sessions())


def test_sessions_are_lazy_and_repeatable() -> None:
    small = generate(chargers=3, days=10)
    sessions = small.sessions()
    assert iter(sessions) is sessions
    first = next(sessions)
    assert first == next(small.sessions())


def test_different_seed_different_data(data: DemoData, sessions: list[Session]) -> None:
    other = generate(seed=2027)
    assert other.chargers != data.chargers
    assert list(other.sessions()) != sessions


@pytest.mark.process
def test_deterministic_across_processes() -> None:
    code = (
        "import hashlib; from evshare.demo import generate; d = generate(chargers=8, days=30); "
        "print(hashlib.sha256(repr((d, list(d.sessions()))).encode()).hexdigest())"
    )
    results = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert results == {digest(generate(chargers=8, days=30))}


def test_end_moves_the_window() -> None:
    recent = generate(chargers=6, days=30, end=date(2026, 5, 17))
    assert recent.start == datetime(2026, 4, 18, tzinfo=UTC)
    assert recent.as_of == datetime(2026, 5, 18, tzinfo=UTC)
    sessions = list(recent.sessions())
    assert sessions
    check_chargers(recent)
    check_sessions(recent, sessions)


@pytest.mark.parametrize(
    "end",
    [date(2025, 3, 11), date(2025, 11, 4)],  # spring forward on 9 March, fall back on 2 November
)
def test_across_a_dst_change(end: date) -> None:
    demo = generate(chargers=80, days=5, end=end)
    sessions = list(demo.sessions())
    check_chargers(demo)
    check_sessions(demo, sessions)
    change_day = end - timedelta(days=2)
    zones = {charger.id: zone_of(charger) for charger in demo.chargers}
    assert any(s.start_time.astimezone(zones[s.charger_id]).date() == change_day for s in sessions)


def test_patterns_follow_local_time(data: DemoData, sessions: list[Session]) -> None:
    """In zones with DST, arrivals keep their local hours from January to July, so in UTC they
    move by the hour the clocks change."""
    chargers = {charger.id: charger for charger in data.chargers}

    def hours(month: int) -> Iterator[tuple[float, float]]:
        for session in sessions:
            charger = chargers[session.charger_id]
            no_dst = charger.time_zone in {"America/Regina", "America/Whitehorse"}
            if session.start_time.month != month or no_dst:
                continue
            local = session.start_time.astimezone(zone_of(charger))
            offset = local.utcoffset()
            assert offset is not None
            hour = local.hour + local.minute / 60
            yield hour, hour - offset / timedelta(hours=1)

    january, july = list(hours(1)), list(hours(7))
    local_shift = statistics.mean(h for h, _ in july) - statistics.mean(h for h, _ in january)
    utc_shift = statistics.mean(h for _, h in july) - statistics.mean(h for _, h in january)
    assert abs(local_shift) < 0.3
    assert abs(utc_shift + 1) < 0.3


def test_many_chargers_beyond_the_city_list() -> None:
    many = generate(chargers=400, days=2)
    assert len(many.chargers) == 400
    check_chargers(many)
    check_sessions(many, list(many.sessions()))


def test_one_charger_one_day() -> None:
    tiny = generate(chargers=1, days=1)
    assert [charger.id for charger in tiny.chargers] == ["CA-AB-CAL-0001"]
    check_chargers(tiny)
    check_sessions(tiny, list(tiny.sessions()))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(),
    chargers=st.integers(1, 40),
    days=st.integers(1, 20),
    end=st.dates(date(2020, 1, 1), date(2035, 12, 31)),
)
def test_any_seed_and_window(seed: int, chargers: int, days: int, end: date) -> None:
    demo = generate(seed=seed, chargers=chargers, days=days, end=end)
    assert len(demo.chargers) == chargers
    check_chargers(demo)
    check_sessions(demo, list(demo.sessions()))


@pytest.mark.parametrize("chargers", [0, -3, 10_000])
def test_rejects_charger_counts(chargers: int) -> None:
    with pytest.raises(ValueError, match=f"chargers must be between 1 and 9999, not {chargers}"):
        generate(chargers=chargers)


@pytest.mark.parametrize("days", [0, -1])
def test_rejects_day_counts(days: int) -> None:
    with pytest.raises(ValueError, match=f"days must be at least 1, not {days}"):
        generate(days=days)
