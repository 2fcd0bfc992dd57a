"""GET /chargers/{chargerId}/sessions through the app, on every SQL store."""

from __future__ import annotations

import pytest

from tests.api.conformance import assert_conforms
from tests.api.conftest import Live

PATH = "/chargers/{chargerId}/sessions"


def session_ids(
    live: Live, query: str, charger: str = "CH-001", key: str | None = None
) -> list[str]:
    with live.client(key or live.keys.all) as http:
        response = http.get(f"/chargers/{charger}/sessions{query}")
    body = assert_conforms(response, PATH)
    assert response.status_code == 200, body
    return [s["id"] for s in body]


def test_the_range_runs_from_midnight_utc_through_the_end_of_end_date(live: Live) -> None:
    assert session_ids(live, "?startDate=2021-02-01&endDate=2021-02-28") == [
        "s-first",
        "s-a",
        "s-b",
        "s-last",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["s-before", "s-first", "s-a", "s-b", "s-last", "s-after"]),
        ("?startDate=2021-02-28", ["s-last", "s-after"]),
        ("?endDate=2021-01-31", ["s-before"]),
        ("?startDate=2021-02-10&endDate=2021-02-10", ["s-a", "s-b"]),
        ("?startDate=2021-02-11&endDate=2021-02-27", []),
        ("?startDate=2030-01-01", []),
        (
            "?startDate=0001-01-01&endDate=9999-12-31",
            ["s-before", "s-first", "s-a", "s-b", "s-last", "s-after"],
        ),
    ],
)
def test_date_bounds(live: Live, query: str, expected: list[str]) -> None:
    assert session_ids(live, query) == expected


def test_sessions_in_progress_are_not_served(live: Live) -> None:
    # s-open started on Feb 15, between completed sessions that are served: an endpoint that
    # always answered [] would fail this, one that served sessions in progress would too.
    assert session_ids(live, "?startDate=2021-02-10&endDate=2021-02-28") == ["s-a", "s-b", "s-last"]
    assert session_ids(live, "?startDate=2021-02-15&endDate=2021-02-15") == []


def test_a_session_has_the_contract_fields_in_utc_with_whole_seconds(live: Live) -> None:
    with live.client(live.keys.all) as http:
        body = http.get("/chargers/CH-001/sessions?startDate=2021-02-01&endDate=2021-02-01").json()
    assert body == [
        {
            "id": "s-first",
            "chargerId": "CH-001",
            "energy": 12000.5,
            "startTime": "2021-02-01T00:00:00Z",
            "endTime": "2021-02-01T01:00:00Z",
            "chargingDuration": 3600,
        }
    ]


def test_an_unknown_charging_duration_is_left_out(live: Live) -> None:
    with live.client(live.keys.all) as http:
        body = http.get("/chargers/CH-001/sessions?startDate=2021-02-10&endDate=2021-02-10").json()
    assert [sorted(s) for s in body] == [
        sorted(["id", "chargerId", "energy", "startTime", "endTime"]),
        sorted(["id", "chargerId", "energy", "startTime", "endTime", "chargingDuration"]),
    ]


def test_a_charger_id_with_a_slash_has_its_sessions(live: Live) -> None:
    assert session_ids(live, "", charger="slash%2Fid") == ["s-slash"]


def test_a_scoped_key_sees_sessions_of_its_chargers_only(live: Live) -> None:
    assert session_ids(live, "", charger="CH-002", key=live.keys.scoped) == ["s-other"]
    with live.client(live.keys.scoped) as http:
        hidden = http.get("/chargers/CH-001/sessions")
        missing = http.get("/chargers/nope/sessions")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    assert_conforms(hidden, PATH)


def test_a_visible_charger_with_no_sessions_is_an_empty_list(live: Live) -> None:
    assert session_ids(live, "", charger="CH-010") == []


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("startDate=2021-02-30", "startDate"),
        ("startDate=2021-1-1", "startDate"),
        ("startDate=20210101", "startDate"),
        ("startDate=2021-01-01T00:00:00Z", "startDate"),
        ("startDate=", "startDate"),
        ("endDate=tomorrow", "endDate"),
        ("endDate=2021-13-01", "endDate"),
        ("endDate=2021-01-01&endDate=2021-01-02", "endDate"),
        ("startDate=2021-03-02&endDate=2021-03-01", "startDate"),
    ],
)
def test_bad_dates_are_a_400_naming_the_parameter(live: Live, query: str, name: str) -> None:
    with live.client(live.keys.all) as http:
        response = http.get(f"/chargers/CH-001/sessions?{query}")
    body = assert_conforms(response, PATH)
    assert response.status_code == 400
    assert body["code"] == "invalid_parameter"
    assert name in body["message"]


def test_bad_dates_for_a_hidden_charger_do_not_reveal_it(live: Live) -> None:
    """Parameters are checked before the charger, the same way for visible and hidden ones."""
    with live.client(live.keys.scoped) as http:
        hidden = http.get("/chargers/CH-001/sessions?startDate=x")
        missing = http.get("/chargers/nope/sessions?startDate=x")
    assert hidden.status_code == missing.status_code == 400
    assert hidden.content == missing.content
