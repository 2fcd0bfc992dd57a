"""File formats: which one a file is, and turning its bytes into records.

A record is `(line, fields)`: the 1-based line where it starts and its fields by name as the file
spells them. A record that cannot be read becomes a RowError and reading goes on; a file that is
not the format it claims raises ImportFailed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator
from typing import BinaryIO, Literal, get_args

import orjson

from evshare.errors import ImportFailed
from evshare.ingest.rows import RowError

Format = Literal["csv", "json", "ndjson"]
FORMATS: tuple[Format, ...] = get_args(Format)
Record = tuple[int, dict[str, object]]

MAX_RECORD = 1 << 24
"""Bytes one NDJSON line or JSON array element may take; memory stays bounded by it."""

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
_BOM = b"\xef\xbb\xbf"
_SHOWN_LINE = 200  # characters of a malformed line kept in its RowError


def choose_format(name: str, requested: str | None, stream: BinaryIO | None = None) -> Format:
    """The format asked for, or the one the file name implies (a trailing .gz is ignored), or,
    for standard input and names without a known extension, the one the content shows."""
    if requested is not None:
        if requested not in FORMATS:
            raise ImportFailed(
                f"{name}: unknown format {requested!r} (--format is one of {', '.join(FORMATS)})"
            )
        return requested
    stem = name.lower().removesuffix(".gz")
    for extension, detected in _EXTENSIONS.items():
        if stem.endswith(extension):
            return detected
    sniffed = None if stream is None else sniff_format(stream)
    if sniffed is None:
        raise ImportFailed(
            f"{name}: cannot tell the format from the name or the content; give it with "
            "--format csv, --format json or --format ndjson (or name the file .csv, .json, "
            ".ndjson or .jsonl, optionally + .gz)"
        )
    return sniffed


_ENVELOPES = ("data", "chargers")


def sniff_format(stream: BinaryIO) -> Format | None:
    """What the first bytes of `stream` show (without consuming them): a JSON object on its
    first line is NDJSON (what `evshare export` writes) unless it is an envelope
    (`{"data": [...]}`); `[` or `{` opening a document is JSON; anything else is CSV."""
    peek = getattr(stream, "peek", None)
    head = b"" if peek is None else bytes(peek(MAX_SNIFF))[:MAX_SNIFF]
    head = head.removeprefix(_BOM).lstrip()
    if not head:
        return "ndjson"  # nothing to read: `evshare export` of nothing, piped in
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        first = head.split(b"\n", 1)[0]
        try:
            value = orjson.loads(first)
        except orjson.JSONDecodeError:
            return "json"  # an object spread over lines: one JSON document
        if isinstance(value, dict) and any(isinstance(value.get(key), list) for key in _ENVELOPES):
            return "json"
        return "ndjson"
    return "csv"


MAX_SNIFF = 1 << 16


def _fields(count: int) -> str:
    return f"{count} field{'' if count == 1 else 's'}"


def encoding_name(encoding: str) -> str:
    """An encoding as people name it: utf-8-sig (UTF-8, a byte-order mark skipped) is UTF-8."""
    import codecs

    name = codecs.lookup(encoding).name
    return {"utf-8-sig": "UTF-8", "utf-8": "UTF-8"}.get(name, name.upper())


def read_ndjson(
    stream: BinaryIO, source: str, max_record: int = MAX_RECORD
) -> Iterator[Record | RowError]:
    """One JSON object per line; blank lines are skipped, a bad line is a RowError."""
    loads = orjson.loads
    readline = stream.readline
    line = 0
    while raw := readline(max_record):
        line += 1
        if line == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if len(raw) == max_record and not raw.endswith(b"\n"):
            while (rest := readline(max_record)) and not rest.endswith(b"\n"):
                pass
            yield RowError(source, line, None, None, f"line longer than {max_record} bytes")
            continue
        try:
            value = loads(raw)
        except orjson.JSONDecodeError as error:
            if raw.isspace():
                continue
            text = raw.decode("utf-8", "replace").strip()[:_SHOWN_LINE]
            yield RowError(source, line, None, text, f"malformed JSON: {error}")
            continue
        if type(value) is dict:
            yield line, value
        else:
            yield RowError(source, line, None, value, "not a JSON object")


def read_csv(
    stream: BinaryIO,
    source: str,
    *,
    required: Collection[str] = (),
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
) -> Iterator[Record | RowError]:
    """A header line naming the columns, then one record per row (a quoted value may span lines:
    the record's line is where it starts). Blank lines are skipped. ImportFailed if the header
    lacks a `required` column."""
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
    except csv.Error as error:
        raise ImportFailed(f"{source}:{reader.line_num}: malformed CSV header: {error}") from error
    if header is None:
        return
    names = [cell.strip() for cell in header]
    _check_header(source, reader.line_num, names, required, encoding)
    width = len(names)
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            end = reader.line_num
            yield RowError(source, start, None, None, f"malformed CSV: {error}")
            continue
        end = reader.line_num
        if len(row) != width:
            if any(cell.strip() for cell in row):
                yield RowError(
                    source,
                    start,
                    None,
                    None,
                    f"has {_fields(len(row))}; the header has {_fields(width)}",
                )
            continue
        fields: dict[str, object] = dict(zip(names, row, strict=True))
        joined = "".join(row)
        if not joined.isascii():
            bad = _undecodable(names, row)
            if bad is not None:
                yield RowError(
                    source,
                    start,
                    bad,
                    fields[bad],
                    f"is not valid {encoding_name(encoding)}",
                    record=fields,
                )
                continue
        yield start, fields


def _check_header(
    source: str, line: int, names: list[str], required: Collection[str], encoding: str
) -> None:
    if _undecodable(names, names) is not None:
        raise ImportFailed(f"{source}:{line}: the header is not valid {encoding_name(encoding)}")
    seen: set[str] = set()
    for name in names:
        if name in seen and name:
            raise ImportFailed(f"{source}:{line}: column {name!r} appears twice in the header")
        seen.add(name)
    missing = [name for name in required if name not in seen]
    if missing:
        raise ImportFailed(
            f"{source}:{line}: no column {', '.join(map(repr, missing))} in the header"
            f" (it has {', '.join(map(repr, names))})"
        )


def _undecodable(names: list[str], cells: list[str]) -> str | None:
    """The first column whose cell holds bytes the encoding could not decode (kept as lone
    surrogates by `surrogateescape`), or None."""
    for name, cell in zip(names, cells, strict=True):
        if not cell.isascii():
            try:
                cell.encode("utf-8")
            except UnicodeEncodeError:
                return name
    return None
