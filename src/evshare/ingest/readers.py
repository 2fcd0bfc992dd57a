"""The importers' reading half: a file in, a stream of chargers or sessions and RowErrors out.

Each reader is a generator: the file is opened when iteration starts and closed when it ends or
the generator is closed. It yields, in file order, a model object for each record it accepts and
a RowError for each it rejects, and never holds more than one record. ImportFailed (raised when
iteration starts, or part-way for a file whose structure breaks) means the file cannot be read
as a whole; the caller should then discard what it took from it.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterator, Sequence
from typing import TypeVar

from evshare.errors import ImportFailed
from evshare.ingest import ocpi
from evshare.ingest.formats import Record, choose_format, read_csv, read_ndjson
from evshare.ingest.jsonarray import MemberHook, read_array
from evshare.ingest.mapping import CHARGER_FIELDS, CONTRACT, SESSION_FIELDS, Mapping
from evshare.ingest.rows import RowError
from evshare.ingest.sources import Opened, Progress, Source, open_source
from evshare.ingest.validate import (
    CHARGER_REQUIRED,
    SESSION_REQUIRED,
    ChargerInfo,
    DuplicateHook,
    charger_builder,
    session_builder,
)
from evshare.model import Charger, Session

_T = TypeVar("_T")
Rows = Generator[_T | RowError, None, None]
"""What a reader yields; close() it to stop early and close the file."""

_CHARGER_PAGE = "chargers"  # GET /chargers answers {"chargers": [...], "total": N}


def read_chargers(
    source: Source,
    *,
    format: str | None = None,
    mapping: Mapping | None = None,
    duplicate_id: DuplicateHook | None = None,
    progress: Progress | None = None,
) -> Rows[Charger]:
    """Chargers from a CSV, JSON or NDJSON file in the contract's field names and units, or in
    those `mapping` describes. A JSON file may also be the contract's `{"chargers": [...]}`."""
    chosen = CONTRACT if mapping is None else mapping
    with open_source(source, progress) as opened:
        build = charger_builder(opened.name, chosen, duplicate_id)
        required = [chosen.column(name) for name in CHARGER_REQUIRED]
        records = _records(opened, format, chosen, required, _CHARGER_PAGE, None)
        known = [chosen.column(name) for name in CHARGER_FIELDS]
        for item in _shaped(records, opened.name, known, "chargers"):
            yield item if isinstance(item, RowError) else build(item[0], item[1])


def read_sessions(
    source: Source,
    *,
    format: str | None = None,
    mapping: Mapping | None = None,
    charger_info: ChargerInfo | None = None,
    duplicate_id: DuplicateHook | None = None,
    progress: Progress | None = None,
) -> Rows[Session]:
    """Sessions from a CSV, JSON or NDJSON file in the contract's field names and units, or in
    those `mapping` describes. With `charger_info`, a session of an unknown charger is a RowError
    and local (naive) times are read in their charger's timeZone, unless the mapping fixes one."""
    chosen = CONTRACT if mapping is None else mapping
    with open_source(source, progress) as opened:
        build = session_builder(opened.name, chosen, charger_info, duplicate_id)
        required = [chosen.column(name) for name in SESSION_REQUIRED]
        records = _records(opened, format, chosen, required, None, None)
        known = [chosen.column(name) for name in SESSION_FIELDS]
        for item in _shaped(records, opened.name, known, "sessions"):
            yield item if isinstance(item, RowError) else build(item[0], item[1])


def read_ocpi_locations(
    source: Source,
    *,
    format: str | None = None,
    duplicate_id: DuplicateHook | None = None,
    progress: Progress | None = None,
) -> Rows[Charger]:
    """A charger for each EVSE of each OCPI 2.2.1 Location in a JSON array, an NDJSON file or an
    OCPI response (`{"data": [...], "status_code": 1000, ...}`)."""
    with open_source(source, progress) as opened:
        build = ocpi.location_builder(opened.name, duplicate_id)
        records = _ocpi_records(opened, format)
        for item in _shaped(records, opened.name, ocpi.LOCATION_KEYS, "OCPI Locations"):
            if isinstance(item, RowError):
                yield item
            else:
                yield from build(item[0], item[1])


def read_ocpi_cdrs(
    source: Source,
    *,
    format: str | None = None,
    charger_info: ChargerInfo | None = None,
    duplicate_id: DuplicateHook | None = None,
    progress: Progress | None = None,
) -> Rows[Session]:
    """A session for each OCPI 2.2.1 CDR in a JSON array, an NDJSON file or an OCPI response.
    With `charger_info`, a CDR at an unknown EVSE is a RowError."""
    with open_source(source, progress) as opened:
        build = ocpi.cdr_builder(opened.name, charger_info, duplicate_id)
        records = _ocpi_records(opened, format)
        for item in _shaped(records, opened.name, ocpi.CDR_KEYS, "OCPI CDRs"):
            yield item if isinstance(item, RowError) else build(item[0], item[1])


def _shaped(
    records: Iterator[Record | RowError], source: str, known: Sequence[str], what: str
) -> Iterator[Record | RowError]:
    """`records`, then ImportFailed if there were some and not one had any field of `what`: the
    wrong file (or the wrong command) rather than a file of bad rows, which would otherwise load
    nothing and say nothing."""
    read = 0
    shaped = False
    for item in records:
        if not isinstance(item, RowError):
            read += 1
            shaped = shaped or not known or any(key in item[1] for key in known)
        yield item
    if read and not shaped:
        fields = ", ".join(repr(k) for k in known[:4])
        counted = f"{read:,} record{'s' if read != 1 else ''} read"
        raise ImportFailed(
            f"{source}: no record has a field of {what} ({fields}, ...; {counted}): is it the "
            "right file for this command? (See `evshare import -h`; another export's column "
            "names need --mapping.)"
        )


def _records(
    opened: Opened,
    requested: str | None,
    mapping: Mapping,
    required: Collection[str],
    envelope: str | None,
    on_member: MemberHook | None,
) -> Iterator[Record | RowError]:
    chosen = choose_format(opened.name, requested, opened.stream)
    if chosen == "csv":
        return read_csv(
            opened.stream,
            opened.name,
            required=required,
            delimiter=mapping.delimiter,
            encoding=mapping.encoding,
        )
    if chosen == "ndjson":
        return read_ndjson(opened.stream, opened.name)
    return read_array(opened.stream, opened.name, envelope=envelope, on_member=on_member)


def _ocpi_records(opened: Opened, requested: str | None) -> Iterator[Record | RowError]:
    if choose_format(opened.name, requested, opened.stream) == "csv":
        raise ImportFailed(f"{opened.name}: OCPI data is JSON (an array or a response) or NDJSON")
    status = ocpi.Status(opened.name)
    try:
        yield from _records(opened, requested, CONTRACT, (), ocpi.ENVELOPE, status.member)
    except ImportFailed:
        status.check()  # a failed response explains a missing or broken array best
        raise
    status.check()
