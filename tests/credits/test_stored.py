"""Credits, the report and the Schedule 11 export over stored sessions, on SQLite and
PostgreSQL: the numbers worked out by hand, the periods cut on each charger's local clock."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from evshare.cli import credits as credits_cli
from evshare.config import load_settings
from evshare.model import Charger, Session
from evshare.store import open_store
from tests.cli.conftest import Cli


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


CHARGERS = [
    Charger(
        "CH-ON-1",
        "Toronto",
        serial_number="S-ON-1",
        time_zone="America/Toronto",
        latitude=43.6532,
        longitude=-79.3832,
        max_output_power_w=50_000,
        number_of_connectors=2,
    ),
    # No time zone: derived from its coordinates (America/Edmonton).
    Charger("CH-AB-1", "Calgary", serial_number="S-AB-1", latitude=51.0447, longitude=-114.0719),
    Charger(
        "CH-BC-1",
        "Vancouver",
        serial_number="S-BC-1",
        time_zone="America/Vancouver",
        latitude=49.2827,
        longitude=-123.1207,
    ),
    # Nowhere: no province, no coordinates - listed, never counted.
    Charger("CH-X", "Nowhere"),
]

SESSIONS = [
    Session("on-1", "CH-ON-1", _t("2024-03-01T12:00:00Z"), _t("2024-03-01T13:00:00Z"), 60_000_000),
    # 23:30 on 31 December in Toronto: 2024 locally, although 2025 in UTC.
    Session("on-2", "CH-ON-1", _t("2025-01-01T04:30:00Z"), _t("2025-01-01T05:30:00Z"), 40_000_000),
    # 23:30 on 31 December 2023 in Toronto: 2023-H2, although 2024 in UTC.
    Session("on-3", "CH-ON-1", _t("2024-01-01T04:30:00Z"), _t("2024-01-01T05:00:00Z"), 7_000_000),
    Session("ab-1", "CH-AB-1", _t("2024-06-01T18:00:00Z"), _t("2024-06-01T20:00:00Z"), 100_000_000),
    Session("bc-1", "CH-BC-1", _t("2024-07-01T18:00:00Z"), _t("2024-07-01T19:00:00Z"), 100_000_000),
    # Still charging: not counted.
    Session("bc-2", "CH-BC-1", _t("2024-07-02T18:00:00Z"), None, 5_000_000),
    Session("x-1", "CH-X", _t("2024-05-01T12:00:00Z"), _t("2024-05-01T13:00:00Z"), 1_000_000),
]


def load(database_url: str, chargers: list[Charger], sessions: list[Session]) -> None:
    async def run() -> None:
        store = await open_store(load_settings(database_url=database_url))
        try:
            await store.upsert_chargers(chargers)
            await store.upsert_sessions(sessions)
        finally:
            await store.close()

    asyncio.run(run())


@pytest.fixture
def loaded(database_url: str) -> str:
    load(database_url, CHARGERS, SESSIONS)
    return database_url


def _options(program: str, year: int, **kw: object) -> credits_cli._Options:
    return credits_cli._options(program, year, "host", None, None, None, None, **kw)


def test_cfr_2024_by_hand(loaded: str) -> None:
    ledger = credits_cli.compute(loaded, _options("cfr", 2024))
    lines = {(line.period, line.province): line for line in ledger.result.lines}
    assert set(lines) == {("2024", "AB"), ("2024", "BC"), ("2024", "ON")}
    # ON: (2.5 x 87.9 - 14) x 100 000 kWh x 3.6e-6 = 74.07 -> 74 (on-1 and on-2, local 2024)
    assert lines[("2024", "ON")].kwh == Decimal(100_000)
    assert lines[("2024", "ON")].rounded == 74
    # AB: (219.75 - 218) x 100 000 x 3.6e-6 = 0.63 -> 1
    assert lines[("2024", "AB")].rounded == 1
    # BC: (219.75 - 11) x 100 000 x 3.6e-6 = 75.15 -> 75
    assert lines[("2024", "BC")].rounded == 75
    assert ledger.result.total == 150
    nowhere = next(s for s in ledger.stations if s.station.id == "CH-X")
    assert not nowhere.counted
    assert "unassigned" in nowhere.reason
    assert ledger.uncounted_kwh == Decimal(1000)
    calgary = next(s for s in ledger.stations if s.station.id == "CH-AB-1")
    assert (calgary.station.zone.name, calgary.station.zone.how) == ("America/Edmonton", "derived")
    assert calgary.station.placement.how == "derived"


def test_a_session_belongs_to_its_local_period(loaded: str) -> None:
    ledger = credits_cli.compute(loaded, _options("cfr", 2023))
    (line,) = ledger.result.lines
    assert (line.period, line.province, line.kwh) == ("2023-H2", "ON", Decimal(7000))


def test_bc_counts_british_columbia_only(loaded: str) -> None:
    ledger = credits_cli.compute(loaded, _options("bc-lcfs", 2024))
    (line,) = ledger.result.lines
    # (78.68 x 3.5 - 12.14) x 100 000 x 3.6 / 1e6 = 94.7664 -> 94.76640; total 95
    assert line.rounded == Decimal("94.76640")
    assert ledger.result.total == 95
    toronto = next(s for s in ledger.stations if s.station.id == "CH-ON-1")
    assert not toronto.counted
    assert "not British Columbia" in toronto.reason


def test_credits_command_formats(loaded: str, tmp_path: Path) -> None:
    cli = Cli(loaded, tmp_path)
    as_json = cli("credits", "--program", "cfr", "--year", "2024", "--format", "json")
    assert as_json.code == 0, as_json.err
    data = orjson.loads(as_json.out)
    assert data["total"] == "150"
    assert {p["province"]: p["credits"] for p in data["provinces"]} == {
        "AB": "1",
        "BC": "75",
        "ON": "74",
    }
    as_csv = cli("credits", "--program", "cfr", "--year", "2024", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert rows[-1]["level"] == "total"
    assert rows[-1]["credits"] == "150"
    table = cli("credits", "--program", "bc-lcfs", "--year", "2024")
    assert table.code == 0
    assert "total: 95" in table.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--year", "2024"], "--program"),
        (["--program", "cfr"], "--year"),
        (["--program", "cfr", "--year", "2019"], "2019"),
        (
            ["--program", "cfr", "--year", "2024", "--role", "network", "--eer", "heavy-duty=5"],
            "s. 102",
        ),
        (["--program", "cfr", "--year", "2024", "--source", "x"], "--source"),
        (["--program", "cfr", "--year", "2024", "--format", "xml"], "--format"),
    ],
)
def test_credits_errors_name_the_flag(
    database_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    result = Cli(database_url, tmp_path)("credits", *args)
    assert result.code != 0
    assert message in result.err


def test_schedule11_lists_incomplete_stations(loaded: str, tmp_path: Path) -> None:
    result = Cli(loaded, tmp_path)("credits", "export", "--schedule11", "--year", "2024")
    assert result.code == 0, result.err
    rows = {r["station_id"]: r for r in csv.DictReader(io.StringIO(result.out))}
    assert set(rows) == {"CH-AB-1", "CH-BC-1", "CH-ON-1", "CH-X"}
    assert rows["CH-ON-1"] | {"sessions": ""} == rows["CH-ON-1"] | {
        "schedule_11_item": "5",
        "compliance_period": "2024",
        "latitude": "43.65320",
        "longitude": "-79.38320",
        "province": "ON",
        "ci_e_gco2e_per_mj": "14",
        "kwh_light_duty": "100000.000",
        "missing_required": "",
        "sessions": "",
    }
    assert rows["CH-X"]["missing_required"] == "serial_number;gps;province"
    assert "miss a required field" in result.err


def test_report_renders_in_a_real_browser(loaded: str, tmp_path: Path) -> None:
    from tests.credits.browser import chromium_or_skip, render

    chromium = chromium_or_skip()
    out = tmp_path / "report.html"
    result = Cli(loaded, tmp_path)(
        "credits", "report", "--program", "cfr", "--year", "2024", "--out", str(out)
    )
    assert result.code == 0, result.err
    html = out.read_text()
    assert "http://" not in html
    assert "https://" not in html
    assert "<link" not in html
    artefacts = Path(os.environ.get("EVSHARE_TEST_ARTIFACTS", tmp_path))
    rendered = render(chromium, out, artefacts / "credits-report.png")
    assert rendered.charts_drawn == 3
    assert rendered.errors == 0
    assert rendered.console_errors == []
    assert rendered.screenshot.stat().st_size > 10_000
    assert "Parameters and their sources" in rendered.text
    assert "CI_e ON" in rendered.text
