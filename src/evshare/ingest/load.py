"""The importers' writing half: readers → batches → one import transaction in the store.

All or nothing per invocation: every file of one `evshare import` lands in one transaction, so a
bad row (without `skip_invalid`), an unreadable file, an error or a kill leaves the store as it
was. With `skip_invalid` the valid rows land and each rejected one goes to the rejects sink.
Memory stays constant: rows are written in batches, and the ids already read (to catch a
duplicate id) are remembered by the store's transaction, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from evshare.errors import ImportFailed
from evshare.ingest.mapping import Mapping
from evshare.ingest.readers import (
    read_chargers,
    read_ocpi_cdrs,
    read_ocpi_locations,
    read_sessions,
)
from evshare.ingest.rows import RowError
from evshare.ingest.sources import STDIN, Progress, Source
from evshare.ingest.validate import DUPLICATE
from evshare.model import Charger, Session
from evshare.store.port import ImportSession, ImportStore, UpsertCounts

Kind = Literal["chargers", "sessions", "ocpi-locations", "ocpi-cdrs"]
KINDS: tuple[Kind, ...] = ("chargers", "sessions", "ocpi-locations", "ocpi-cdrs")
BATCH = 5000
SHOWN_ERRORS = 20

Reject = Callable[[RowError], None]


class _Zone(NamedTuple):
    time_zone: str | None


@dataclass
class ImportReport:
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    rejected: int = 0
    first_errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    def reject(self, error: RowError) -> None:
        self.rejected += 1
        if len(self.first_errors) < SHOWN_ERRORS:
            self.first_errors.append(error)

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c.inserted} inserted, {c.updated} updated, {c.unchanged} unchanged, "
            f"{self.rejected} rejected"
        )


class _BatchIds:
    """The duplicate hook for one batch: catches repeats inside the batch at once (the reader
    names their line), and keeps each id's line so repeats of earlier batches, which only the
    store can see, are named precisely when the batch is written."""

    def __init__(self) -> None:
        self.lines: dict[str, int] = {}

    def __call__(self, record_id: str, line: int) -> bool:
        if record_id in self.lines:
            return True
        self.lines[record_id] = line
        return False


class _BytesRead:
    """Turns each reader's byte count (from 0 for every file) into one count for the whole
    invocation, so that a progress bar over several files only moves forward."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._finished = 0  # bytes of the files already read
        self._current = 0

    def of_file(self) -> Progress | None:
        if self._progress is None:
            return None
        self._finished += self._current
        self._current = 0
        return self._report

    def _report(self, count: int) -> None:
        self._current = count
        if self._progress is not None:
            self._progress(self._finished + count)


def _display_name(source: Source) -> str:
    return "<stdin>" if str(source) == STDIN else str(source)


async def run_import(
    store: ImportStore,
    kind: Kind,
    sources: Sequence[Source],
    *,
    format: str | None = None,
    mapping: Mapping | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    on_reject: Reject | None = None,
    progress: Progress | None = None,
    on_rows: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> ImportReport:
    """Import `sources`; ImportFailed (nothing written) on an unreadable file, or on the first
    batch with a bad row unless `skip_invalid`. Every bad row is still read and reported.
    `progress` is told the bytes read so far across all `sources`, as stored (gzip compressed)."""
    report = ImportReport(dry_run=dry_run)
    zones: dict[str, str | None] = {}
    if kind in ("sessions", "ocpi-cdrs"):
        zones = await store.charger_zones()

    def charger_info(charger_id: str) -> _Zone | None:
        return _Zone(zones[charger_id]) if charger_id in zones else None

    def reject(error: RowError) -> None:
        report.reject(error)
        if on_reject is not None:
            on_reject(error)

    read = _BytesRead(progress)
    async with store.importing(dry_run=dry_run) as session:
        for source in sources:
            ids = _BatchIds()
            rows = _reader(kind, source, format, mapping, charger_info, ids, read.of_file())
            batch: list[Charger | Session] = []
            for item in rows:
                if isinstance(item, RowError):
                    reject(item)
                    continue
                batch.append(item)
                if len(batch) >= batch_size:
                    await _write(
                        session, batch, ids, _display_name(source), reject, report, skip_invalid
                    )
                    if on_rows is not None:
                        on_rows(len(batch))
                    batch, ids.lines = [], {}
            await _write(session, batch, ids, _display_name(source), reject, report, skip_invalid)
            if on_rows is not None:
                on_rows(len(batch))
        if report.rejected and not skip_invalid:
            shown = "\n  ".join(map(str, report.first_errors))
            more = report.rejected - len(report.first_errors)
            tail = f"\n  ... and {more} more" if more else ""
            raise ImportFailed(
                f"{report.rejected:,} invalid row{'' if report.rejected == 1 else 's'}; "
                f"nothing was imported:\n  {shown}{tail}\n"
                "Fix them, or pass --skip-invalid to load the valid rows and write the "
                "rejected ones to a rejects file."
            )
    return report


def _reader(
    kind: Kind,
    source: Source,
    format: str | None,
    mapping: Mapping | None,
    charger_info: Callable[[str], _Zone | None],
    ids: _BatchIds,
    progress: Progress | None,
) -> Iterator[Charger | Session | RowError]:
    if kind == "chargers":
        return read_chargers(
            source, format=format, mapping=mapping, duplicate_id=ids, progress=progress
        )
    if kind == "sessions":
        return read_sessions(
            source,
            format=format,
            mapping=mapping,
            charger_info=charger_info,
            duplicate_id=ids,
            progress=progress,
        )
    if kind == "ocpi-locations":
        return read_ocpi_locations(source, format=format, duplicate_id=ids, progress=progress)
    return read_ocpi_cdrs(
        source, format=format, charger_info=charger_info, duplicate_id=ids, progress=progress
    )


async def _write(
    session: ImportSession,
    batch: list[Charger | Session],
    ids: _BatchIds,
    source: str,
    reject: Reject,
    report: ImportReport,
    skip_invalid: bool,
) -> None:
    if not batch:
        return
    repeated = await session.repeated(list(ids.lines))
    if repeated:
        for record_id in sorted(repeated, key=ids.lines.__getitem__):
            reject(RowError(source, ids.lines[record_id], "id", record_id, DUPLICATE))
        batch = [row for row in batch if row.id not in repeated]
    if report.rejected and not skip_invalid:
        return  # the import will fail and roll back: only go on reading, to report every row
    chargers = [row for row in batch if isinstance(row, Charger)]
    sessions = [row for row in batch if isinstance(row, Session)]
    if chargers:
        report.counts += await session.upsert_chargers(chargers)
    if sessions:
        report.counts += await session.upsert_sessions(sessions)
