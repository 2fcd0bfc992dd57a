"""Query parsing as pure functions: every accepted form and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evshare.api import params
from evshare.errors import InvalidParameter


def parsed(query: str) -> dict[str, list[str]]:
    return params.parse_query(query.encode())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", None),
        ("page=2", None),
        ("chargerIds=a", ("a",)),
        ("chargerIds=b&chargerIds=a", ("b", "a")),
        ("chargerIds[]=b&chargerIds[]=a", ("b", "a")),
        ("chargerIds=b,a,b", ("b", "a")),
        ("chargerIds=", ()),
        ("chargerIds=%20a", (" a",)),
        ("chargerIds=caf%C3%A9", ("café",)),
    ],
)
def test_charger_ids(query: str, expected: tuple[str, ...] | None) -> None:
    assert params.charger_ids(parsed(query)) == expected


def test_paging_defaults_and_offset() -> None:
    query = params.charger_query(parsed(""), paged=True)
    assert (query.page, query.page_size, query.offset) == (1, 10, 0)
    assert params.charger_query(parsed("page=3&pageSize=25"), paged=True).offset == 50


def test_the_unpaged_profile_ignores_paging_parameters() -> None:
    query = params.charger_query(parsed("page=x&pageSize=-1"), paged=False)
    assert query.ids is None


@given(st.integers(min_value=1, max_value=params.INT64_MAX))
def test_every_int64_page_is_accepted(page: int) -> None:
    assert params.charger_query(parsed(f"page={page}"), paged=True).page == page


@given(st.text(max_size=20).filter(lambda s: not s.isascii() or not s.isdigit()))
def test_page_size_rejects_anything_but_digits(raw: str) -> None:
    from urllib.parse import quote

    with pytest.raises(InvalidParameter) as caught:
        params.charger_query(parsed(f"pageSize={quote(raw)}"), paged=True)
    assert caught.value.name == "pageSize"


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("", None, None),
        ("startDate=1970-01-01", 0, None),
        ("endDate=1970-01-01", None, 86400),
        ("startDate=2021-01-01&endDate=2021-01-01", 1609459200, 1609545600),
        ("startDate=2024-02-29&endDate=2024-03-01", 1709164800, 1709337600),
    ],
)
def test_the_session_window_is_whole_utc_days(
    query: str, start: int | None, end: int | None
) -> None:
    window = params.session_query(parsed(query))
    assert (window.start, window.end) == tuple(
        None if t is None else datetime.fromtimestamp(t, UTC) for t in (start, end)
    )


def test_an_inverted_range_names_both_dates() -> None:
    with pytest.raises(InvalidParameter, match="startDate 2021-02-01 is after endDate 2021-01-31"):
        params.session_query(parsed("startDate=2021-02-01&endDate=2021-01-31"))


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_query_parsing_agrees_with_the_standard_library(query: str) -> None:
    from urllib.parse import parse_qsl

    expected: dict[str, list[str]] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        with pytest.raises(InvalidParameter):
            params.parse_query(query.encode())
        return
    for name, value in pairs:
        expected.setdefault(name, []).append(value)
    assert params.parse_query(query.encode()) == expected


def test_raw_utf8_in_the_query_is_read_as_utf8() -> None:
    assert params.parse_query("chargerIds=É1".encode()) == {"chargerIds": ["É1"]}
