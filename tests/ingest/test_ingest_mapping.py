"""Mapping files: their errors, units, time formats and zones (DST edges), and the shipped ones."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from evshare.ingest import (
    Mapping,
    MappingError,
    RowError,
    load_mapping,
    read_chargers,
    read_sessions,
)
from evshare.ingest.mapping import parse_mapping
from evshare.model import Charger, Session
from tests.ingest.support import DATA, Files, lookup, split, utc

SKIPPED = "does not exist in America/Edmonton: the clocks skip it when daylight saving time begins"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "colums = {}",
            r"m\.toml: colums: unknown key \(known: columns, csv, description, times, units\)",
        ),
        ("description = 5", r"m\.toml: description: must be a non-empty string"),
        ("columns = 3", r"m\.toml: columns: must be a table"),
        (
            '[columns]\nenerggy = "E"',
            r"m\.toml: columns\.energgy: unknown key \(known: chargerId, .*\)",
        ),
        ("[columns]\nenergy = 5", r"m\.toml: columns\.energy: must be a non-empty string"),
        ('[columns]\nenergy = ""', r"m\.toml: columns\.energy: must be a non-empty string"),
        ('[units]\nenergy = "MWh"', r"m\.toml: units\.energy: 'MWh' is not one of Wh, kWh"),
        (
            '[units]\nmaxOutputPower = "hp"',
            r"m\.toml: units\.maxOutputPower: 'hp' is not one of W, kW",
        ),
        (
            '[units]\nchargingDuration = "days"',
            r"m\.toml: units\.chargingDuration: 'days' is not one of s, seconds",
        ),
        ('[units]\noutputVoltage = "kV"', r"m\.toml: units\.outputVoltage: unknown key"),
        (
            '[times]\nformat = "iso"',
            r"m\.toml: times\.format: 'iso': not one of rfc3339, iso8601, epoch"
            r" and not a strptime pattern",
        ),
        (
            '[times]\nformat = "%H:%M"',
            r"m\.toml: times\.format: '%H:%M': does not give the whole date and time",
        ),
        (
            '[times]\nformat = "%Y-%m-%d"',
            r"m\.toml: times\.format: '%Y-%m-%d': does not give the whole date and time",
        ),
        (
            '[times]\nformat = "%Q %Y"',
            r"m\.toml: times\.format: '%Q %Y': not a usable strptime pattern",
        ),
        (
            '[times]\ndate_format = "%m/%Y"',
            r"m\.toml: times\.date_format: '%m/%Y': does not give the whole date \(",
        ),
        (
            '[times]\ntime_zone = "Mars/Base"',
            r"m\.toml: times\.time_zone: 'Mars/Base': not a known IANA time zone",
        ),
        ('[times]\nzone = "UTC"', r"m\.toml: times\.zone: unknown key"),
        ('[csv]\ndelimiter = ";;"', r"m\.toml: csv\.delimiter: ';;': must be one character"),
        (
            '[csv]\nencoding = "klingon"',
            r"m\.toml: csv\.encoding: 'klingon': not a text encoding Python knows",
        ),
        (
            '[csv]\nencoding = "rot13"',
            r"m\.toml: csv\.encoding: 'rot13': not a text encoding Python knows",
        ),
        ("[columns\n", r"m\.toml: not valid TOML: .*line 1"),
    ],
)
def test_a_bad_mapping_file_names_the_key(files: Files, toml: str, message: str) -> None:
    path = files.write("m.toml", toml)
    with pytest.raises(MappingError, match=message):
        load_mapping(path)


def test_a_missing_mapping_file_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"absent\.toml: no such mapping file") as raised:
        load_mapping(tmp_path / "absent.toml")
    assert "shipped: chargepoint-sessions, spreadsheet-chargers" in str(raised.value)


def test_an_empty_mapping_keeps_the_contracts_names_and_units_and_reads_iso_8601(
    files: Files,
) -> None:
    assert load_mapping(files.write("m.toml", "")) == Mapping()


def test_units_are_matched_whatever_their_case(files: Files) -> None:
    mapping = load_mapping(
        files.write("m.toml", '[units]\nenergy = "KWH"\nchargingDuration = "hh:mm:ss"')
    )
    assert (mapping.energy_factor, mapping.duration_unit) == (1000.0, "HH:MM:SS")


def test_a_utf8_encoding_also_skips_a_byte_order_mark() -> None:
    assert parse_mapping({"csv": {"encoding": "UTF8"}}, "m.toml").encoding == "utf-8-sig"


SESSION_HEADER = "id,chargerId,energy,startTime,endTime,chargingDuration\n"


def one_session(
    files: Files, toml: str, row: str, zones: dict[str, str | None] | None = None
) -> Session | RowError:
    mapping = parse_mapping(__import__("tomllib").loads(toml), "m.toml")
    path = files.write("sessions.csv", SESSION_HEADER + row + "\n")
    [result] = read_sessions(
        path, mapping=mapping, charger_info=None if zones is None else lookup(zones)
    )
    if isinstance(result, RowError):
        return RowError("sessions.csv", result.line, result.field, result.value, result.reason)
    return result


UTC_TIMES = '[times]\ntime_zone = "UTC"\n'


@pytest.mark.parametrize(
    ("units", "energy", "duration", "expected_wh", "expected_s"),
    [
        ('energy = "kWh"', "12.345", "", 12345.0, None),
        ('energy = "kWh"', "0.1", "", 100.0, None),
        ('energy = "Wh"', "12.345", "", 12.345, None),
        ('chargingDuration = "min"', "1", "12.5", 1.0, 750),
        ('chargingDuration = "minutes"', "1", "0.01", 1.0, 1),
        ('chargingDuration = "h"', "1", "0.1", 1.0, 360),
        ('chargingDuration = "hours"', "1", "1.0000001", 1.0, 3600),
        ('chargingDuration = "HH:MM:SS"', "1", "1:02:03", 1.0, 3723),
        ('chargingDuration = "HH:MM:SS"', "1", "26:00:00", 1.0, 93600),
        ('chargingDuration = "HH:MM:SS"', "1", "0:00:00.5", 1.0, 1),
        ('chargingDuration = "HH:MM:SS"', "1", " 00:10:09.49 ", 1.0, 609),
    ],
)
def test_units_convert_to_watt_hours_and_whole_seconds(
    files: Files, units: str, energy: str, duration: str, expected_wh: float, expected_s: int | None
) -> None:
    toml = f"[units]\n{units}\n{UTC_TIMES}"
    row = f"s1,c1,{energy},2024-05-01T00:00:00,2024-05-03T00:00:00,{duration}"
    assert one_session(files, toml, row) == Session(
        "s1", "c1", utc(2024, 5, 1), utc(2024, 5, 3), expected_wh, expected_s
    )


@pytest.mark.parametrize(
    "value", ["1:2:03", "1:02", "1:60:00", "1:00:60", "-1:00:00", "1h", "1:00:00.", "\u0661:00:00"]
)
def test_a_bad_h_mm_ss_duration_is_a_row_error(files: Files, value: str) -> None:
    toml = f'[units]\nchargingDuration = "HH:MM:SS"\n{UTC_TIMES}'
    row = f"s1,c1,1,2024-05-01T00:00:00,2024-05-03T00:00:00,{value}"
    assert one_session(files, toml, row) == RowError(
        "sessions.csv", 2, "chargingDuration", value, "not a duration as H:MM:SS"
    )


def test_power_in_kilowatts(files: Files) -> None:
    mapping = parse_mapping({"units": {"maxOutputPower": "kW"}}, "m.toml")
    path = files.write("chargers.csv", "id,name,maxOutputPower\nc1,Lobby,7.2\n")
    assert list(read_chargers(path, mapping=mapping)) == [
        Charger("c1", "Lobby", max_output_power_w=7200.0)
    ]


EDMONTON = '[times]\nformat = "%Y-%m-%d %H:%M"\ntime_zone = "America/Edmonton"\n'


@pytest.mark.parametrize(
    ("start", "end", "expected_start", "expected_end"),
    [
        # an ordinary winter and summer time
        ("2024-01-15 08:00", "2024-01-15 09:00", utc(2024, 1, 15, 15), utc(2024, 1, 15, 16)),
        ("2024-07-15 08:00", "2024-07-15 09:00", utc(2024, 7, 15, 14), utc(2024, 7, 15, 15)),
        # spring forward: 02:00 becomes 03:00, a session across it lasts an hour less
        ("2024-03-10 01:30", "2024-03-10 03:30", utc(2024, 3, 10, 8, 30), utc(2024, 3, 10, 9, 30)),
        # fall back: 01:00-02:00 happens twice; the earlier is taken...
        ("2024-11-03 01:10", "2024-11-03 01:50", utc(2024, 11, 3, 7, 10), utc(2024, 11, 3, 7, 50)),
        ("2024-11-03 00:50", "2024-11-03 01:20", utc(2024, 11, 3, 6, 50), utc(2024, 11, 3, 7, 20)),
        # ...unless that puts the end before the start: then the end is the later one
        ("2024-11-03 01:50", "2024-11-03 01:10", utc(2024, 11, 3, 7, 50), utc(2024, 11, 3, 8, 10)),
        ("2024-11-03 01:30", "2024-11-03 01:30", utc(2024, 11, 3, 7, 30), utc(2024, 11, 3, 7, 30)),
        # after the repeated hour, all is plain again
        ("2024-11-03 01:30", "2024-11-03 02:30", utc(2024, 11, 3, 7, 30), utc(2024, 11, 3, 9, 30)),
    ],
)
def test_local_times_across_daylight_saving_changes(
    files: Files, start: str, end: str, expected_start: datetime, expected_end: datetime
) -> None:
    assert one_session(files, EDMONTON, f"s1,c1,1,{start},{end},") == Session(
        "s1", "c1", expected_start, expected_end, 1.0
    )


@pytest.mark.parametrize(
    ("start", "end", "field", "value"),
    [
        ("2024-03-10 02:30", "2024-03-10 04:00", "startTime", "2024-03-10 02:30"),
        ("2024-03-10 01:00", "2024-03-10 02:00", "endTime", "2024-03-10 02:00"),
    ],
)
def test_a_local_time_the_clocks_skip_is_a_row_error(
    files: Files, start: str, end: str, field: str, value: str
) -> None:
    assert one_session(files, EDMONTON, f"s1,c1,1,{start},{end},") == RowError(
        "sessions.csv", 2, field, value, SKIPPED
    )


def test_an_end_before_the_start_even_in_the_repeated_hour_is_a_row_error(files: Files) -> None:
    row = "s1,c1,1,2024-11-03 01:50,2024-11-03 00:30,"
    assert one_session(files, EDMONTON, row) == RowError(
        "sessions.csv", 2, "endTime", "2024-11-03 00:30", "before startTime (2024-11-03T07:50:00Z)"
    )


def test_charging_across_the_repeated_hour_is_checked_against_real_time(files: Files) -> None:
    row = "s1,c1,1,2024-11-03 01:50,2024-11-03 01:10,1200"
    assert one_session(files, EDMONTON, row) == Session(
        "s1", "c1", utc(2024, 11, 3, 7, 50), utc(2024, 11, 3, 8, 10), 1.0, 1200
    )
    assert one_session(files, EDMONTON, row.replace("1200", "1201")) == RowError(
        "sessions.csv", 2, "chargingDuration", "1201", "longer than the session (1200 s)"
    )


ISO = '[times]\nformat = "iso8601"\n'


@pytest.mark.parametrize(
    ("zones", "expected"),
    [
        ({"c1": "America/Vancouver"}, Session("s1", "c1", utc(2024, 5, 1, 12), None, 1.0)),
        ({"c1": "America/Toronto"}, Session("s1", "c1", utc(2024, 5, 1, 9), None, 1.0)),
        (
            {"c1": None},
            RowError(
                "sessions.csv",
                2,
                "startTime",
                "2024-05-01T05:00:00",
                "a local time, and charger 'c1' has no timeZone:"
                " set times.time_zone in the mapping",
            ),
        ),
        (
            {"c1": "Bad/Zone"},
            RowError(
                "sessions.csv",
                2,
                "startTime",
                "2024-05-01T05:00:00",
                "a local time, and charger 'c1' has an unknown timeZone",
            ),
        ),
        (
            {},
            RowError(
                "sessions.csv", 2, "chargerId", "c1", "unknown charger: import the chargers first"
            ),
        ),
        (
            None,
            RowError(
                "sessions.csv",
                2,
                "startTime",
                "2024-05-01T05:00:00",
                "a local time, and no time zone: set times.time_zone in the mapping",
            ),
        ),
    ],
)
def test_naive_times_are_read_in_the_chargers_zone(
    files: Files, zones: dict[str, str | None] | None, expected: object
) -> None:
    assert one_session(files, ISO, "s1,c1,1,2024-05-01T05:00:00,,", zones) == expected


def test_a_fixed_zone_in_the_mapping_wins_over_the_chargers(files: Files) -> None:
    toml = ISO + 'time_zone = "Europe/Paris"\n'
    row = "s1,c1,1,2024-05-01T05:00:00,,"
    assert one_session(files, toml, row, {"c1": "America/Vancouver"}) == Session(
        "s1", "c1", utc(2024, 5, 1, 3), None, 1.0
    )


def test_timestamps_with_an_offset_need_no_zone(files: Files) -> None:
    row = "s1,c1,1,2024-05-01T05:00:00-07:00,2024-05-01 14:00:00.75+02:00,"
    assert one_session(files, ISO, row) == Session(
        "s1", "c1", utc(2024, 5, 1, 12), utc(2024, 5, 1, 12), 1.0
    )


@pytest.mark.parametrize(
    ("toml", "start", "expected"),
    [
        ('[times]\nformat = "epoch"', "1714564800", utc(2024, 5, 1, 12)),
        ('[times]\nformat = "epoch"', "1714564800.9", utc(2024, 5, 1, 12)),
        (
            '[times]\nformat = "%Y-%m-%d %H:%M:%S%z"',
            "2024-05-01 06:00:00-0600",
            utc(2024, 5, 1, 12),
        ),
        (
            '[times]\nformat = "%d.%m.%Y %H:%M:%S"\ntime_zone = "UTC"',
            "01.05.2024 12:00:00",
            utc(2024, 5, 1, 12),
        ),
        ('[times]\nformat = "rfc3339"', "2024-05-01T12:00:00Z", utc(2024, 5, 1, 12)),
    ],
)
def test_time_formats(files: Files, toml: str, start: str, expected: datetime) -> None:
    assert one_session(files, toml, f"s1,c1,1,{start},,") == Session(
        "s1", "c1", expected, None, 1.0
    )


@pytest.mark.parametrize(
    ("toml", "start", "reason"),
    [
        ('[times]\nformat = "epoch"', "1e20", "out of range for a timestamp"),
        ('[times]\nformat = "epoch"', "yesterday", "not a number"),
        (
            '[times]\nformat = "%d.%m.%Y %H:%M"',
            "2024-05-01 12:00",
            "does not match '%d.%m.%Y %H:%M'",
        ),
        (
            '[times]\nformat = "iso8601"',
            "2024-05-01",
            "not an ISO 8601 date and time (e.g. 2024-05-01T12:00:00)",
        ),
        (
            '[times]\nformat = "iso8601"',
            "May 1st",
            "not an ISO 8601 date and time (e.g. 2024-05-01T12:00:00)",
        ),
        (
            '[times]\nformat = "rfc3339"',
            "2024-05-01T12:00:00",
            "not an RFC 3339 timestamp with an offset (e.g. 2024-05-01T12:00:00Z)",
        ),
    ],
)
def test_bad_times_for_the_format_are_row_errors(
    files: Files, toml: str, start: str, reason: str
) -> None:
    assert one_session(files, toml, f"s1,c1,1,{start},,") == RowError(
        "sessions.csv", 2, "startTime", start, reason
    )


def test_renamed_columns_are_read_and_named_in_errors(files: Files) -> None:
    mapping = parse_mapping(
        {"columns": {"id": "Ref", "energy": "kWh delivered"}, "units": {"energy": "kWh"}},
        "m.toml",
    )
    path = files.write(
        "s.csv",
        "Ref,chargerId,kWh delivered,startTime\n"
        "r1,c1,2.5,2024-05-01T12:00:00Z\n"
        "r2,c1,lots,2024-05-01T12:00:00Z\n",
    )
    assert list(read_sessions(path, mapping=mapping)) == [
        Session("r1", "c1", utc(2024, 5, 1, 12), None, 2500.0),
        RowError(path, 3, "kWh delivered", "lots", "not a number"),
    ]


def test_a_renamed_required_column_missing_from_the_header_is_named(files: Files) -> None:
    from evshare.errors import ImportFailed

    mapping = parse_mapping({"columns": {"id": "Ref"}}, "m.toml")
    path = files.write("s.csv", "id,chargerId,energy,startTime\n")
    with pytest.raises(ImportFailed, match=r"no column 'Ref' in the header"):
        list(read_sessions(path, mapping=mapping))


def test_csv_delimiter_and_encoding_from_the_mapping(files: Files) -> None:
    mapping = parse_mapping({"csv": {"delimiter": ";", "encoding": "cp1252"}}, "m.toml")
    path = files.write("c.csv", "id;name\nc1;Caf\u00e9 du Parc\n".encode("cp1252"))
    assert list(read_chargers(path, mapping=mapping)) == [Charger("c1", "Caf\u00e9 du Parc")]


# The mappings shipped with evshare, on samples shaped like the exports they are for.

EDMONTON_CHARGERS = {"118211": "America/Edmonton", "118212": "America/Edmonton"}


def test_shipped_chargepoint_sessions() -> None:
    path = str(DATA / "chargepoint-sessions.csv")
    mapping = load_mapping("chargepoint-sessions")
    rows = list(read_sessions(path, mapping=mapping, charger_info=lookup(EDMONTON_CHARGERS)))
    assert rows == [
        Session(
            "SES-1001", "118211", utc(2024, 3, 14, 23, 2), utc(2024, 3, 15, 1, 10), 12345.0, 6330
        ),
        Session(
            "SES-1002", "118211", utc(2024, 11, 3, 7, 40), utc(2024, 11, 3, 8, 20), 4200.0, 2340
        ),
        RowError(path, 4, "Start Date", "3/10/2024 2:30", SKIPPED),
        RowError(path, 5, "Energy (kWh)", "-1.5", "must not be negative"),
        RowError(path, 6, "EVSE ID", "990001", "unknown charger: import the chargers first"),
    ]


def test_shipped_spreadsheet_sessions() -> None:
    path = str(DATA / "spreadsheet-sessions.csv")
    mapping = load_mapping("spreadsheet-sessions")
    rows = list(read_sessions(path, mapping=mapping, charger_info=lookup(EDMONTON_CHARGERS)))
    assert rows == [
        Session("S-1", "118211", utc(2024, 7, 1, 14, 15), utc(2024, 7, 1, 16, 45), 18750.0, 8550),
        Session("S-2", "118211", utc(2024, 7, 1, 17), None, 3250.0),
        RowError(path, 4, "Charging (min)", "45", "longer than the session (1800 s)"),
    ]


def test_shipped_spreadsheet_chargers() -> None:
    path = str(DATA / "spreadsheet-chargers.csv")
    good, bad = split(read_chargers(path, mapping=load_mapping("spreadsheet-chargers")))
    assert good == [
        Charger(
            id="118211",
            name="Lobby 1",
            serial_number="CP-0001",
            model="CT4011-GW1",
            manufacturer="ChargePoint",
            max_output_power_w=7200.0,
            max_available_current_a=30.0,
            output_voltage_v=240.0,
            number_of_connectors=2,
            time_zone="America/Edmonton",
            latitude=53.546,
            longitude=-113.494,
            commissioning_date=date(2021, 4, 12),
        )
    ]
    assert bad == [RowError(path, 3, "Installed", "13/12/2021", "not a date as '%m/%d/%Y'")]


def test_a_file_path_wins_over_a_shipped_name(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    files.write("spreadsheet-chargers", '[units]\nenergy = "kWh"')
    monkeypatch.chdir(files.root)
    assert load_mapping("spreadsheet-chargers") == Mapping(energy_factor=1000.0)
