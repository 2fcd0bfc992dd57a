"""Whatever a file holds, reading it yields rows and RowErrors or raises ImportFailed: never a
traceback from some other exception. And what comes out keeps the domain's promises: a value
the builder accepts lies within its field's bounds and survives the store's rows unchanged; a
RowError names a field of the record as the file names it, with the value it found there."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from evshare.errors import ImportFailed
from evshare.ingest import RowError
from evshare.ingest.fields import zone
from evshare.ingest.formats import Record, read_csv, read_ndjson
from evshare.ingest.jsonarray import read_array
from evshare.ingest.mapping import (
    CHARGER_FIELDS,
    CONTRACT,
    SESSION_FIELDS,
    Mapping,
    parse_mapping,
)
from evshare.ingest.ocpi import cdr_builder, location_builder
from evshare.ingest.validate import charger_builder, session_builder
from evshare.model import Charger, Session, to_contract
from evshare.store.rows import charger_from_row, charger_row, session_from_row, session_row
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
    built = build(1, record)
    if isinstance(built, RowError):
        assert_names_a_field(built, record, mapping, SESSION_FIELDS)
        return
    assert isinstance(built, Session)
    assert built.id
    assert built.charger_id
    for moment in (built.start_time, built.end_time):
        if moment is not None:
            assert moment.utcoffset() is not None
            assert moment.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
            assert moment.microsecond == 0
    assert built.energy_wh >= 0
    if built.end_time is not None:
        assert built.end_time >= built.start_time
        span = (built.end_time - built.start_time).total_seconds()
        assert built.charging_duration_s is None or 0 <= built.charging_duration_s <= span
    assert session_from_row(session_row(built)) == built
    assert to_contract(built)["id"] == built.id


@settings(max_examples=300)
@given(record=st.dictionaries(st.sampled_from(CHARGER_FIELDS), json_values), mapping=mappings)
def test_any_charger_record_is_a_charger_or_a_row_error(
    record: dict[str, object], mapping: Mapping
) -> None:
    built = charger_builder("f", mapping, None)(1, record)
    if isinstance(built, RowError):
        assert_names_a_field(built, record, mapping, CHARGER_FIELDS)
        return
    assert isinstance(built, Charger)
    assert built.id
    assert built.name
    assert (built.latitude is None) == (built.longitude is None)
    if built.latitude is not None and built.longitude is not None:
        assert -90 <= built.latitude <= 90
        assert -180 <= built.longitude <= 180
    for quantity in (
        built.max_output_power_w,
        built.max_available_current_a,
        built.output_voltage_v,
    ):
        assert quantity is None or quantity >= 0
    assert built.number_of_connectors is None or built.number_of_connectors >= 1
    assert built.time_zone is None or zone(built.time_zone) is not None
    assert charger_from_row(charger_row(built)) == built
    assert set(to_contract(built)) <= set(CHARGER_FIELDS)


def assert_names_a_field(
    error: RowError, record: dict[str, object], mapping: Mapping, names: tuple[str, ...]
) -> None:
    """A row error points at a column the mapping reads, and shows what the record holds there."""
    assert error.field in {mapping.column(name) for name in names}
    given = record.get(error.field)
    assert error.value is given or error.value == given  # `is`: NaN, which equals nothing
    assert error.reason


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
