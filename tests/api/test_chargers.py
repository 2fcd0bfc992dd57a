"""GET /chargers and GET /chargers/{chargerId} through the app, on every SQL store."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.api.conformance import assert_conforms
from tests.api.conftest import ALL_IDS, SCOPED_CHARGERS, Live


def ids_of(body: object) -> list[str]:
    assert isinstance(body, dict)
    return [c["id"] for c in body["chargers"]]


def test_default_page_is_the_first_ten_in_byte_order_with_the_true_total(live: Live) -> None:
    with live.client(live.keys.all) as http:
        body = assert_conforms(http.get("/chargers"), "/chargers")
    assert ids_of(body) == ALL_IDS[:10]
    assert body["total"] == len(ALL_IDS)


def test_pages_are_stable_and_cover_every_charger_once(live: Live) -> None:
    seen: list[str] = []
    with live.client(live.keys.all) as http:
        for page in range(1, 5):
            body = assert_conforms(http.get(f"/chargers?page={page}&pageSize=4"), "/chargers")
            seen += ids_of(body)
    assert seen == ALL_IDS


def test_a_page_past_the_end_is_empty_with_the_true_total(live: Live) -> None:
    with live.client(live.keys.all) as http:
        for page in ("99", "9223372036854775807"):
            body = assert_conforms(http.get(f"/chargers?page={page}&pageSize=1000"), "/chargers")
            assert body == {"chargers": [], "total": len(ALL_IDS)}


@pytest.mark.parametrize("size", ["1", "1000"])
def test_page_size_bounds_are_accepted(live: Live, size: str) -> None:
    with live.client(live.keys.all) as http:
        body = assert_conforms(http.get(f"/chargers?pageSize={size}"), "/chargers")
    assert len(ids_of(body)) == min(int(size), len(ALL_IDS))


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("pageSize=0", "pageSize"),
        ("pageSize=1001", "pageSize"),
        ("pageSize=-1", "pageSize"),
        ("pageSize=abc", "pageSize"),
        ("pageSize=1.5", "pageSize"),
        ("pageSize=", "pageSize"),
        ("pageSize=%201", "pageSize"),
        ("page=0", "page"),
        ("page=-3", "page"),
        ("page=1e3", "page"),
        ("page=9223372036854775808", "page"),
        ("page=99999999999999999999999", "page"),
        ("page=1&page=2", "page"),
        ("page=%FF", "query"),
    ],
)
def test_bad_paging_is_a_400_naming_the_parameter(live: Live, query: str, name: str) -> None:
    with live.client(live.keys.all) as http:
        response = http.get(f"/chargers?{query}")
    body = assert_conforms(response, "/chargers")
    assert response.status_code == 400
    assert body["code"] == "invalid_parameter"
    assert name in body["message"]


@pytest.mark.parametrize(
    "query",
    [
        "chargerIds=CH-003&chargerIds=CH-001",
        "chargerIds[]=CH-003&chargerIds[]=CH-001",
        "chargerIds%5B%5D=CH-003&chargerIds%5B%5D=CH-001",
        "chargerIds=CH-003,CH-001",
        "chargerIds=CH-003%2CCH-001",
        "chargerIds=CH-003&chargerIds[]=CH-001",
        "chargerIds=CH-001,CH-003&chargerIds=CH-001,,",
        "chargerIds=CH-001,nope,CH-003&chargerIds[]=also-missing",
    ],
)
def test_every_charger_ids_form_selects_the_same_chargers(live: Live, query: str) -> None:
    with live.client(live.keys.all) as http:
        body = assert_conforms(http.get(f"/chargers?{query}"), "/chargers")
    assert body == {"chargers": body["chargers"], "total": 2}
    assert ids_of(body) == ["CH-001", "CH-003"]


def test_charger_ids_filter_pages_and_counts_only_matches(live: Live) -> None:
    wanted = ",".join(ALL_IDS[:7])
    with live.client(live.keys.all) as http:
        body = assert_conforms(
            http.get(f"/chargers?chargerIds={wanted}&pageSize=5&page=2"), "/chargers"
        )
    assert ids_of(body) == ALL_IDS[5:7]
    assert body["total"] == 7


def test_an_empty_charger_ids_filter_matches_nothing(live: Live) -> None:
    with live.client(live.keys.all) as http:
        body = assert_conforms(http.get("/chargers?chargerIds="), "/chargers")
    assert body == {"chargers": [], "total": 0}


def test_a_scoped_key_lists_and_counts_only_its_chargers(live: Live) -> None:
    visible = sorted(set(SCOPED_CHARGERS) & set(ALL_IDS))
    with live.client(live.keys.scoped) as http:
        body = assert_conforms(http.get("/chargers"), "/chargers")
        assert ids_of(body) == visible
        assert body["total"] == len(visible)
        asked = assert_conforms(http.get("/chargers?chargerIds=CH-001,CH-002,CH-003"), "/chargers")
    assert asked == {"chargers": asked["chargers"], "total": 1}
    assert ids_of(asked) == ["CH-002"]


def test_charger_detail_has_every_known_field_and_leaves_unknown_ones_out(live: Live) -> None:
    with live.client(live.keys.all) as http:
        full = assert_conforms(http.get("/chargers/CH-001"), "/chargers/{chargerId}")
        minimal = assert_conforms(http.get("/chargers/CH-002"), "/chargers/{chargerId}")
    assert full == {
        "id": "CH-001",
        "name": "Calgary L2",
        "serialNumber": "SN-1",
        "model": "CT4011-GW1",
        "manufacturer": "ChargePoint",
        "maxOutputPower": 7200,
        "maxAvailableCurrent": 30,
        "outputVoltage": 240,
        "numberOfConnectors": 2,
        "timeZone": "America/Edmonton",
        "latitude": 51.0447,
        "longitude": -114.0719,
        "commissioningDate": "2021-04-12",
    }
    assert minimal == {"id": "CH-002", "name": "Minimal charger"}


@pytest.mark.parametrize("charger", ["slash/id", "Électrique", "ch-lower"])
def test_ids_are_matched_exactly_after_percent_decoding(live: Live, charger: str) -> None:
    with live.client(live.keys.all) as http:
        body = assert_conforms(
            http.get(f"/chargers/{quote(charger, safe='')}"), "/chargers/{chargerId}"
        )
    assert body["id"] == charger


@pytest.mark.parametrize("charger", ["ch-001", "CH-00", "nope", "not-yet-imported"])
def test_unknown_or_differently_cased_ids_are_404(live: Live, charger: str) -> None:
    with live.client(live.keys.all) as http:
        response = http.get(f"/chargers/{charger}")
    assert response.status_code == 404
    assert assert_conforms(response, "/chargers/{chargerId}") == {
        "message": "Not Found",
        "code": "not_found",
    }


def test_a_hidden_charger_is_indistinguishable_from_a_missing_one(live: Live) -> None:
    with live.client(live.keys.scoped) as http:
        hidden = http.get("/chargers/CH-001")
        missing = http.get("/chargers/no-such-charger")
        visible = http.get("/chargers/CH-002")
    assert visible.status_code == 200
    assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content)
    assert hidden.status_code == 404
