"""`evshare usage`: requests and refusals per key per UTC day."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from evshare.cli.common import (
    DatabaseUrl,
    console,
    day_range,
    err_console,
    print_json_lines,
    settings_from,
    with_store,
)
from evshare.errors import NoSuchKey
from evshare.limits import UsageRow
from evshare.store import Store


def usage(
    key: Annotated[str | None, typer.Option("--key", help="Only this key.")] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="First UTC day, YYYY-MM-DD (inclusive).")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last UTC day, YYYY-MM-DD (inclusive).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Requests per key per UTC day, and how many of them were refused (429). Servers write
    their counts every few seconds and when they stop, so the last seconds may not show yet."""
    settings = settings_from(database_url=database_url)
    start, end = day_range(first, last)

    async def fetch(store: Store) -> list[UsageRow]:
        if key is not None and await store.get_key(key) is None:
            raise NoSuchKey(key)
        return await store.usage(key, start, end)

    rows = with_store(settings, fetch)
    if as_json:
        print_json_lines(
            {
                "key": row.key_name,
                "day": row.day.isoformat(),
                "requests": row.requests,
                "throttled": row.throttled,
            }
            for row in rows
        )
        return
    if not rows:
        err_console.print("no usage recorded for that selection")
        return
    table = Table("key", "day (UTC)", "requests", "throttled (429)")
    for row in rows:
        table.add_row(row.key_name, row.day.isoformat(), str(row.requests), str(row.throttled))
    if len(rows) > 1:
        table.add_section()
        total = sum(r.requests for r in rows), sum(r.throttled for r in rows)
        table.add_row("total", "", str(total[0]), str(total[1]))
    console.print(table)
