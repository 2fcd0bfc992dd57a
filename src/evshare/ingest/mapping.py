"""Mapping files: how another export's columns, units and times map onto the contract's fields.

A mapping is TOML (docs/importing.md describes it); every key is optional and anything left out
keeps the contract's own choice: its field names, watt-hours, seconds, watts.
"""

from __future__ import annotations

import codecs
import io
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any, TypeVar

from evshare import model
from evshare.errors import ImportFailed
from evshare.ingest import fields

# The contract's names, from the field table: what a mapping's [columns] may rename, and the
# columns of `evshare export`.
CHARGER_FIELDS = tuple(f.contract for f in model.CHARGER_FIELDS)
SESSION_FIELDS = model.SESSION_WIRE_ORDER
UNITS = ("energy", "maxOutputPower", "chargingDuration")
"""The fields whose unit a mapping's [units] may set."""

ENERGY_UNITS = {"Wh": 1.0, "kWh": 1000.0}  # to watt-hours
POWER_UNITS = {"W": 1.0, "kW": 1000.0}  # to watts
DURATION_UNITS = {
    "s": "s",
    "seconds": "s",
    "min": "min",
    "minutes": "min",
    "h": "h",
    "hours": "h",
    fields.HMS: fields.HMS,
}

_T = TypeVar("_T")


class MappingError(ImportFailed):
    """A mapping file cannot be read or says something that cannot be honoured."""

    code = "mapping"


@dataclass(frozen=True, slots=True)
class Mapping:
    """How to read one kind of export. The defaults read the contract's own format."""

    columns: dict[str, str] = field(default_factory=dict, hash=False)  # contract name → column
    energy_factor: float = 1.0  # to watt-hours
    power_factor: float = 1.0  # to watts
    duration_unit: str = "s"  # "s", "min", "h" or fields.HMS
    time_format: str = fields.ISO8601  # fields.RFC3339, ISO8601, EPOCH or a strptime pattern
    date_format: str | None = None  # a strptime pattern; None: YYYY-MM-DD
    time_zone: str | None = None  # of naive timestamps; None: the charger's timeZone
    delimiter: str = ","
    encoding: str = "utf-8-sig"

    def column(self, name: str) -> str:
        """The column (or JSON member) holding the contract field `name`."""
        return self.columns.get(name, name)

    def factor(self, name: str) -> float:
        """What a number in the contract field `name` is multiplied by to reach its unit."""
        return {"energy": self.energy_factor, "maxOutputPower": self.power_factor}.get(name, 1.0)


CONTRACT = Mapping(time_format=fields.RFC3339)
"""The contract's own names and units, and its timestamps: RFC 3339 with an offset."""


def load_mapping(path: str | os.PathLike[str]) -> Mapping:
    """Read a mapping file, or a shipped one by name (e.g. "chargepoint-sessions").

    MappingError, naming the file and the TOML key, for anything it cannot honour.
    """
    name = os.fspath(path)
    shipped = resources.files("evshare.ingest") / "mappings" / f"{name}.toml"
    try:
        if not os.path.exists(name) and os.sep not in name and shipped.is_file():
            content = shipped.read_text("utf-8")
        else:
            with open(name, encoding="utf-8") as file:
                content = file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError(f"{name}: cannot read the mapping: {error}") from error
    try:
        document = tomllib.loads(content)
    except tomllib.TOMLDecodeError as error:
        raise MappingError(f"{name}: not valid TOML: {error}") from error
    return parse_mapping(document, name)


def parse_mapping(document: dict[str, Any], name: str) -> Mapping:
    """A Mapping from a parsed TOML document; `name` is the file it came from, for messages."""
    keys = _Keys(document, name)
    keys.allow("", {"description", "columns", "units", "times", "csv"})
    keys.string("description")

    columns = keys.table("columns")
    keys.allow("columns", set(CHARGER_FIELDS) | set(SESSION_FIELDS))
    renamed = {target: keys.string(f"columns.{target}") or "" for target in columns}

    keys.table("units")
    keys.allow("units", set(UNITS))
    energy_factor = keys.choice("units.energy", ENERGY_UNITS, 1.0)
    power_factor = keys.choice("units.maxOutputPower", POWER_UNITS, 1.0)
    duration_unit = keys.choice("units.chargingDuration", DURATION_UNITS, "s")

    keys.table("times")
    keys.allow("times", {"format", "date_format", "time_zone"})
    time_format = keys.string("times.format") or fields.ISO8601
    if time_format not in fields.TIME_KEYWORDS:
        problem = _pattern_problem(time_format, _date_and_time, "date and time")
        keys.check("times.format", time_format, problem)
    date_format = keys.string("times.date_format")
    if date_format is not None:
        problem = _pattern_problem(date_format, _date_only, "date")
        keys.check("times.date_format", date_format, problem)
    time_zone = keys.string("times.time_zone")
    if time_zone is not None and fields.zone(time_zone) is None:
        keys.check("times.time_zone", time_zone, "not a known IANA time zone")

    keys.table("csv")
    keys.allow("csv", {"delimiter", "encoding"})
    delimiter = keys.string("csv.delimiter") or ","
    if len(delimiter) != 1:
        keys.check("csv.delimiter", delimiter, "must be one character")
    encoding = keys.string("csv.encoding") or "utf-8"
    keys.check("csv.encoding", encoding, _encoding_problem(encoding))
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # so that a byte-order mark is skipped, as spreadsheets write one

    return Mapping(
        columns=renamed,
        energy_factor=energy_factor,
        power_factor=power_factor,
        duration_unit=duration_unit,
        time_format=time_format,
        date_format=date_format,
        time_zone=time_zone,
        delimiter=delimiter,
        encoding=encoding,
    )


class _Keys:
    """Typed access to a TOML document by dotted key, raising MappingError that names the key."""

    def __init__(self, document: dict[str, Any], name: str) -> None:
        self._document = document
        self._name = name

    def _get(self, key: str) -> object:
        table: object = self._document
        for part in key.split("."):
            if not isinstance(table, dict):
                return None
            table = table.get(part)
        return table

    def fail(self, key: str, reason: str) -> MappingError:
        return MappingError(f"{self._name}: {key}: {reason}")

    def table(self, key: str) -> dict[str, Any]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def allow(self, key: str, allowed: set[str]) -> None:
        table = self.table(key) if key else self._document
        for member in table:
            if member not in allowed:
                where = f"{key}.{member}" if key else member
                raise self.fail(where, f"unknown key (known: {', '.join(sorted(allowed))})")

    def string(self, key: str) -> str | None:
        """The non-empty string at `key`, or None if the key is absent."""
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty string")
        return value

    def choice(self, key: str, choices: dict[str, _T], default: _T) -> _T:
        value = self.string(key)
        if value is None:
            return default
        for name, choice in choices.items():
            if name.lower() == value.lower():
                return choice
        raise self.fail(key, f"{value!r} is not one of {', '.join(choices)}")

    def check(self, key: str, value: str, problem: str | None) -> None:
        if problem is not None:
            raise self.fail(key, f"{value!r}: {problem}")


_SAMPLE = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


def _date_and_time(parsed: datetime) -> bool:
    return parsed.replace(second=0, tzinfo=None) == _SAMPLE.replace(second=0, tzinfo=None)


def _date_only(parsed: datetime) -> bool:
    return parsed.date() == _SAMPLE.date()


def _pattern_problem(pattern: str, complete: Callable[[datetime], bool], what: str) -> str | None:
    """Why a strptime pattern cannot read a `what`, or None if it can: it must read back what it
    writes, and that must be `complete` (the whole date, and the time to the minute)."""
    if "%" not in pattern:
        return f"not one of {', '.join(fields.TIME_KEYWORDS)} and not a strptime pattern"
    try:
        parsed = datetime.strptime(_SAMPLE.strftime(pattern), pattern)  # noqa: DTZ007
    except ValueError as error:
        return f"not a usable strptime pattern ({error})"
    if not complete(parsed):
        return f"does not give the whole {what} (e.g. '%Y-%m-%d %H:%M:%S')"
    return None


def _encoding_problem(encoding: str) -> str | None:
    try:
        io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    except LookupError:
        return "not a text encoding Python knows"
    return None
