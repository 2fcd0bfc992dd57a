"""Per key, per UTC day counts of requests and of 429s, gathered in memory for the store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from evshare.model import UsageRow


class UsageCounter:
    """Cheap on the hot path: one dict lookup and an increment per request."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, date], list[int]] = {}

    def record(self, key: str, day: date, throttled: bool) -> None:
        counts = self._counts.get((key, day))
        if counts is None:
            counts = self._counts[key, day] = [0, 0]
        counts[0] += 1
        if throttled:
            counts[1] += 1

    def restore(self, rows: Iterable[UsageRow]) -> None:
        """Count again what a drain took but could not persist, so that a failed flush loses
        nothing: the next drain returns it with whatever was counted meanwhile."""
        for row in rows:
            counts = self._counts.get((row.key_name, row.day))
            if counts is None:
                counts = self._counts[row.key_name, row.day] = [0, 0]
            counts[0] += row.requests
            counts[1] += row.throttled

    def drain(self) -> list[UsageRow]:
        """What was counted since the last drain, ordered by key then day, and start over.
        The rows are increments: whoever persists them adds them to what is stored."""
        counts, self._counts = self._counts, {}
        return [
            UsageRow(key, day, requests, throttled)
            for (key, day), (requests, throttled) in sorted(counts.items())
        ]
