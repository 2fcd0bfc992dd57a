"""`evshare demo`: a database with believable data and a key, ready to curl."""

from __future__ import annotations

from datetime import timedelta
from itertools import islice
from typing import Annotated

import typer

from evshare import keys as key_lifecycle
from evshare.cli.common import DatabaseUrl, console, err_console, now, settings_from, with_store
from evshare.store import Store, schema

DEMO_KEY = "demo"
_BATCH = 20_000


async def _load_and_key(store: Store) -> tuple[int, int, str]:
    """Load the demo set into an empty database; (re)mint the demo key."""
    from evshare import demo

    chargers = sessions = 0
    if await store.count_chargers() == 0:
        # Yesterday: the last full UTC day, so no session lies in the future.
        data = demo.generate(end=now().date() - timedelta(days=1))
        await store.upsert_chargers(data.chargers)
        chargers = len(data.chargers)
        stream = data.sessions()
        while batch := list(islice(stream, _BATCH)):
            await store.upsert_sessions(batch)
            sessions += len(batch)
    if await store.get_key(DEMO_KEY) is None:
        token = await key_lifecycle.create(store, DEMO_KEY, now=now(), all_chargers=True)
    else:
        # Only hashes are stored, so the old demo secret cannot be shown: mint a new one.
        token = await key_lifecycle.rotate(store, DEMO_KEY, now=now(), grace=timedelta(0))
    return chargers, sessions, token


def demo(
    port: Annotated[int, typer.Option(help="Port used in the printed curl line.")] = 8000,
    database_url: DatabaseUrl = None,
) -> None:
    """Create the schema, load demo chargers and a year of sessions if the database is empty,
    and print a fresh demo key with a ready-to-paste curl line."""
    settings = settings_from(database_url=database_url)
    schema.upgrade(settings.database_url, settings.db_connect_timeout)
    chargers, sessions, token = with_store(settings, _load_and_key)
    if chargers:
        err_console.print(f"loaded demo data: {chargers} chargers, {sessions} sessions")
    else:
        err_console.print("the database already has chargers: demo data not loaded")
    base = f"http://127.0.0.1:{port}{settings.root_path}"
    console.print(f"demo API key (all chargers): [bold]{token}[/]", highlight=False)
    console.print("try:", highlight=False)
    console.print(
        f"  curl -s -H 'x-api-key: {token}' '{base}/chargers?pageSize=3'",
        highlight=False,
        soft_wrap=True,
    )
