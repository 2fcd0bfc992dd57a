"""Records in the contract's own names: every kind of bad value, and what good ones become."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evshare.ingest import KnownCharger, RowError, read_chargers, read_sessions
from evshare.ingest.validate import DUPLICATE
from evshare.model import Charger, Session
from tests.ingest.support import Files, lookup, split

START = "2024-05-01T12:00:00Z"
END = "2024-05-01T13:00:00Z"
GOOD_SESSION: dict[str, object] = {
    "id": "s1",
    "chargerId": "c1",
    "energy": 1500,
    "startTime": START,
    "endTime": END,
}
GOOD_CHARGER: dict[str, object] = {"id": "c1", "name": "Lobby"}
# One character past the longest id accepted (a bound on characters, not bytes).
LONG_ID = "é" * 128 + "ü"
TOO_LONG = "must be at most 128 characters long (this one has 129)"
RFC = "not an RFC 3339 timestamp with an offset (e.g. 2024-05-01T12:00:00Z)"


def with_(base: Mapping[str, object], **changes: object) -> dict[str, object]:
    """`base` with fields changed; a change to ... removes the field."""
    result = {**base, **changes}
    return {key: value for key, value in result.items() if value is not ...}


SESSION_ERRORS = [
    (with_(GOOD_SESSION, id=...), "id", None, "required"),
    (with_(GOOD_SESSION, id="  "), "id", "  ", "required"),
    (with_(GOOD_SESSION, id=[1]), "id", [1], "must be a string"),
    (with_(GOOD_SESSION, id=1.5), "id", 1.5, "must be a string"),
    (with_(GOOD_SESSION, id=LONG_ID), "id", LONG_ID, TOO_LONG),
    (with_(GOOD_SESSION, chargerId=None), "chargerId", None, "required"),
    (
        with_(GOOD_SESSION, chargerId="c9"),
        "chargerId",
        "c9",
        "unknown charger: import the chargers first",
    ),
    (with_(GOOD_SESSION, energy=...), "energy", None, "required"),
    (with_(GOOD_SESSION, energy=-5), "energy", -5, "must not be negative"),
    (with_(GOOD_SESSION, energy="-5"), "energy", "-5", "must not be negative"),
    (with_(GOOD_SESSION, energy="12,5"), "energy", "12,5", "not a number"),
    (with_(GOOD_SESSION, energy=True), "energy", True, "not a number"),
    (with_(GOOD_SESSION, energy={"kWh": 1}), "energy", {"kWh": 1}, "not a number"),
    (with_(GOOD_SESSION, energy="NaN"), "energy", "NaN", "must be a finite number"),
    (with_(GOOD_SESSION, energy="1e999"), "energy", "1e999", "must be a finite number"),
    (with_(GOOD_SESSION, startTime=...), "startTime", None, "required"),
    (with_(GOOD_SESSION, startTime="2024-05-01T12:00:00"), "startTime", "2024-05-01T12:00:00", RFC),
    (with_(GOOD_SESSION, startTime="2024-05-01 12:00"), "startTime", "2024-05-01 12:00", RFC),
    (with_(GOOD_SESSION, startTime="2024-05-01"), "startTime", "2024-05-01", RFC),
    (
        with_(GOOD_SESSION, startTime="2024-05-01T12:00:00+0100"),
        "startTime",
        "2024-05-01T12:00:00+0100",
        RFC,
    ),
    (with_(GOOD_SESSION, startTime="20240501T120000Z"), "startTime", "20240501T120000Z", RFC),
    (
        with_(GOOD_SESSION, startTime="2024-02-30T12:00:00Z"),
        "startTime",
        "2024-02-30T12:00:00Z",
        RFC,
    ),
    (
        with_(GOOD_SESSION, startTime="2024-05-01T25:00:00Z"),
        "startTime",
        "2024-05-01T25:00:00Z",
        RFC,
    ),
    (with_(GOOD_SESSION, startTime=1714564800), "startTime", 1714564800, RFC),
    (
        with_(GOOD_SESSION, startTime="0001-01-01T00:00:00+01:00"),
        "startTime",
        "0001-01-01T00:00:00+01:00",
        "out of range for a timestamp",
    ),
    (
        with_(GOOD_SESSION, endTime="2024-05-01T11:59:59Z"),
        "endTime",
        "2024-05-01T11:59:59Z",
        "before startTime (2024-05-01T12:00:00Z)",
    ),
    (
        with_(GOOD_SESSION, endTime="2024-05-01T13:00:00+02:00"),
        "endTime",
        "2024-05-01T13:00:00+02:00",
        "before startTime (2024-05-01T12:00:00Z)",
    ),
    (with_(GOOD_SESSION, endTime="soon"), "endTime", "soon", RFC),
    (
        with_(GOOD_SESSION, chargingDuration=3601),
        "chargingDuration",
        3601,
        "longer than the session (3600 s)",
    ),
    (with_(GOOD_SESSION, chargingDuration=-1), "chargingDuration", -1, "must not be negative"),
    (with_(GOOD_SESSION, chargingDuration="1h"), "chargingDuration", "1h", "not a number"),
    (with_(GOOD_SESSION, chargingDuration=1e300), "chargingDuration", 1e300, "too large"),
]


@pytest.mark.parametrize(("record", "field", "value", "reason"), SESSION_ERRORS)
def test_each_bad_session_value_is_a_row_error_at_its_line(
    files: Files, record: dict[str, object], field: str, value: object, reason: str
) -> None:
    good = orjson.dumps(GOOD_SESSION).decode()
    content = f"{good}\n\n{orjson.dumps(record).decode()}\n{good}\n"
    path = files.write("sessions.ndjson", content)
    sessions, errors = split(read_sessions(path, charger_info=lookup({"c1": None})))
    assert len(sessions) == 2
    assert errors == [RowError(path, 3, field, value, reason)]
    assert errors[0].record == record


def test_an_integer_too_large_for_a_float_is_a_row_error(files: Files) -> None:
    huge = "1" + "0" * 400
    path = files.write(
        "sessions.json",
        f'[{{"id": "s1", "chargerId": "c1", "energy": {huge}, "startTime": "{START}"}}]',
    )
    assert list(read_sessions(path)) == [RowError(path, 1, "energy", 10**400, "too large")]


def test_a_row_error_reads_as_file_line_field_value_reason(files: Files) -> None:
    path = files.write(
        "sessions.csv", "id,chargerId,energy,startTime\ns1,c1,-5,2024-05-01T12:00:00Z\n"
    )
    [error] = read_sessions(path)
    assert isinstance(error, RowError)
    assert str(error).endswith("sessions.csv:2: energy='-5': must not be negative")


def test_a_missing_value_reads_without_a_value(files: Files) -> None:
    path = files.write(
        "sessions.csv", "id,chargerId,energy,startTime\ns1,c1,,2024-05-01T12:00:00Z\n"
    )
    [error] = read_sessions(path)
    assert str(error).endswith("sessions.csv:2: energy: required")


def test_duplicate_ids_are_reported_through_the_hook(files: Files) -> None:
    seen: set[str] = set()

    def duplicate(session_id: str, _line: int) -> bool:
        known = session_id in seen
        seen.add(session_id)
        return known

    lines = [GOOD_SESSION, with_(GOOD_SESSION, id="s2"), GOOD_SESSION]
    path = files.write("sessions.ndjson", b"\n".join(map(orjson.dumps, lines)))
    sessions, errors = split(read_sessions(path, duplicate_id=duplicate))
    assert [s.id for s in sessions] == ["s1", "s2"]
    assert errors == [RowError(path, 3, "id", "s1", DUPLICATE)]


def test_an_invalid_row_is_not_offered_to_the_duplicate_hook(files: Files) -> None:
    offered: list[str] = []
    lines = [with_(GOOD_SESSION, energy=-1), GOOD_SESSION]
    path = files.write("sessions.ndjson", b"\n".join(map(orjson.dumps, lines)))

    def duplicate(session_id: str, _line: int) -> bool:
        offered.append(session_id)
        return False

    list(read_sessions(path, duplicate_id=duplicate))
    assert offered == ["s1"]


def test_the_charger_lookup_is_asked_once_per_charger(files: Files) -> None:
    asked: list[str] = []
    find = lookup({"c1": None, "c2": None})

    def counting(charger_id: str) -> KnownCharger | None:
        asked.append(charger_id)
        return find(charger_id)

    lines = [with_(GOOD_SESSION, id=str(i), chargerId=f"c{i % 3}") for i in range(9)]
    path = files.write("sessions.ndjson", b"\n".join(map(orjson.dumps, lines)))
    sessions, errors = split(read_sessions(path, charger_info=counting))
    assert (len(sessions), len(errors)) == (6, 3)
    assert sorted(asked) == ["c0", "c1", "c2"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {}),
        ({"endTime": ...}, {"end_time": None}),
        (
            {"endTime": None, "chargingDuration": 99999},
            {"end_time": None, "charging_duration_s": 99999},
        ),
        ({"endTime": ""}, {"end_time": None}),
        ({"id": 17}, {"id": "17"}),
        ({"id": " s1 "}, {}),
        ({"energy": "1500.25"}, {"energy_wh": 1500.25}),
        ({"energy": 0}, {"energy_wh": 0.0}),
        ({"startTime": "2024-05-01T12:00:00.999999Z"}, {}),
        ({"startTime": "2024-05-01T12:00:00.5+00:00"}, {}),
        ({"startTime": "2024-05-01t12:00:00z"}, {}),
        ({"startTime": "2024-05-01 12:00:00Z"}, {}),
        ({"startTime": " 2024-05-01T12:00:00Z "}, {}),
        ({"startTime": "2024-05-01T06:00:00-06:00"}, {}),
        ({"endTime": "2024-05-01T15:00:00+02:00"}, {}),
        ({"chargingDuration": 3600}, {"charging_duration_s": 3600}),
        ({"chargingDuration": "1799.5"}, {"charging_duration_s": 1800}),
        ({"chargingDuration": 0}, {"charging_duration_s": 0}),
        ({"endTime": START}, {"end_time": datetime(2024, 5, 1, 12, tzinfo=UTC)}),
        ({"extra": {"ignored": True}}, {}),
    ],
)
def test_good_session_values(
    files: Files, changes: dict[str, object], expected: dict[str, Any]
) -> None:
    path = files.write("sessions.ndjson", orjson.dumps(with_(GOOD_SESSION, **changes)))
    session = Session(
        id="s1",
        charger_id="c1",
        start_time=datetime(2024, 5, 1, 12, tzinfo=UTC),
        end_time=datetime(2024, 5, 1, 13, tzinfo=UTC),
        energy_wh=1500.0,
    )
    assert list(read_sessions(path)) == [dataclasses.replace(session, **expected)]


CHARGER_ERRORS = [
    (with_(GOOD_CHARGER, id=...), "id", None, "required"),
    (with_(GOOD_CHARGER, id=LONG_ID), "id", LONG_ID, TOO_LONG),
    (with_(GOOD_CHARGER, name=""), "name", "", "required"),
    (with_(GOOD_CHARGER, serialNumber=12.5), "serialNumber", 12.5, "must be a string"),
    (with_(GOOD_CHARGER, maxOutputPower=-7200), "maxOutputPower", -7200, "must not be negative"),
    (
        with_(GOOD_CHARGER, maxAvailableCurrent="thirty"),
        "maxAvailableCurrent",
        "thirty",
        "not a number",
    ),
    (with_(GOOD_CHARGER, outputVoltage=-1), "outputVoltage", -1, "must not be negative"),
    (with_(GOOD_CHARGER, numberOfConnectors=0), "numberOfConnectors", 0, "must be at least 1"),
    (with_(GOOD_CHARGER, numberOfConnectors=1.5), "numberOfConnectors", 1.5, "not a whole number"),
    (with_(GOOD_CHARGER, numberOfConnectors=2**60), "numberOfConnectors", 2**60, "too large"),
    (
        with_(GOOD_CHARGER, timeZone="Mars/Olympus_Mons"),
        "timeZone",
        "Mars/Olympus_Mons",
        "not a known IANA time zone",
    ),
    (
        with_(GOOD_CHARGER, timeZone="../../etc/passwd"),
        "timeZone",
        "../../etc/passwd",
        "not a known IANA time zone",
    ),
    (with_(GOOD_CHARGER, timeZone="America"), "timeZone", "America", "not a known IANA time zone"),
    (with_(GOOD_CHARGER, latitude=90.5, longitude=0), "latitude", 90.5, "out of range (-90 to 90)"),
    (
        with_(GOOD_CHARGER, latitude=0, longitude=-180.01),
        "longitude",
        -180.01,
        "out of range (-180 to 180)",
    ),
    (with_(GOOD_CHARGER, latitude=53.5), "longitude", None, "required with latitude"),
    (with_(GOOD_CHARGER, longitude=-113.5), "latitude", None, "required with longitude"),
    (
        with_(GOOD_CHARGER, commissioningDate="2021-04-31"),
        "commissioningDate",
        "2021-04-31",
        "not a date (YYYY-MM-DD)",
    ),
    (
        with_(GOOD_CHARGER, commissioningDate="04/12/2021"),
        "commissioningDate",
        "04/12/2021",
        "not a date (YYYY-MM-DD)",
    ),
    (
        with_(GOOD_CHARGER, commissioningDate="2021-04-12T00:00:00Z"),
        "commissioningDate",
        "2021-04-12T00:00:00Z",
        "not a date (YYYY-MM-DD)",
    ),
    (with_(GOOD_CHARGER, commissioningDate=20210412), "commissioningDate", 20210412, "not a date"),
]


@pytest.mark.parametrize(("record", "field", "value", "reason"), CHARGER_ERRORS)
def test_each_bad_charger_value_is_a_row_error_at_its_line(
    files: Files, record: dict[str, object], field: str, value: object, reason: str
) -> None:
    content = b"[\n" + orjson.dumps(GOOD_CHARGER) + b",\n" + orjson.dumps(record) + b"\n]"
    path = files.write("chargers.json", content)
    chargers, errors = split(read_chargers(path))
    assert chargers == [Charger("c1", "Lobby")]
    assert errors == [RowError(path, 3, field, value, reason)]


def test_a_full_charger_row_from_csv(files: Files) -> None:
    path = files.write(
        "chargers.csv",
        "id,name,serialNumber,model,manufacturer,maxOutputPower,maxAvailableCurrent,outputVoltage,"
        "numberOfConnectors,timeZone,latitude,longitude,commissioningDate\n"
        "c1,Lobby,SN-1,CT4011-GW1,ChargePoint,7200,30,240,2,America/Edmonton,53.5461,-113.4938,"
        "2021-04-12\n"
        "c2,Yard,,,,,,,,,,,\n",
    )
    assert list(read_chargers(path)) == [
        Charger(
            id="c1",
            name="Lobby",
            serial_number="SN-1",
            model="CT4011-GW1",
            manufacturer="ChargePoint",
            max_output_power_w=7200.0,
            max_available_current_a=30.0,
            output_voltage_v=240.0,
            number_of_connectors=2,
            time_zone="America/Edmonton",
            latitude=53.5461,
            longitude=-113.4938,
            commissioning_date=date(2021, 4, 12),
        ),
        Charger(id="c2", name="Yard"),
    ]


def test_the_contract_charger_page_is_accepted(files: Files) -> None:
    path = files.write("chargers.json", '{"chargers": [{"id": "c1", "name": "Lobby"}], "total": 1}')
    assert list(read_chargers(path)) == [Charger("c1", "Lobby")]


def test_a_csv_without_a_required_column_is_import_failed(files: Files) -> None:
    from evshare.errors import ImportFailed

    path = files.write("sessions.csv", "id,chargerId,startTime\ns1,c1,2024-05-01T12:00:00Z\n")
    with pytest.raises(ImportFailed, match=r"sessions\.csv:1: no column 'energy'"):
        list(read_sessions(path))


# Round trips: what evshare would export in the contract's shape reads back equal.

moments = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001 -- hypothesis bounds are naive by design
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda moment: moment.replace(microsecond=0))
# Any id a real export holds: no surrounding space (values are stripped) and no NUL (refused).
ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12
).filter(lambda text: text.strip() == text and text != "")


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    start = draw(moments)
    span = draw(st.none() | st.integers(0, 3 * 86400))
    end = None if span is None else start + timedelta(seconds=span)
    duration = draw(st.none() | st.integers(0, span if span is not None else 10**6))
    return Session(
        id=draw(ids),
        charger_id=draw(ids),
        start_time=start,
        end_time=end,
        energy_wh=draw(st.floats(0, 1e9, allow_nan=False, allow_infinity=False)),
        charging_duration_s=duration,
    )


def wire(session: Session) -> dict[str, object]:
    """A session as the contract puts it on the wire, optional fields left out."""
    record: dict[str, object] = {
        "id": session.id,
        "chargerId": session.charger_id,
        "energy": session.energy_wh,
        "startTime": session.start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if session.end_time is not None:
        record["endTime"] = session.end_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    if session.charging_duration_s is not None:
        record["chargingDuration"] = session.charging_duration_s
    return record


@given(batch=st.lists(sessions(), max_size=5))
def test_any_sessions_written_as_ndjson_read_back_equal(
    tmp_path_factory: pytest.TempPathFactory, batch: list[Session]
) -> None:
    path = tmp_path_factory.mktemp("rt") / "sessions.ndjson"
    path.write_bytes(b"".join(orjson.dumps(wire(s)) + b"\n" for s in batch))
    assert list(read_sessions(str(path))) == batch


@given(batch=st.lists(sessions(), max_size=5))
def test_any_sessions_written_as_csv_or_json_read_back_equal(
    tmp_path_factory: pytest.TempPathFactory, batch: list[Session]
) -> None:
    folder = tmp_path_factory.mktemp("rt")
    (folder / "sessions.json").write_bytes(orjson.dumps([wire(s) for s in batch]))
    text = io.StringIO()
    columns = ["id", "chargerId", "energy", "startTime", "endTime", "chargingDuration"]
    writer = csv.DictWriter(text, columns)
    writer.writeheader()
    writer.writerows(wire(s) for s in batch)
    (folder / "sessions.csv").write_text(text.getvalue())
    assert list(read_sessions(str(folder / "sessions.json"))) == batch
    assert list(read_sessions(str(folder / "sessions.csv"))) == batch
