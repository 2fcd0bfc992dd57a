"""Streaming a JSON array: elements split across reads, line numbers, envelopes, broken files."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evshare.errors import ImportFailed
from evshare.ingest.formats import Record
from evshare.ingest.jsonarray import MemberHook, read_array
from evshare.ingest.rows import RowError

PRETTY = """[
  {
    "id": "a",
    "note": "braces } and { and \\" inside a string",
    "nested": {"deep": [1, 2, {"x": null}]}
  },
  {"id": "b", "n": 12345678901234},
  {"id": "c", "text": "caf\u00e9 \u2014 \U0001f50c"},

  {"id": "d"}
]
"""


def records(
    content: str | bytes,
    chunk_size: int = 1 << 16,
    *,
    envelope: str | None = None,
    on_member: MemberHook | None = None,
    max_record: int = 1 << 24,
) -> list[Record | RowError]:
    data = content.encode() if isinstance(content, str) else content
    reader = read_array(
        io.BytesIO(data),
        "x.json",
        envelope=envelope,
        on_member=on_member,
        chunk_size=chunk_size,
        max_record=max_record,
    )
    return list(reader)


def errors_of(result: list[Record | RowError]) -> list[RowError]:
    return [item for item in result if isinstance(item, RowError)]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 7, 16, 64, 1 << 16])
def test_elements_and_their_lines_whatever_the_chunk_size(chunk_size: int) -> None:
    expected = json.loads(PRETTY)
    assert records(PRETTY, chunk_size) == [
        (2, expected[0]),
        (7, expected[1]),
        (8, expected[2]),
        (10, expected[3]),
    ]


@pytest.mark.parametrize("chunk_size", [1, 2, 3])
def test_a_number_split_across_reads_is_read_whole(chunk_size: int) -> None:
    result = records("[12345, 6.25e3, true]", chunk_size)
    assert [(error.line, error.value, error.reason) for error in errors_of(result)] == [
        (1, 12345, "not a JSON object"),
        (1, 6250.0, "not a JSON object"),
        (1, True, "not a JSON object"),
    ]


def test_non_objects_are_row_errors_and_reading_goes_on() -> None:
    result = records('[\n{"id": "a"},\n[1, 2],\n"text",\nnull,\n{"id": "b"}\n]')
    assert result == [
        (2, {"id": "a"}),
        RowError("x.json", 3, None, [1, 2], "not a JSON object"),
        RowError("x.json", 4, None, "text", "not a JSON object"),
        RowError("x.json", 5, None, None, "not a JSON object"),
        (6, {"id": "b"}),
    ]


@pytest.mark.parametrize("content", ["[]", " [ ] ", "\n[\n]\n", ""])
def test_empty_arrays_and_documents_yield_nothing(content: str) -> None:
    assert records(content) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a"}', r"x\.json:1: not a JSON array \(one object per line is NDJSON"),
        ("42", r"x\.json:1: not a JSON array$"),
        ('\n\n"text"', r"x\.json:3: not a JSON array$"),
        ('[{"id": "a"},\n{"id": }\n]', r"x\.json:2: malformed JSON: Expecting value"),
        (
            '[{"id": "a"}\n{"id": "b"}]',
            r"x\.json:2: malformed JSON: expected ',' or '\]', got '\{'",
        ),
        ('[{"id": "a"},]', r"x\.json:1: malformed JSON: Expecting value"),
        (
            '[{"id": "a"}',
            r"x\.json:1: malformed JSON: expected ',' or '\]', got the end of the file",
        ),
        ('[{"id": "a", "b": "unterminated}]', r"x\.json:1: malformed JSON: Unterminated string"),
        ('[{"id": "a"}] [', r"x\.json:1: unexpected data after the end of the JSON"),
        ("[" * 100_000, r"x\.json:1: (JSON nested too deeply|malformed JSON)"),
        ("[" + "1" * 5000 + "]", r"x\.json:1: malformed JSON: Exceeds the limit"),
    ],
)
def test_a_file_whose_structure_breaks_is_import_failed_at_the_line(
    content: str, message: str
) -> None:
    for chunk_size in (3, 1 << 16):
        with pytest.raises(ImportFailed, match=message):
            records(content, chunk_size)


def test_invalid_utf8_is_import_failed() -> None:
    with pytest.raises(ImportFailed, match=r"x\.json: not valid UTF-8 after line 2"):
        records(b'[{"id": "a"},\n{"id": "\xff"}]', chunk_size=4)


def test_an_element_larger_than_the_limit_is_import_failed() -> None:
    big = '[{"id": "a"}, {"id": "' + "x" * 500 + '"}]'
    with pytest.raises(ImportFailed, match=r"x\.json:1: .*at most 100 characters"):
        records(big, chunk_size=8, max_record=100)
    assert len(records(big, chunk_size=8, max_record=1000)) == 2


def test_an_envelope_member_holds_the_array_and_other_members_are_reported() -> None:
    seen: list[tuple[str, object]] = []
    content = '{"status_code": 1000,\n "data": [\n  {"id": "a"},\n  {"id": "b"}\n ],\n "n": [1]}'
    result = records(content, 5, envelope="data", on_member=lambda k, v: seen.append((k, v)))
    assert result == [(3, {"id": "a"}), (4, {"id": "b"})]
    assert seen == [("status_code", 1000), ("n", [1])]


def test_an_envelope_also_accepts_a_bare_array() -> None:
    assert records('[{"id": "a"}]', envelope="data") == [(1, {"id": "a"})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"status_code": 1000}', r"x\.json: no 'data' array in the top-level object"),
        ('{"data": null}', r"x\.json: no 'data' array"),
        ("{}", r"x\.json: no 'data' array"),
        ('{"data": [] "x": 1}', r"x\.json:1: malformed JSON: expected ',' or '\}'"),
        ('{"data" []}', r"x\.json:1: malformed JSON: expected ':'"),
        ("{1: []}", r"x\.json:1: malformed JSON: expected a name"),
    ],
)
def test_a_broken_envelope_is_import_failed(content: str, message: str) -> None:
    with pytest.raises(ImportFailed, match=message):
        records(content, envelope="data")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15), 10**15) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    elements=st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=4), max_size=6),
    indent=st.sampled_from([None, 0, 2]),
    chunk_size=st.integers(1, 40),
)
def test_any_array_of_objects_reads_back_equal(
    elements: list[dict[str, object]], indent: int | None, chunk_size: int
) -> None:
    content = json.dumps(elements, indent=indent, ensure_ascii=False)
    result = records(content, chunk_size)
    assert errors_of(result) == []
    assert [item[1] for item in result if not isinstance(item, RowError)] == elements
    lines = [item[0] for item in result if not isinstance(item, RowError)]
    assert lines == sorted(lines)
    assert all(1 <= line <= content.count("\n") + 1 for line in lines)
