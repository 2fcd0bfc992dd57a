"""`evshare import` and `evshare export`: data in from the files operators have, and back out."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer

from evshare.cli.common import DatabaseUrl, day_range, err_console, settings_from
from evshare.errors import ConfigError
from evshare.ingest import RowError, load_mapping
from evshare.ingest.load import ImportReport, Kind, run_import
from evshare.ingest.mapping import CHARGER_FIELDS, SESSION_FIELDS
from evshare.model import Charger, Session, to_contract
from evshare.store import Store, open_store

import_app = typer.Typer(help="Import chargers or sessions from files.", no_args_is_help=True)
export_app = typer.Typer(
    help="Export chargers or sessions in the contract's shape.", no_args_is_help=True
)

Files = Annotated[
    list[str], typer.Argument(help="Files to read ('-' for stdin); .gz is read transparently.")
]
Format = Annotated[
    str | None, typer.Option("--format", help="csv, json or ndjson; by default from the extension.")
]
MappingOption = Annotated[
    str | None,
    typer.Option(
        "--mapping",
        help="A mapping file (TOML) or a shipped mapping's name; see docs/importing.md.",
    ),
]
SkipInvalid = Annotated[
    bool,
    typer.Option(
        "--skip-invalid", help="Load the valid rows; write rejected ones to the rejects file."
    ),
]
Rejects = Annotated[
    Path | None,
    typer.Option(
        "--rejects",
        help="Where --skip-invalid writes rejected rows (NDJSON). [default: FILE.rejects.ndjson]",
    ),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")]


class _Rejects:
    """Rejected rows as NDJSON: where, which field, the value, why, and the record as read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: IO[bytes] | None = None

    def __call__(self, error: RowError) -> None:
        if self._out is None:
            self._out = self.path.open("wb")
        self._out.write(
            orjson.dumps(
                {
                    "source": error.source,
                    "line": error.line,
                    "field": error.field,
                    "value": error.value,
                    "reason": error.reason,
                    "record": error.record,
                },
                default=str,
            )
            + b"\n"
        )

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


@contextmanager
def _progress(
    files: list[str],
) -> Iterator[tuple[Callable[[int], None] | None, Callable[[int], None] | None]]:
    """A bar with rows/s on a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None, None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    total = sum(os.path.getsize(f) for f in files if f != "-" and os.path.isfile(f)) or None
    started, rows = time.monotonic(), 0
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=total, rows=0, rate=0.0)

        def on_bytes(count: int) -> None:  # bytes of every file so far (see ingest/load.py)
            bar.update(task, completed=count)

        def on_rows(count: int) -> None:
            nonlocal rows
            rows += count
            bar.update(task, rows=rows, rate=rows / max(time.monotonic() - started, 1e-9))

        yield on_bytes, on_rows


def _import(
    kind: Kind,
    files: list[str],
    format: str | None,
    mapping: str | None,
    skip_invalid: bool,
    rejects: Path | None,
    dry_run: bool,
    database_url: str | None,
) -> None:
    settings = settings_from(database_url=database_url)
    if format is not None and format not in ("csv", "json", "ndjson"):
        raise ConfigError(f"--format: {format!r} is not csv, json or ndjson")
    chosen = None if mapping is None else load_mapping(mapping)
    sink = None
    if skip_invalid:
        first = files[0]
        sink = _Rejects(
            rejects or Path("stdin.rejects.ndjson" if first == "-" else f"{first}.rejects.ndjson")
        )

    async def work() -> ImportReport:
        store = await open_store(settings)
        try:
            with _progress(files) as (on_bytes, on_rows):
                return await run_import(
                    store,
                    kind,
                    files,
                    format=format,
                    mapping=chosen,
                    skip_invalid=skip_invalid,
                    dry_run=dry_run,
                    on_reject=sink,
                    progress=on_bytes,
                    on_rows=on_rows,
                )
        finally:
            await store.close()

    try:
        report = asyncio.run(work())
    finally:
        if sink is not None:
            sink.close()
    prefix = "dry run, nothing written: would be " if dry_run else ""
    err_console.print(f"{prefix}{report.summary()}", highlight=False)
    if report.rejected and sink is not None:
        err_console.print(f"rejected rows, with reasons: {sink.path}", highlight=False)


def _command(kind: Kind, about: str) -> Callable[..., None]:
    def command(
        files: Files,
        format: Format = None,
        mapping: MappingOption = None,
        skip_invalid: SkipInvalid = False,
        rejects: Rejects = None,
        dry_run: DryRun = False,
        database_url: DatabaseUrl = None,
    ) -> None:
        _import(kind, files, format, mapping, skip_invalid, rejects, dry_run, database_url)

    command.__doc__ = about
    return command


import_app.command("chargers")(
    _command("chargers", "Import chargers (CSV, JSON or NDJSON), upserting by id. All or nothing.")
)
import_app.command("sessions")(
    _command("sessions", "Import sessions (CSV, JSON or NDJSON), upserting by id. All or nothing.")
)
import_app.command("ocpi-locations")(
    _command("ocpi-locations", "Import OCPI 2.2.1 Locations: one charger per EVSE (id = EVSE uid).")
)
import_app.command("ocpi-cdrs")(
    _command("ocpi-cdrs", "Import OCPI 2.2.1 CDRs as sessions (chargerId = the EVSE uid).")
)


def charger_wire(c: Charger) -> dict[str, Any]:
    return to_contract(c)


def session_wire(s: Session) -> dict[str, Any]:
    return to_contract(s)


async def _write_rows(
    rows: AsyncIterator[dict[str, Any]], fields: tuple[str, ...], fmt: str, out: IO[str]
) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        async for row in rows:
            writer.writerow(row)
            count += 1
    else:
        async for row in rows:
            out.write(orjson.dumps(row).decode() + "\n")
            count += 1
    return count


def _export(
    kind: str,
    fmt: str,
    output: str,
    database_url: str | None,
    rows: Callable[[Store], AsyncIterator[dict[str, Any]]],
    fields: tuple[str, ...],
) -> None:
    if fmt not in ("csv", "ndjson"):
        raise ConfigError(f"--format: {fmt!r} is not csv or ndjson")
    settings = settings_from(database_url=database_url)

    async def work(out: IO[str]) -> int:
        store = await open_store(settings)
        try:
            return await _write_rows(rows(store), fields, fmt, out)
        finally:
            await store.close()

    if output == "-":
        count = asyncio.run(work(sys.stdout))
    else:
        with open(output, "w", encoding="utf-8", newline="") as out:
            count = asyncio.run(work(out))
    err_console.print(f"exported {count} {kind}", highlight=False)


ExportFormat = Annotated[str, typer.Option("--format", help="csv or ndjson.")]
Output = Annotated[str, typer.Option("--output", "-o", help="File to write; '-' for stdout.")]


@export_app.command("chargers")
def export_chargers(
    fmt: ExportFormat = "ndjson", output: Output = "-", database_url: DatabaseUrl = None
) -> None:
    """Every charger, by id, in the contract's field names (re-importable as is)."""

    async def rows(store: Store) -> AsyncIterator[dict[str, Any]]:
        async for charger in store.export_chargers():
            yield charger_wire(charger)

    _export("chargers", fmt, output, database_url, rows, CHARGER_FIELDS)


@export_app.command("sessions")
def export_sessions(
    fmt: ExportFormat = "ndjson",
    output: Output = "-",
    charger: Annotated[
        str | None, typer.Option("--charger", help="Only this charger's sessions.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First UTC day (YYYY-MM-DD), inclusive.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last UTC day (YYYY-MM-DD), inclusive.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Sessions (in progress too), by charger then start, in the contract's field names."""
    days = day_range(start, end)
    first, last = (None if d is None else datetime.combine(d, clock_time(), UTC) for d in days)
    # Through the end of that UTC day (the last day there is: no later start to exclude).
    last = None if last is None or last.date() == date.max else last + timedelta(days=1)

    async def rows(store: Store) -> AsyncIterator[dict[str, Any]]:
        async for session in store.export_sessions(charger, first, last):
            yield session_wire(session)

    _export("sessions", fmt, output, database_url, rows, SESSION_FIELDS)
