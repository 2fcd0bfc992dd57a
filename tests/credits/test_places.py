"""Province and time zone of a charger: explicit, derived offline, or unassigned - never guessed
silently."""

from __future__ import annotations

import pytest

from evshare.credits import places


@pytest.mark.parametrize(
    ("value", "code"),
    [("bc", "BC"), ("British Columbia", "BC"), ("Québec", "QC"), (" on ", "ON"), ("Texas", None)],
)
def test_normalize_province(value: str, code: str | None) -> None:
    assert places.normalize_province(value) == code


def test_place_all_explicit_derived_and_unassigned() -> None:
    found = places.place_all(
        [
            ("AB", 49.28, -123.12),  # the operator's word wins over the coordinates
            (None, 51.0447, -114.0719),  # Calgary
            (None, 49.2827, -123.1207),  # Vancouver
            (None, 45.5019, -73.5674),  # Montreal
            (None, 47.6062, -122.3321),  # Seattle: not in Canada
            (None, None, None),
            ("Atlantis", None, None),
        ]
    )
    assert [(p.province, p.how) for p in found] == [
        ("AB", "explicit"),
        ("AB", "derived"),
        ("BC", "derived"),
        ("QC", "derived"),
        (None, "unassigned"),
        (None, "unassigned"),
        (None, "unassigned"),
    ]
    assert "US" in found[4].note
    assert "Atlantis" in found[6].note


def test_zone_for() -> None:
    assert places.zone_for("America/Regina", 0, 0) == places.Zone("America/Regina", "explicit")
    derived = places.zone_for(None, 51.0447, -114.0719)
    assert (derived.name, derived.how) == ("America/Edmonton", "derived")
    assert places.zone_for("Not/AZone", None, None).how == "utc"
    assert places.zone_for(None, None, None).how == "utc"
