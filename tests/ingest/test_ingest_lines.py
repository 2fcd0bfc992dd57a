"""NDJSON and CSV: a bad line is a RowError and the rest is still read; lines are exact."""

from __future__ import annotations

import io

import pytest

from evshare.errors import ImportFailed
from evshare.ingest.formats import Record, read_csv, read_ndjson
from evshare.ingest.rows import RowError


def ndjson(content: bytes, max_record: int = 1 << 24) -> list[Record | RowError]:
    return list(read_ndjson(io.BytesIO(content), "x.ndjson", max_record))


def csv_records(
    content: bytes,
    *,
    required: tuple[str, ...] = (),
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
) -> list[Record | RowError]:
    reader = read_csv(
        io.BytesIO(content), "x.csv", required=required, delimiter=delimiter, encoding=encoding
    )
    return list(reader)


def test_ndjson_bad_lines_are_row_errors_and_reading_goes_on() -> None:
    content = b'{"id": "a"}\n\n{"id": \n   \r\n[1, 2]\n"text"\n{"id": "\xff"}\n{"id": "b"}'
    result = ndjson(content)
    assert result[0] == (1, {"id": "a"})
    assert result[-1] == (8, {"id": "b"})
    errors = [item for item in result if isinstance(item, RowError)]
    assert len(result) == 2 + len(errors)
    assert [(e.line, e.field, e.value) for e in errors] == [
        (3, None, '{"id":'),
        (5, None, [1, 2]),
        (6, None, "text"),
        (7, None, '{"id": "\ufffd"}'),
    ]
    assert errors[0].reason.startswith("malformed JSON: ")
    assert errors[1].reason == "not a JSON object"
    assert "UTF-8" in errors[3].reason
    assert str(errors[1]) == "x.ndjson:5: not a JSON object"


def test_ndjson_a_line_longer_than_the_limit_is_skipped_whole() -> None:
    content = b'{"id": "a"}\n{"id": "' + b"x" * 100 + b'"}\n{"id": "b"}\n'
    assert ndjson(content, max_record=40) == [
        (1, {"id": "a"}),
        RowError("x.ndjson", 2, None, None, "line longer than 40 bytes"),
        (3, {"id": "b"}),
    ]


def test_ndjson_crlf_line_ends_are_fine() -> None:
    assert ndjson(b'{"id": "a"}\r\n{"id": "b"}\r\n') == [(1, {"id": "a"}), (2, {"id": "b"})]


def test_csv_records_start_where_their_first_line_is() -> None:
    content = (
        b"id,name,note\r\n"
        b"a,A,plain\r\n"
        b'b,B,"spans\r\ntwo lines"\r\n'
        b"\r\n"
        b'c,C,"and\nthree\nlines"\n'
        b"d,D,last"
    )
    assert csv_records(content) == [
        (2, {"id": "a", "name": "A", "note": "plain"}),
        (3, {"id": "b", "name": "B", "note": "spans\r\ntwo lines"}),
        (6, {"id": "c", "name": "C", "note": "and\nthree\nlines"}),
        (9, {"id": "d", "name": "D", "note": "last"}),
    ]


def test_csv_header_names_are_stripped_and_blank_lines_before_it_skipped() -> None:
    assert csv_records(b"\n\n id , name \na,A\n") == [(4, {"id": "a", "name": "A"})]


@pytest.mark.parametrize("content", [b"", b"id,name\n", b"id,name", b"\n\n"])
def test_csv_header_only_or_empty_yields_nothing(content: bytes) -> None:
    assert csv_records(content) == []


def test_csv_malformed_lines_are_row_errors_and_reading_goes_on() -> None:
    content = b'id,name\na,A\nb,"B"x\nc\nd,D,extra\n , \ne,E\nf,"unterminated\n'
    assert csv_records(content) == [
        (2, {"id": "a", "name": "A"}),
        RowError("x.csv", 3, None, None, "malformed CSV: ',' expected after '\"'"),
        RowError("x.csv", 4, None, None, "has 1 field; the header has 2 fields"),
        RowError("x.csv", 5, None, None, "has 3 fields; the header has 2 fields"),
        (6, {"id": " ", "name": " "}),
        (7, {"id": "e", "name": "E"}),
        RowError("x.csv", 8, None, None, "malformed CSV: unexpected end of data"),
    ]


def test_csv_a_row_of_blank_cells_of_another_width_is_skipped() -> None:
    assert csv_records(b"id,name\n \na,A\n") == [(3, {"id": "a", "name": "A"})]


def test_csv_bytes_the_encoding_cannot_decode_are_a_row_error_naming_the_column() -> None:
    result = csv_records(b"id,name\na,Caf\xc3\xa9\nb,Caf\xe9\nc,C\n")
    assert result[0] == (2, {"id": "a", "name": "Caf\u00e9"})
    error = result[1]
    assert isinstance(error, RowError)
    assert (error.line, error.field, error.reason) == (3, "name", "is not valid UTF-8")
    assert result[2] == (4, {"id": "c", "name": "C"})


def test_csv_delimiter_and_encoding_are_options() -> None:
    content = "id;name\na;Café\n".encode("cp1252")
    assert csv_records(content, delimiter=";", encoding="cp1252") == [
        (2, {"id": "a", "name": "Café"})
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,name,id\na,b,c\n", r"x\.csv:1: column 'id' appears twice in the header"),
        (b"id,\xff\n", r"x\.csv:1: the header is not valid UTF-8"),
        (b'id,"name\n', r"x\.csv:1: malformed CSV header"),
        (b"id,title\na,A\n", r"x\.csv:1: no column 'name' in the header \(it has 'id', 'title'\)"),
    ],
)
def test_csv_a_bad_header_is_import_failed(content: bytes, message: str) -> None:
    with pytest.raises(ImportFailed, match=message):
        csv_records(content, required=("id", "name"))


def test_csv_blank_header_names_may_repeat() -> None:
    assert csv_records(b"id,,\na,x,y\n") == [(2, {"id": "a", "": "y"})]
