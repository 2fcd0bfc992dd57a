"""OCPI 2.2.1 Locations (one charger per EVSE) and CDRs (sessions)."""

from __future__ import annotations

import json
from typing import TypedDict

import orjson
import pytest

from evshare.errors import ImportFailed
from evshare.ingest import RowError, read_ocpi_cdrs, read_ocpi_locations
from evshare.ingest.validate import DUPLICATE
from evshare.model import Charger, Session
from tests.ingest.support import DATA, Files, lookup, split, utc

LOCATIONS = str(DATA / "ocpi-locations-response.json")
CDRS = str(DATA / "ocpi-cdrs.json")


class Site(TypedDict):
    """What every charger of a location shares."""

    time_zone: str
    latitude: float
    longitude: float


EDMONTON: Site = {"time_zone": "America/Edmonton", "latitude": 53.51854, "longitude": -113.49704}
VANCOUVER: Site = {"time_zone": "America/Vancouver", "latitude": 49.28872, "longitude": -123.11144}
CALGARY: Site = {"time_zone": "America/Edmonton", "latitude": 51.04427, "longitude": -114.062019}


def test_locations_from_an_ocpi_response() -> None:
    assert list(read_ocpi_locations(LOCATIONS)) == [
        Charger(
            "EDM01-1",
            "Whyte Avenue Parkade (CA*EVX*E0001*1)",
            max_output_power_w=7680.0,
            max_available_current_a=32.0,
            output_voltage_v=240.0,
            number_of_connectors=1,
            province="AB",  # the Location's state
            **EDMONTON,
        ),
        Charger(
            "EDM01-2",
            "Whyte Avenue Parkade (CA*EVX*E0001*2)",
            max_output_power_w=150000.0,
            max_available_current_a=200.0,
            output_voltage_v=920.0,
            number_of_connectors=2,
            province="AB",
            **EDMONTON,
        ),
        # no max_electric_power: volts x amperes x phases; no location name: its id
        Charger(
            "VAN07-A",
            "LOC-VAN-07 (VAN07-A)",
            max_output_power_w=22080.0,
            max_available_current_a=32.0,
            output_voltage_v=230.0,
            number_of_connectors=1,
            **VANCOUVER,
        ),
        # a REMOVED EVSE is kept: its past sessions still count
        Charger(
            "VAN07-OLD",
            "LOC-VAN-07 (CA*EVX*E0007*9)",
            max_output_power_w=4992.0,
            max_available_current_a=24.0,
            output_voltage_v=208.0,
            number_of_connectors=1,
            **VANCOUVER,
        ),
        RowError(LOCATIONS, 119, "coordinates.latitude", "153.0", "out of range (-90 to 90)"),
        RowError(LOCATIONS, 129, "evses[0].connectors", [], "must not be empty"),
        RowError(LOCATIONS, 129, "evses[1].connectors[0].max_voltage", "high", "not a number"),
        Charger(
            "CGY02-3",
            "Calgary Depot (CGY02-3)",
            max_output_power_w=11520.0,
            max_available_current_a=48.0,
            output_voltage_v=240.0,
            number_of_connectors=1,
            **CALGARY,
        ),
    ]


def test_locations_as_a_bare_array_and_as_ndjson_read_the_same(files: Files) -> None:
    locations = json.loads((DATA / "ocpi-locations-response.json").read_text())["data"]
    array = files.write("locations.json", orjson.dumps(locations))
    lines = files.write("locations.ndjson.gz", b"\n".join(map(orjson.dumps, locations)), gz=True)
    expected = [row if isinstance(row, Charger) else None for row in read_ocpi_locations(LOCATIONS)]
    for path in (array, lines):
        assert [
            row if isinstance(row, Charger) else None for row in read_ocpi_locations(path)
        ] == expected


BASE_LOCATION: dict[str, object] = {
    "id": "L1",
    "name": "Site",
    "coordinates": {"latitude": "53.5", "longitude": "-113.5"},
    "time_zone": "America/Edmonton",
    "evses": [
        {
            "uid": "E1",
            "connectors": [
                {"id": "1", "power_type": "DC", "max_voltage": 400, "max_amperage": 100}
            ],
        }
    ],
}


def location(**changes: object) -> dict[str, object]:
    return {**BASE_LOCATION, **changes}


def evse(**changes: object) -> dict[str, object]:
    return {
        "uid": "E1",
        "connectors": [{"id": "1", "max_voltage": 400, "max_amperage": 100}],
        **changes,
    }


@pytest.mark.parametrize(
    ("record", "field", "value", "reason"),
    [
        (location(time_zone="Mars/Base"), "time_zone", "Mars/Base", "not a known IANA time zone"),
        (location(coordinates="53.5,-113.5"), "coordinates", "53.5,-113.5", "not a JSON object"),
        (
            location(coordinates={"latitude": "53.5", "longitude": "west"}),
            "coordinates.longitude",
            "west",
            "not a number",
        ),
        (
            location(coordinates={"latitude": "53.5"}),
            "coordinates.longitude",
            None,
            "required with coordinates.latitude",
        ),
        (
            location(coordinates={"longitude": "-113.5"}),
            "coordinates.latitude",
            None,
            "required with coordinates.longitude",
        ),
        (
            location(coordinates={"latitude": "53.5", "longitude": "-190"}),
            "coordinates.longitude",
            "-190",
            "out of range (-180 to 180)",
        ),
        (location(evses={"uid": "E1"}), "evses", {"uid": "E1"}, "not a JSON array"),
        (location(name=["Site"]), "name", ["Site"], "must be a string"),
        (location(evses=["E1"]), "evses[0]", "E1", "not a JSON object"),
        (location(evses=[evse(uid=None)]), "evses[0].uid", None, "required"),
        (location(evses=[evse(connectors=None)]), "evses[0].connectors", None, "required"),
        (location(evses=[evse(connectors=[7])]), "evses[0].connectors[0]", 7, "not a JSON object"),
        (
            location(evses=[evse(connectors=[{"max_amperage": -16}])]),
            "evses[0].connectors[0].max_amperage",
            -16,
            "must not be negative",
        ),
        (
            location(evses=[evse(connectors=[{"max_electric_power": "7kW"}])]),
            "evses[0].connectors[0].max_electric_power",
            "7kW",
            "not a number",
        ),
    ],
)
def test_each_bad_location_value_is_a_row_error_named_by_its_ocpi_path(
    files: Files, record: dict[str, object], field: str, value: object, reason: str
) -> None:
    path = files.write(
        "locations.ndjson", orjson.dumps(BASE_LOCATION) + b"\n" + orjson.dumps(record)
    )
    chargers, errors = split(read_ocpi_locations(path))
    assert len(chargers) == 1
    assert errors == [RowError(path, 2, field, value, reason)]


def test_optional_location_parts_may_be_left_out(files: Files) -> None:
    record = {
        "id": "L1",
        "evses": [
            {
                "uid": "E1",
                "connectors": [{"id": "1", "power_type": "AC_9_PHASE", "max_voltage": 230}],
            }
        ],
    }
    path = files.write(
        "locations.ndjson", orjson.dumps(record) + b"\n" + orjson.dumps({"id": "L2"})
    )
    assert list(read_ocpi_locations(path)) == [
        Charger("E1", "L1 (E1)", output_voltage_v=230.0, number_of_connectors=1)
    ]


def test_duplicate_evse_uids_are_reported_through_the_hook(files: Files) -> None:
    seen: set[str] = set()

    def duplicate(uid: str, _line: int) -> bool:
        known = uid in seen
        seen.add(uid)
        return known

    path = files.write(
        "locations.ndjson", orjson.dumps(BASE_LOCATION) + b"\n" + orjson.dumps(BASE_LOCATION)
    )
    chargers, errors = split(read_ocpi_locations(path, duplicate_id=duplicate))
    assert [c.id for c in chargers] == ["E1"]
    assert errors == [RowError(path, 2, "evses[0].uid", "E1", DUPLICATE)]


KNOWN_EVSES = lookup(
    {"EDM01-1": "America/Edmonton", "EDM01-2": "America/Edmonton", "VAN07-A": None}
)


def test_cdrs_become_sessions() -> None:
    assert list(read_ocpi_cdrs(CDRS, charger_info=KNOWN_EVSES)) == [
        # 2.508 h in all, 0.508 h parked: 7200 s of charging
        Session(
            "CDR-0001",
            "EDM01-1",
            utc(2024, 3, 5, 17, 2, 11),
            utc(2024, 3, 5, 19, 32, 40),
            15342.0,
            7200,
        ),
        # 0.521 h is 1875.6 s; the session lasted 1875 s: within the hours' precision, so 1875
        Session(
            "CDR-0002", "EDM01-2", utc(2024, 3, 6, 8), utc(2024, 3, 6, 8, 31, 15), 38600.0, 1875
        ),
        # no offset: OCPI says UTC
        Session("CDR-0003", "VAN07-A", utc(2024, 3, 7, 10), utc(2024, 3, 7, 11), 5500.0, 2700),
    ]


BASE_CDR: dict[str, object] = {
    "id": "C1",
    "start_date_time": "2024-03-05T17:00:00Z",
    "end_date_time": "2024-03-05T18:00:00Z",
    "cdr_location": {"id": "L1", "evse_uid": "EDM01-1"},
    "total_energy": 10,
    "total_time": 1,
}


def cdr(**changes: object) -> dict[str, object]:
    record = {**BASE_CDR, **changes}
    return {key: value for key, value in record.items() if value is not ...}


@pytest.mark.parametrize(
    ("record", "field", "value", "reason"),
    [
        (cdr(id=...), "id", None, "required"),
        (cdr(cdr_location=...), "cdr_location", None, "required"),
        (cdr(cdr_location=[1]), "cdr_location", [1], "not a JSON object"),
        (cdr(cdr_location={"id": "L1"}), "cdr_location.evse_uid", None, "required"),
        (
            cdr(cdr_location={"evse_uid": "NOPE-1"}),
            "cdr_location.evse_uid",
            "NOPE-1",
            "unknown charger: import the chargers first",
        ),
        (cdr(total_energy=...), "total_energy", None, "required"),
        (cdr(total_energy=-3), "total_energy", -3, "must not be negative"),
        (
            cdr(id="c" * 129),
            "id",
            "c" * 129,
            "must be at most 128 characters long (this one has 129)",
        ),
        (
            cdr(start_date_time="yesterday"),
            "start_date_time",
            "yesterday",
            "not an ISO 8601 date and time (e.g. 2024-05-01T12:00:00)",
        ),
        (cdr(end_date_time=...), "end_date_time", None, "required"),
        (
            cdr(end_date_time="2024-03-05T16:59:59Z"),
            "end_date_time",
            "2024-03-05T16:59:59Z",
            "before start_date_time (2024-03-05T17:00:00Z)",
        ),
        (cdr(total_time=...), "total_time", None, "required"),
        (
            cdr(total_time=3),
            "total_time",
            3,
            "charging for 10800 s is longer than the session (3600 s)",
        ),
        (
            cdr(total_time=1.011),
            "total_time",
            1.011,
            "charging for 3640 s is longer than the session (3600 s)",
        ),
        (cdr(total_time=1, total_parking_time=2), "total_time", 1, "less than total_parking_time"),
        (cdr(total_parking_time="half"), "total_parking_time", "half", "not a number"),
    ],
)
def test_each_bad_cdr_value_is_a_row_error_named_by_its_ocpi_path(
    files: Files, record: dict[str, object], field: str, value: object, reason: str
) -> None:
    path = files.write(
        "cdrs.json", b"[" + orjson.dumps(BASE_CDR) + b",\n" + orjson.dumps(record) + b"]"
    )
    sessions, errors = split(read_ocpi_cdrs(path, charger_info=KNOWN_EVSES))
    assert len(sessions) == 1
    assert errors == [RowError(path, 2, field, value, reason)]


def test_charging_within_the_hours_precision_of_the_span_is_the_span(files: Files) -> None:
    path = files.write("cdrs.ndjson", orjson.dumps(cdr(total_time=1.01)))
    [session] = read_ocpi_cdrs(path)
    assert isinstance(session, Session)
    assert session.charging_duration_s == 3600


def test_duplicate_cdr_ids_are_reported_through_the_hook(files: Files) -> None:
    seen: set[str] = set()

    def duplicate(cdr_id: str, _line: int) -> bool:
        known = cdr_id in seen
        seen.add(cdr_id)
        return known

    path = files.write("cdrs.ndjson", orjson.dumps(BASE_CDR) + b"\n" + orjson.dumps(BASE_CDR))
    sessions, errors = split(read_ocpi_cdrs(path, duplicate_id=duplicate))
    assert len(sessions) == 1
    assert errors == [RowError(path, 2, "id", "C1", DUPLICATE)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"status_code": 2001, "status_message": "Invalid or missing parameters",'
            ' "timestamp": "2024-03-02T00:00:00Z"}',
            r"cdrs\.json: the OCPI response has status_code 2001: Invalid or missing parameters",
        ),
        (
            '{"status_code": 3000, "data": []}',
            r"cdrs\.json: the OCPI response has status_code 3000$",
        ),
        ('{"status_code": 1000, "data": {}}', r"cdrs\.json: no 'data' array"),
    ],
)
def test_an_ocpi_error_response_is_import_failed(files: Files, content: str, message: str) -> None:
    path = files.write("cdrs.json", content)
    with pytest.raises(ImportFailed, match=message):
        list(read_ocpi_cdrs(path))


def test_a_failed_status_after_the_data_fails_the_import_after_its_rows(files: Files) -> None:
    path = files.write(
        "cdrs.json", '{"data": [' + orjson.dumps(BASE_CDR).decode() + '], "status_code": 2000}'
    )
    reader = read_ocpi_cdrs(path)
    assert isinstance(next(reader), Session)
    with pytest.raises(ImportFailed, match="status_code 2000"):
        next(reader)


def test_ocpi_is_not_csv(files: Files) -> None:
    path = files.write("cdrs.csv", "id\nC1\n")
    with pytest.raises(ImportFailed, match=r"cdrs\.csv: OCPI data is JSON"):
        list(read_ocpi_cdrs(path))
    with pytest.raises(ImportFailed, match=r"OCPI data is JSON"):
        list(read_ocpi_locations(path))
