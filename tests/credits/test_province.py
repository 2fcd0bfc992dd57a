"""A charger's province, given by the operator in an import: stored, used by credits, never
served (it is not in the contract)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from evshare.config import load_settings
from evshare.model import Visibility
from evshare.store import open_store
from tests.cli.conftest import Cli

pytestmark = pytest.mark.process  # runs evshare as a subprocess

CSV = """id,name,serialNumber,timeZone,latitude,longitude,province
P-1,Lloydminster east,S1,America/Regina,53.2780,-109.9990,Saskatchewan
P-2,Vancouver,S2,America/Vancouver,49.2827,-123.1207,
P-3,Nowhere,S3,America/Toronto,,,on
"""

SESSIONS = """id,chargerId,energy,startTime,endTime
s1,P-1,100000000,2024-05-01T12:00:00Z,2024-05-01T13:00:00Z
s3,P-3,100000000,2024-05-01T12:00:00Z,2024-05-01T13:00:00Z
"""


def test_an_imported_province_is_stored_used_and_not_served(
    database_url: str, tmp_path: Path
) -> None:
    cli = Cli(database_url, tmp_path)
    (tmp_path / "chargers.csv").write_text(CSV)
    (tmp_path / "sessions.csv").write_text(SESSIONS)
    assert cli("import", "chargers", str(tmp_path / "chargers.csv")).code == 0
    assert cli("import", "sessions", str(tmp_path / "sessions.csv")).code == 0
    result = cli("credits", "--program", "cfr", "--year", "2024", "--format", "json")
    assert result.code == 0, result.err
    stations = {s["station"]: s for s in orjson.loads(result.out)["stations"]}
    # Near the AB/SK border: the operator's word decides, not the nearest town.
    assert (stations["P-1"]["province"], stations["P-1"]["province_how"]) == ("SK", "explicit")
    assert stations["P-2"]["province_how"] == "derived"
    assert (stations["P-3"]["province"], stations["P-3"]["province_how"]) == ("ON", "explicit")
    provinces = {p["province"] for p in orjson.loads(result.out)["provinces"]}
    assert provinces == {"SK", "ON"}

    async def served() -> bytes | None:
        store = await open_store(load_settings(database_url=database_url))
        try:
            return await store.charger_json(Visibility("t", all_chargers=True), "P-1")
        finally:
            await store.close()

    document = asyncio.run(served())
    assert document is not None
    assert b"province" not in document
    assert orjson.loads(document)["serialNumber"] == "S1"


def test_an_unknown_province_is_a_row_error(database_url: str, tmp_path: Path) -> None:
    cli = Cli(database_url, tmp_path)
    (tmp_path / "chargers.csv").write_text("id,name,province\nP-9,Somewhere,Atlantis\n")
    result = cli("import", "chargers", str(tmp_path / "chargers.csv"))
    assert result.code != 0
    assert "province" in result.err
    assert "Atlantis" in result.err
