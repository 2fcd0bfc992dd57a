"""`evshare demo`: a database with believable data and a key, ready to curl."""

from __future__ import annotations

from datetime import timedelta
from itertools import islice
from typing import Annotated

import typer

from evshare import keys as key_lifecycle
from evshare.cli.common import (
    DatabaseUrl,
    console,
    err_console,
    now,
    plural,
    settings_from,
    with_store,
)
from evshare.errors import KeyManagementError
from evshare.store import Store, schema

DEMO_KEY = "demo"
_BATCH = 20_000


class _RealData(Exception):
    def __init__(self, others: list[str]) -> None:
        super().__init__()
        self.others = others


async def _load_and_key(store: Store, allow_real_data: bool) -> tuple[int, int, str]:
    """Load the demo set into an empty database; (re)mint the demo key, unless the database
    holds chargers that are not the demo set's (then only with `allow_real_data`)."""
    from evshare import demo

    chargers = sessions = 0
    # Yesterday: the last full UTC day, so no session lies in the future.
    data = demo.generate(end=now().date() - timedelta(days=1))
    present = set(await store.charger_zones())
    others = sorted(present - {c.id for c in data.chargers})
    if others and not allow_real_data:
        raise _RealData(others)
    if not present:
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
    port: Annotated[
        int, typer.Option(help="Port used in the printed curl line.", metavar="PORT")
    ] = 8000,
    allow_real_data: Annotated[
        bool,
        typer.Option(
            "--allow-real-data",
            help="Mint the demo key even though the database holds chargers that are not the "
            "demo set's: the key sees every charger, real ones too.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create the schema, load demo chargers and a year of sessions if the database is empty,
    and print a fresh demo key (it sees every charger) with a ready-to-paste curl line.

    On a database that holds other chargers it refuses, unless --allow-real-data is given."""
    settings = settings_from(database_url=database_url)
    schema.upgrade(settings.database_url, settings.db_connect_timeout)
    try:
        chargers, sessions, token = with_store(
            settings, lambda store: _load_and_key(store, allow_real_data)
        )
    except _RealData as refused:
        shown = ", ".join(refused.others[:3]) + (", ..." if len(refused.others) > 3 else "")
        raise KeyManagementError(
            f"the database holds {plural(len(refused.others), 'charger')} "
            f"that {'is' if len(refused.others) == 1 else 'are'} not demo data "
            f"({shown}), and a demo key would see every one of them: create a key with its own "
            "scope with `evshare keys create`, use another --database-url for the demo, or pass "
            "--allow-real-data"
        ) from None
    if chargers:
        err_console.print(
            f"loaded demo data: {plural(chargers, 'charger')}, {plural(sessions, 'session')}"
        )
    else:
        err_console.print("the database already has the demo chargers: demo data not reloaded")
    base = f"http://127.0.0.1:{port}{settings.root_path}"
    console.print(f"demo API key (all chargers): [bold]{token}[/]")
    console.print("try:")
    console.print(f"  curl -s -H 'x-api-key: {token}' '{base}/chargers?pageSize=3'")
