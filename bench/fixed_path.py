"""What each part of the fixed request path costs, in microseconds, in-process.

    .venv/bin/python bench/fixed_path.py [--database-url sqlite:////abs/evshare.db] [-n 20000]

Without --database-url it builds a small SQLite store of its own (20 chargers x 2,000 sessions).
Each part is timed alone, the way the app calls it, on the app's own objects; then whole
requests through the ASGI app (a no-op `send`, no server, no socket) for the detail and the
one-month sessions endpoints. "dispatch and the rest" is a whole request less its parts:
routing, the ASGI messages, error handling, header lists. Times are CPU-bound Python on one
core and vary with machine load; the printed load average says how busy the machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evshare import keys
from evshare.api import auth, params
from evshare.api.accesslog import BufferedAccessLog, LoggingAccessLog
from evshare.api.app import EnergSyncApp
from evshare.config import load_settings
from evshare.model import Charger, Plan, Session
from evshare.store import Visibility, open_store, schema


def _timed(n: int, call: Callable[[], object]) -> float:
    began = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - began) / n * 1e6


async def _timed_async(n: int, call: Callable[[], Awaitable[object]]) -> float:
    began = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - began) / n * 1e6


async def _seed(url: str) -> str:
    store = await open_store(load_settings(database_url=url))
    try:
        start = datetime(2024, 1, 1, tzinfo=UTC)
        await store.upsert_chargers([Charger(id=f"CH-{i:03d}", name=f"c{i}") for i in range(20)])
        await store.upsert_sessions(
            [
                Session(
                    id=f"S-{i:06d}",
                    charger_id=f"CH-{i % 20:03d}",
                    start_time=start + timedelta(hours=8 * i / 20),
                    end_time=start + timedelta(hours=8 * i / 20, minutes=45),
                    energy_wh=12000.5,
                    charging_duration_s=2700,
                )
                for i in range(40_000)
            ]
        )
        await store.create_plan(Plan("bench", rate=1e6, burst=1_000_000))
        return await keys.create(
            store, "bench", now=datetime.now(UTC), all_chargers=True, plan="bench"
        )
    finally:
        await store.close()


async def measure(  # noqa: PLR0915 - one straight list of measurements reads best
    url: str, token: str, charger: str, n: int
) -> list[tuple[str, float]]:
    app = EnergSyncApp(load_settings(database_url=url))
    await app.startup()
    store = app.store
    rows: list[tuple[str, float]] = []
    try:
        header = token.encode()
        lookup = keys.lookup_id_of(token) or ""
        credential = await store.find_credential(lookup)
        plan = await app._plans.resolve(credential.plan if credential else None)
        if credential is None or plan is None:
            raise SystemExit("the key is not in the database, or its plan limits nothing")
        visibility = Visibility(credential.key_name, credential.all_chargers)
        month = b"startDate=2024-02-01&endDate=2024-02-29"

        def headers() -> object:
            scope_headers = [(b"host", b"127.0.0.1:8000"), (b"x-api-key", header)]
            found = None
            for name, value in scope_headers:
                if name == b"x-api-key":
                    found = value
            return found, next(app._request_ids)

        rows.append(("headers scan + request id", _timed(n, headers)))
        rows.append(
            (
                "auth: token from header, well-formed",
                _timed(n, lambda: keys.lookup_id_of(auth.presented_token(header, None) or "")),
            )
        )
        rows.append(
            (
                "auth: credential (cache, change check)",
                await _timed_async(n, lambda: store.find_credential(lookup)),
            )
        )
        now = datetime.now(UTC)
        rows.append(
            ("auth: SHA-256 + compare", _timed(n, lambda: keys.accepts(credential, token, now)))
        )
        rows.append(
            ("plan: resolve", await _timed_async(n, lambda: app._plans.resolve(credential.plan)))
        )
        rows.append(
            (
                "plan: limiter admit (memory)",
                await _timed_async(n, lambda: app.limiter.admit("b", plan)),
            )
        )
        rows.append(
            ("usage counting", _timed(n, lambda: app._usage.record("b", app._today(), False)))
        )
        rows.append(
            (
                "query parsing (month)",
                _timed(n, lambda: params.session_query(params.parse_query(month))),
            )
        )
        window = params.session_query(params.parse_query(month))
        rows.append(
            (
                "store: charger document",
                await _timed_async(n, lambda: store.charger_json(visibility, charger)),
            )
        )
        rows.append(
            (
                "store: one month of sessions",
                await _timed_async(
                    max(n // 10, 100),
                    lambda: store.sessions_json(visibility, charger, window.start, window.end),
                ),
            )
        )
        fields = ("GET", "/chargers/CH-001", "", 200, 0.4, "bench", "0123456789abcdef" * 2)
        with open(os.devnull, "w") as sink:  # noqa: ASYNC230 - opening /dev/null never blocks
            handler = logging.StreamHandler(sink)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            logger = logging.getLogger("evshare.access")
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
            through_logging = LoggingAccessLog()
            rows.append(
                (
                    "access log via logging (before)",
                    _timed(n, lambda: through_logging.request(*fields)),
                )
            )
            buffered = BufferedAccessLog(sink.fileno())

            def buffered_line() -> None:
                buffered.request(*fields)

            rows.append(("access log, buffered (now)", _timed(n, buffered_line)))
            buffered.flush()

            async def send(_message: MutableMapping[str, Any]) -> None:
                return None

            app._access = buffered

            def request(path: str, query: bytes) -> Callable[[], Awaitable[None]]:
                scope = {
                    "type": "http",
                    "method": "GET",
                    "path": path,
                    "raw_path": path.encode(),
                    "query_string": query,
                    "headers": [(b"host", b"127.0.0.1:8000"), (b"x-api-key", header)],
                }
                return lambda: app(scope, _receive, send)

            detail = await _timed_async(n, request(f"/chargers/{charger}", b""))
            sessions = await _timed_async(
                max(n // 10, 100), request(f"/chargers/{charger}/sessions", month)
            )
            buffered.flush()
            logger.removeHandler(handler)
        parts = sum(v for name, v in rows if name.startswith(("headers", "auth", "plan", "usage")))
        rows.append(("whole request: /chargers/{id}", detail))
        rows.append(("whole request: sessions, one month", sessions))
        charger_doc = next(v for name, v in rows if name == "store: charger document")
        buffered_cost = next(v for name, v in rows if name == "access log, buffered (now)")
        rows.append(
            ("dispatch and the rest (detail)", detail - parts - charger_doc - buffered_cost)
        )
    finally:
        await app.shutdown()
    return rows


async def _receive() -> MutableMapping[str, Any]:
    return {"type": "http.disconnect"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--key", help="a key of that database; without it, the database is seeded")
    parser.add_argument("--charger", default="CH-001")
    parser.add_argument("-n", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url, token, charger = args.database_url, args.key, args.charger
        if url is None:
            url = f"sqlite:///{Path(scratch) / 'evshare.db'}"
            schema.upgrade(url)
        if token is None:  # seeds an empty database (a given one must be at the schema's head)
            token = asyncio.run(_seed(url))
        rows = asyncio.run(measure(url, token, charger, args.n))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; n={args.n}")
    print("| part | us per request |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")


if __name__ == "__main__":
    main()
