"""`evshare audit` on data with planted defects, on SQLite and PostgreSQL: each defect found
under its stable id, with its count and examples; exit 1 on error-level findings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from evshare.model import Charger, Session
from tests.cli.conftest import Cli
from tests.credits.test_stored import load


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _s(sid: str, charger: str, start: str, end: str | None, wh: float, **kw: int) -> Session:
    return Session(sid, charger, _t(start), None if end is None else _t(end), wh, **kw)


ZONE = "America/Toronto"
CHARGERS = [
    Charger(
        "C1",
        "One",
        serial_number="S1",
        time_zone=ZONE,
        latitude=43.6,
        longitude=-79.4,
        max_output_power_w=7200,
        number_of_connectors=1,
        commissioning_date=date(2024, 1, 1),
    ),
    Charger("C2", "Two", serial_number="S2", time_zone=ZONE, latitude=45.5, longitude=-73.6),
    # The same physical charger as C1 (same serial), imported under another id.
    Charger("C3", "One again", serial_number="S1", time_zone=ZONE, latitude=43.7, longitude=-79.5),
    Charger("C4", "Bare"),
    Charger("C5", "Busy", serial_number="S5", time_zone=ZONE, latitude=49.3, longitude=-123.1),
]
SESSIONS = [
    _s("a", "C1", "2024-02-01T10:00:00Z", "2024-02-01T11:00:00Z", 5000),
    _s("b", "C1", "2024-02-01T10:30:00Z", "2024-02-01T11:30:00Z", 3000),  # overlaps a
    _s("c", "C1", "2024-02-02T10:00:00Z", "2024-02-02T11:00:00Z", 20000),  # > 7.2 kWh in 1 h
    _s("d", "C1", "2024-02-03T10:00:00Z", "2024-02-03T11:00:00Z", -5),  # negative
    _s("e", "C1", "2024-02-04T10:00:00Z", "2024-02-04T11:00:00Z", 0),  # zero
    _s("f", "C2", "2024-02-04T10:00:00Z", "2024-02-04T11:00:00Z", 2_000_000),  # absurd
    _s("g", "C1", "2024-02-06T10:00:00Z", "2024-02-06T09:00:00Z", 100),  # ends before start
    _s("h", "C1", "2024-02-07T10:00:00Z", "2024-02-07T10:00:00Z", 100),  # zero duration
    _s("i", "C1", "2024-03-01T10:00:00Z", "2024-03-04T18:00:00Z", 100),  # 80 hours
    _s("j", "C1", "2024-02-05T10:00:00Z", "2024-02-05T11:00:00Z", 100, charging_duration_s=7200),
    _s("k", "C1", "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z", 1000),  # future
    _s("l", "C1", "2023-06-01T10:00:00Z", "2023-06-01T11:00:00Z", 1000),  # before commissioning
    _s("a-dup", "C3", "2024-02-01T10:00:00Z", "2024-02-01T11:00:00Z", 5000),  # a, counted twice
    _s("m", "C4", "2024-02-01T10:00:00Z", "2024-02-01T11:00:00Z", 1000),
]
# C5: two sessions a day for 20 days, 10 silent days, then 10 days more.
_first = datetime(2024, 4, 1, 12, tzinfo=UTC)
for day in [*range(20), *range(30, 40)]:
    for hour in (0, 3):
        start = _first + timedelta(days=day, hours=hour)
        SESSIONS.append(
            Session(f"busy-{day}-{hour}", "C5", start, start + timedelta(hours=1), 5000)
        )

EXPECTED = {
    "AUD-E01-energy-over-capacity": 1,
    "AUD-E02-overlap-beyond-connectors": 1,
    "AUD-E03-negative-energy": 1,
    "AUD-W04-zero-energy": 1,
    "AUD-E05-absurd-energy": 1,
    "AUD-E06-end-before-start": 1,
    "AUD-W07-zero-duration": 1,
    "AUD-W08-absurd-duration": 1,
    "AUD-E09-charging-longer-than-session": 1,
    "AUD-E10-future-session": 1,
    "AUD-E11-before-commissioning": 1,
    "AUD-E12-duplicate-across-chargers": 1,
    "AUD-E14-missing-coordinates": 1,
    "AUD-E15-missing-serial": 1,
    "AUD-W16-missing-time-zone": 1,
    "AUD-W17-silent-busy-charger": 1,
}


def test_audit_finds_every_planted_defect(database_url: str, tmp_path: Path) -> None:
    load(database_url, CHARGERS, SESSIONS)
    result = Cli(database_url, tmp_path)("audit", "--json")
    assert result.code == 1, result.err
    report = orjson.loads(result.out)
    found = {f["id"]: f for f in report["findings"]}
    assert {k: found[k]["count"] for k in EXPECTED} == EXPECTED
    assert not report["ok"]
    assert found["AUD-E01-energy-over-capacity"]["examples"][0]["session"] == "c"
    assert found["AUD-E02-overlap-beyond-connectors"]["examples"][0]["session"] == "b"
    duplicate = found["AUD-E12-duplicate-across-chargers"]["examples"][0]
    assert {duplicate["session"], duplicate["duplicate"]} == {"a", "a-dup"}
    silence = found["AUD-W17-silent-busy-charger"]["examples"][0]
    assert silence["charger"] == "C5"
    assert 10 <= float(silence["days"]) < 11
    assert all(f["severity"] in ("error", "warning") for f in report["findings"])
    table = Cli(database_url, tmp_path)("audit")
    assert table.code == 1
    assert "AUD-E02-overlap-beyond-connectors" in table.out
    assert "FAILED" in table.out


def test_audit_of_clean_data_passes(database_url: str, tmp_path: Path) -> None:
    charger = Charger(
        "OK",
        "Fine",
        serial_number="S",
        time_zone=ZONE,
        latitude=43.6,
        longitude=-79.4,
        max_output_power_w=7200,
        number_of_connectors=2,
        commissioning_date=date(2024, 1, 1),
    )
    sessions = [
        _s("1", "OK", "2024-02-01T10:00:00Z", "2024-02-01T11:00:00Z", 5000),
        _s("2", "OK", "2024-02-01T10:30:00Z", "2024-02-01T11:30:00Z", 3000),  # 2 connectors
        _s("3", "OK", "2024-02-01T11:00:00Z", "2024-02-01T12:00:00Z", 3000),  # back to back
    ]
    load(database_url, [charger], sessions)
    result = Cli(database_url, tmp_path)("audit", "--json")
    assert result.code == 0, result.out
    report = orjson.loads(result.out)
    assert report["ok"]
    assert all(f["count"] == 0 for f in report["findings"])


def _execute(database_url: str, *statements: str) -> None:
    if database_url.startswith("sqlite:"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            for statement in statements:
                db.execute(statement)
        return
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as db:
        for statement in statements:
            db.execute(statement)


def test_duplicates_across_sources_use_collect_provenance(
    database_url: str, tmp_path: Path
) -> None:
    """The operator's own charger and the same charger collected from an aggregator's feed
    (evshare collect's provenance table): the same charging counted twice across sources."""
    own = Charger(
        "OWN-1", "Own", serial_number="SN-9", time_zone=ZONE, latitude=43.6, longitude=-79.4
    )
    collected = Charger(
        "feed:CH-9",
        "Collected",
        serial_number="SN-9",
        time_zone=ZONE,
        latitude=43.6,
        longitude=-79.4,
    )
    sessions = [
        _s("o1", "OWN-1", "2024-02-01T10:00:00Z", "2024-02-01T11:00:00Z", 5000),
        _s("feed:CH-9:1", "feed:CH-9", "2024-02-01T10:00:00Z", "2024-02-01T11:00:00Z", 5000),
    ]
    load(database_url, [own, collected], sessions)
    _execute(
        database_url,
        "CREATE TABLE IF NOT EXISTS collected_chargers (source TEXT NOT NULL, remote_id TEXT "
        "NOT NULL, charger_id TEXT NOT NULL, watermark DATE, first_seen BIGINT NOT NULL, "
        "last_seen BIGINT NOT NULL)",
        "INSERT INTO collected_chargers (source, remote_id, charger_id, first_seen, last_seen) "
        "VALUES ('feed', 'CH-9', 'feed:CH-9', 0, 0)",
    )
    cli = Cli(database_url, tmp_path)
    result = cli("audit", "--json")
    assert result.code == 1
    found = {f["id"]: f for f in orjson.loads(result.out)["findings"]}
    assert found["AUD-E13-duplicate-across-sources"]["count"] == 1
    assert found["AUD-E12-duplicate-across-chargers"]["count"] == 0
    example = found["AUD-E13-duplicate-across-sources"]["examples"][0]
    assert {example["source"], example["other_source"]} == {"local", "feed"}
    only_feed = cli(
        "credits", "--program", "cfr", "--year", "2024", "--source", "feed", "--format", "json"
    )
    assert only_feed.code == 0, only_feed.err
    stations = orjson.loads(only_feed.out)["stations"]
    assert [s["station"] for s in stations] == ["feed:CH-9"]
