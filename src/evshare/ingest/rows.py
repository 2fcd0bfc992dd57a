"""What a reader yields for a record it cannot accept."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

_SHOWN = 80  # characters of a bad value shown in a message; the record keeps it whole


@dataclasses.dataclass(frozen=True, slots=True)
class RowError:
    """One rejected record: where it is, which field (as named in the file), its value, and why.

    `field` is None when the record as a whole is at fault (malformed JSON, a CSV line with the
    wrong number of fields). `value` is the value as read (None when absent). `record` is the
    record as read, when it could be read at all, so that a rejects file can reproduce it.
    """

    source: str
    line: int
    field: str | None
    value: object
    reason: str
    record: Mapping[str, object] | None = dataclasses.field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}"
        if self.field is None:
            return f"{where}: {self.reason}"
        if self.value is None or self.value == "":
            return f"{where}: {self.field}: {self.reason}"
        shown = repr(self.value)
        if len(shown) > _SHOWN:
            shown = shown[: _SHOWN - 3] + "..."
        return f"{where}: {self.field}={shown}: {self.reason}"
