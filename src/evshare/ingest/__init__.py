"""Reading chargers and sessions from the files operators already have.

    for row in read_sessions("sessions.csv.gz", mapping=load_mapping("chargepoint-sessions"),
                             charger_info=lookup):
        if isinstance(row, RowError): reject(row)   # str(row): "sessions.csv.gz:17: energy=..."
        else: batch.append(row)                     # a model.Session

Formats: CSV, JSON (an array), NDJSON; by extension (.csv, .json, .ndjson, .jsonl, each optionally
+ .gz) unless `format` says; gzip is recognised by its magic bytes. OCPI 2.2.1 Locations and CDRs
have their own readers. docs/importing.md describes mapping files and the OCPI mapping.
"""

from evshare.ingest.formats import FORMATS, Format
from evshare.ingest.mapping import CONTRACT, Mapping, MappingError, load_mapping
from evshare.ingest.readers import (
    Rows,
    read_chargers,
    read_ocpi_cdrs,
    read_ocpi_locations,
    read_sessions,
)
from evshare.ingest.rows import RowError
from evshare.ingest.sources import Progress, Source
from evshare.ingest.validate import ChargerInfo, DuplicateHook, KnownCharger

__all__ = [
    "CONTRACT",
    "FORMATS",
    "ChargerInfo",
    "DuplicateHook",
    "Format",
    "KnownCharger",
    "Mapping",
    "MappingError",
    "Progress",
    "RowError",
    "Rows",
    "Source",
    "load_mapping",
    "read_chargers",
    "read_ocpi_cdrs",
    "read_ocpi_locations",
    "read_sessions",
]
