"""Whatever a file holds, reading it yields rows and RowErrors or raises ImportFailed: never a
traceback from some other exception."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from evshare.errors import ImportFailed
from evshare.ingest import RowError
from evshare.ingest.formats import Record, read_csv, read_ndjson
from evshare.ingest.jsonarray import read_array
from evshare.ingest.mapping import CONTRACT, SESSION_FIELDS, Mapping, parse_mapping
from evshare.ingest.ocpi import cdr_builder, location_builder
from evshare.ingest.validate import charger_builder, session_builder
from evshare.model import Charger, Session
from tests.ingest.support import lookup

# Values near the edge of what each field takes, and plain junk.
edgy_text = st.sampled_from(
    [
        "",
        " ",
        "2024-05-01T12:00:00Z",
        "2024-11-03T01:30:00",
        "2024-03-10 02:30",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "1:02:03",
        "99999999999:00:00",
        "1e308",
        "-0",
        "NaN",
        "inf",
        "12,5",
        "America/Edmonton",
        "../etc",
        "\x00",
        "\udcff",
        "05/01/2024 12:00",
    ]
)
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | edgy_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
CHARGER_NAMES = [
    "id", "name", "serialNumber", "model", "manufacturer", "maxOutputPower", "maxAvailableCurrent",
    "outputVoltage", "numberOfConnectors", "timeZone", "latitude", "longitude", "commissioningDate",
]  # fmt: skip
mappings = st.sampled_from(
    [
        CONTRACT,
        Mapping(),
        parse_mapping({"units": {"energy": "kWh", "chargingDuration": "HH:MM:SS"}}, "m"),
        parse_mapping({"units": {"chargingDuration": "h"}, "times": {"format": "epoch"}}, "m"),
        parse_mapping(
            {"times": {"format": "%m/%d/%Y %H:%M", "time_zone": "America/Edmonton"}}, "m"
        ),
        parse_mapping(
            {"times": {"date_format": "%d.%m.%Y"}, "units": {"maxOutputPower": "kW"}}, "m"
        ),
    ]
)
zones = st.dictionaries(
    st.sampled_from(["c1", "2024-05-01T12:00:00Z", ""]),
    st.none() | st.sampled_from(["America/Edmonton", "UTC", "Bad/Zone", ""]),
)


@settings(max_examples=300)
@given(
    record=st.dictionaries(st.sampled_from(SESSION_FIELDS), json_values),
    mapping=mappings,
    known=st.none() | zones,
)
def test_any_session_record_is_a_session_or_a_row_error(
    record: dict[str, object], mapping: Mapping, known: dict[str, str | None] | None
) -> None:
    build = session_builder("f", mapping, None if known is None else lookup(known), None)
    assert isinstance(build(1, record), Session | RowError)


@settings(max_examples=300)
@given(record=st.dictionaries(st.sampled_from(CHARGER_NAMES), json_values), mapping=mappings)
def test_any_charger_record_is_a_charger_or_a_row_error(
    record: dict[str, object], mapping: Mapping
) -> None:
    assert isinstance(charger_builder("f", mapping, None)(1, record), Charger | RowError)


ocpi_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(
            ["uid", "evse_id", "connectors", "max_voltage", "max_amperage", "max_electric_power",
             "power_type", "latitude", "longitude", "evse_uid"]
        ),
        inner,
        max_size=4,
    ),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300)
@given(
    record=st.dictionaries(
        st.sampled_from(
            ["id", "name", "coordinates", "time_zone", "evses", "cdr_location", "total_energy",
             "start_date_time", "end_date_time", "total_time", "total_parking_time"]
        ),
        ocpi_values,
    )
)  # fmt: skip
def test_any_ocpi_record_is_rows_or_row_errors(record: dict[str, object]) -> None:
    for row in location_builder("f", None)(1, record):
        assert isinstance(row, Charger | RowError)
    assert isinstance(cdr_builder("f", lookup({"c1": None}), None)(1, record), Session | RowError)


@settings(max_examples=300)
@given(content=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_read_as_rows_or_import_failed(content: bytes) -> None:
    readers: list[Callable[[], Iterator[Record | RowError]]] = [
        lambda: read_ndjson(io.BytesIO(content), "f", max_record=64),
        lambda: read_csv(io.BytesIO(content), "f", required=("id",)),
        lambda: read_array(io.BytesIO(content), "f", chunk_size=7, max_record=64),
        lambda: read_array(io.BytesIO(content), "f", envelope="data", chunk_size=3),
    ]
    for read in readers:
        try:
            for item in read():
                assert isinstance(item, RowError | tuple)
        except ImportFailed:
            pass
