"""The evshare app in-process (its real lifespan and request path, no socket) over each store,
seeded with a small data set built to sit on every edge the contract names. `ServerThread`
serves it over real HTTP (uvicorn) for the few tests that need a socket."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from evshare import keys
from evshare.api.app import create_app
from evshare.config import load_settings
from evshare.model import Charger, Session
from evshare.store import open_store
from tests.servers import InProcess

T0 = datetime(2021, 1, 1, tzinfo=UTC)

# Byte order puts upper case before lower case and ASCII before UTF-8 multi-byte characters.
CHARGERS = [
    Charger(
        id="CH-001",
        name="Calgary L2",
        serial_number="SN-1",
        model="CT4011-GW1",
        manufacturer="ChargePoint",
        max_output_power_w=7200,
        max_available_current_a=30,
        output_voltage_v=240,
        number_of_connectors=2,
        time_zone="America/Edmonton",
        latitude=51.0447,
        longitude=-114.0719,
        commissioning_date=date(2021, 4, 12),
    ),
    Charger(id="CH-002", name="Minimal charger"),
    *(Charger(id=f"CH-{n:03d}", name=f"Charger {n}") for n in range(3, 13)),
    Charger(id="ch-lower", name="lower case id"),
    Charger(id="Zeta", name="capital Z"),
    Charger(id="slash/id", name="an id with a slash"),
    Charger(id="Électrique", name="non-ASCII id"),
]
ALL_IDS = sorted(c.id for c in CHARGERS)  # Python's str order is code-point order = UTF-8 order


def _session(sid: str, charger: str, start: datetime, minutes: int | None, **extra: Any) -> Session:
    end = None if minutes is None else start + timedelta(minutes=minutes)
    return Session(
        id=sid,
        charger_id=charger,
        start_time=start,
        end_time=end,
        energy_wh=extra.get("energy", 12000.5),
        charging_duration_s=extra.get("duration", 3600),
    )


SESSIONS = [
    _session("s-before", "CH-001", datetime(2021, 1, 31, 23, 59, 59, tzinfo=UTC), 60),
    _session("s-first", "CH-001", datetime(2021, 2, 1, 0, 0, 0, tzinfo=UTC), 60),
    _session("s-b", "CH-001", datetime(2021, 2, 10, 12, 0, 0, tzinfo=UTC), 90),
    _session("s-a", "CH-001", datetime(2021, 2, 10, 12, 0, 0, tzinfo=UTC), 30, duration=None),
    _session("s-last", "CH-001", datetime(2021, 2, 28, 23, 59, 59, tzinfo=UTC), 60),
    _session("s-after", "CH-001", datetime(2021, 3, 1, 0, 0, 0, tzinfo=UTC), 60),
    _session("s-open", "CH-001", datetime(2021, 2, 15, 8, 0, 0, tzinfo=UTC), None),
    _session("s-other", "CH-002", datetime(2021, 2, 10, 9, 0, 0, tzinfo=UTC), 45, energy=5000),
    _session("s-slash", "slash/id", datetime(2021, 2, 11, 9, 0, 0, tzinfo=UTC), 45),
]
SCOPED_CHARGERS = ["CH-002", "CH-005", "Zeta", "not-yet-imported"]


@dataclass(frozen=True)
class Keys:
    all: str
    scoped: str
    revoked: str
    rotated_old: str
    rotated_new: str


@dataclass(frozen=True)
class Live:
    app: InProcess
    keys: Keys
    database_url: str

    def client(self, key: str | None = None) -> httpx.Client:
        return self.app.client(key)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.app.get(path, **kwargs)


async def seed(database_url: str) -> Keys:
    store = await open_store(load_settings(database_url=database_url))
    try:
        await store.upsert_chargers(CHARGERS)
        await store.upsert_sessions(SESSIONS)
        now = datetime.now(UTC)
        made = {
            name: await keys.create(store, name, now=now, all_chargers=True)
            for name in ("all", "revoked", "rotated")
        }
        scoped = await keys.create(store, "scoped", now=now, charger_ids=SCOPED_CHARGERS)
        await store.revoke_key("revoked", now)
        rotated_new = await keys.rotate(store, "rotated", now=now, grace=timedelta(0))
    finally:
        await store.close()
    return Keys(made["all"], scoped, made["revoked"], made["rotated"], rotated_new)


class ServerThread:
    """uvicorn in a thread with its own event loop, on a free port."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def serve(database_url: str, **settings: Any) -> ServerThread:
    """The app on a real uvicorn server in a thread."""
    return ServerThread(create_app(load_settings(database_url=database_url, **settings)))


def in_process(database_url: str, **settings: Any) -> InProcess:
    return InProcess(create_app(load_settings(database_url=database_url, **settings)))


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    seeded = asyncio.run(seed(database_url))
    with in_process(database_url) as app:
        yield Live(app, seeded, database_url)
