"""Deliberately broken EnergSync providers: a small raw ASGI app whose defects are switched on by
name, served over real HTTP by uvicorn (tests.api.conftest.ServerThread).

With no defect it follows the contract (1.2.0 paging, bare session arrays, errors with `code`,
RateLimit fields); each defect plants one way real providers go wrong. `check` must name each
by its check id, and `collect` must still end with exactly the provider's data where the data
is all there to be had.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

KEY = "good-key"
T0 = datetime(2026, 3, 1, tzinfo=UTC)

DEFECTS = frozenset(
    {
        "wrong_total",  # total off by 3
        "duplicates_across_pages",  # each page repeats the previous page's last charger
        "storm_429",  # the first `storm` requests get 429 with Retry-After: 1
        "storm_429_bare",  # the same without Retry-After nor RateLimit
        "errors_500",  # every third request gets a 500
        "timeouts",  # every fourth request hangs for `hang` seconds
        "bare_arrays",  # GET /chargers answers a 1.0.7 bare array, unpaged
        "missing_optional",  # chargers without optional fields, sessions without duration
        "invalid_json",  # sessions bodies are cut short (always; the first time with `flaky`)
        "wrong_content_type",  # text/plain on JSON bodies
        "exclusive_end",  # endDate is treated as exclusive (the end day is left out)
        "local_day",  # dates are taken as days in America/Edmonton, not UTC
        "in_progress",  # sessions still in progress are served (no endTime)
        "bad_error_bodies",  # errors are plain text, without message/code
        "open",  # 200 without a key
        "unordered",  # sessions newest first
        "no_404",  # an unknown charger is 200 with an empty object
        "no_page_bounds",  # pageSize 0 or 5000 accepted
        "only_repeated_ids",  # comma lists and chargerIds[] ignored
        "page_past_end_404",  # a page past the end is 404
        "no_ratelimit",  # no RateLimit fields
        "null_optional",  # optional charger fields sent as null
        "extra_fields",  # fields the contract does not define
        "bad_types",  # energy as a string, numberOfConnectors as a float
        "unstable_total",  # total changes between pages
        "both_headers_bearer_wins",  # Authorization wins over x-api-key
        "down",  # every request is a 503 with Retry-After: 1
    }
)


def charger(n: int, *, full: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {"id": f"CH-{n}", "name": f"Charger {n}"}
    if full:
        item.update(
            serialNumber=f"SN{n}",
            model="CT4011-GW1",
            manufacturer="ChargePoint",
            maxOutputPower=7200,
            maxAvailableCurrent=30,
            outputVoltage=240,
            numberOfConnectors=2,
            timeZone="America/Edmonton",
            latitude=51.04,
            longitude=-114.07,
            commissioningDate="2021-04-12",
        )
    return item


def sessions_for(charger_id: str, count: int, *, start: datetime = T0) -> list[dict[str, Any]]:
    """`count` sessions, some on UTC day boundaries (00:00:00 and 23:59:59), one every 7 h."""
    out = []
    for i in range(count):
        begin = start + timedelta(hours=7 * i)
        if i % 5 == 1:
            begin = begin.replace(hour=0, minute=0, second=0)
        elif i % 5 == 3:
            begin = begin.replace(hour=23, minute=59, second=59)
        out.append(
            {
                "id": f"{charger_id}-S{i}",
                "chargerId": charger_id,
                "energy": 1000.0 + i,
                "startTime": begin.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endTime": (begin + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "chargingDuration": 3000,
            }
        )
    return sorted(out, key=lambda row: (row["startTime"], row["id"].encode()))


@dataclass
class Provider:
    """An EnergSync provider over `chargers` and `sessions`, with `defects` planted."""

    chargers: list[dict[str, Any]]
    sessions: dict[str, list[dict[str, Any]]]
    defects: frozenset[str] = frozenset()
    storm: int = 6
    hang: float = 3.0
    flaky: bool = False
    delay: float = 0.0  # seconds added to every answer
    requests: int = 0
    in_progress: list[dict[str, Any]] = field(default_factory=list)
    seen_bodies: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        unknown = set(self.defects) - DEFECTS
        assert not unknown, unknown
        self.chargers = sorted(self.chargers, key=lambda c: str(c["id"]).encode())

    @classmethod
    def build(
        cls, chargers: int = 25, sessions: int = 30, defects: Iterable[str] = (), **kw: Any
    ) -> Provider:
        planted = frozenset(defects)
        full = "missing_optional" not in planted
        items = [charger(n, full=full) for n in range(1, chargers + 1)]
        if "null_optional" in planted:
            for item in items:
                item.update(model=None, latitude=None)
        table = {c["id"]: sessions_for(c["id"], sessions) for c in items}
        if "missing_optional" in planted:
            for rows in table.values():
                for row in rows:
                    row.pop("chargingDuration")
        provider = cls(items, table, planted, **kw)
        if "in_progress" in planted:
            first = items[0]["id"]
            last = table[first][-1]
            provider.in_progress = [
                {
                    "id": f"{first}-open",
                    "chargerId": first,
                    "energy": 10.0,
                    "startTime": last["startTime"],
                }
            ]
        return provider

    def has(self, defect: str) -> bool:
        return defect in self.defects

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        status, body, headers = await self.answer(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- answering ---------------------------------------------------------------------------

    def _json(
        self, status: int, value: Any, extra: dict[str, str] | None = None
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        kind = b"text/plain" if self.has("wrong_content_type") else b"application/json"
        headers = [(b"content-type", kind)]
        if not self.has("no_ratelimit") and status != 401:
            headers += [
                (b"ratelimit-policy", b'"burst";q=100;w=1'),
                (b"ratelimit", b'"burst";r=99;t=1'),
            ]
        headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
        return status, orjson.dumps(value), headers

    def _error(
        self, status: int, code: str, message: str, extra: dict[str, str] | None = None
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        if self.has("bad_error_bodies"):
            headers = [(b"content-type", b"text/plain")]
            headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
            return status, message.encode(), headers
        return self._json(status, {"message": message, "code": code}, extra)

    def _authorized(self, headers: dict[str, list[str]]) -> bool:
        if self.has("open"):
            return True
        keys = headers.get("x-api-key", [])
        bearer = [v.removeprefix("Bearer ") for v in headers.get("authorization", [])]
        if len(keys) > 1 or len(bearer) > 1:
            return False
        if self.has("both_headers_bearer_wins") and bearer:
            return bearer == [KEY]
        if keys:
            return keys == [KEY]
        return bearer == [KEY]

    async def answer(  # noqa: PLR0911 - one early answer per planted defect
        self, scope: Scope
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        headers: dict[str, list[str]] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode().lower(), []).append(value.decode())
        n = self.requests
        if self.has("down"):
            return self._error(503, "unavailable", "down", {"Retry-After": "1"})
        if self.has("storm_429") and n <= self.storm:
            return self._error(
                429, "throttled", "slow down", {"Retry-After": "1", "RateLimit": '"b";r=0;t=1'}
            )
        if self.has("storm_429_bare") and n <= self.storm:
            return self._error(429, "throttled", "slow down")
        if self.has("errors_500") and n % 3 == 0:
            return self._error(500, "internal", "boom")
        if self.has("timeouts") and n % 4 == 0:
            await asyncio.sleep(self.hang)
        path = unquote(scope["path"])
        if not self._authorized(headers):
            return self._error(401, "unauthorized", "a valid x-api-key header is required")
        query = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
        if path == "/chargers":
            return self.list_chargers(query)
        if path.startswith("/chargers/"):
            rest = path.removeprefix("/chargers/")
            if rest.endswith("/sessions"):
                return self.list_sessions(rest.removesuffix("/sessions"), query)
            return self.one_charger(rest)
        return self._error(404, "not_found", f"no route {path}")

    def list_chargers(
        self, query: list[tuple[str, str]]
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        ids: list[str] = []
        for name, value in query:
            if name == "chargerIds":
                ids += [value] if self.has("only_repeated_ids") else value.split(",")
            elif name == "chargerIds[]" and not self.has("only_repeated_ids"):
                ids.append(value)
        rows = [c for c in self.chargers if not ids or c["id"] in ids]
        if self.has("bare_arrays"):
            return self._json(200, rows)
        params = dict(query)
        try:
            page = int(params.get("page", "1"))
            size = int(params.get("pageSize", "10"))
        except ValueError:
            return self._error(400, "invalid_parameter", "page and pageSize are integers")
        bounded = self.has("no_page_bounds")
        if page < 1 or (not bounded and not 1 <= size <= 1000):
            return self._error(400, "invalid_parameter", "pageSize: use 1..1000")
        size = max(size, 1)
        first = (page - 1) * size
        if self.has("duplicates_across_pages") and page > 1:
            first -= 1
        chosen = rows[first : first + size]
        total = len(rows)
        if self.has("wrong_total"):
            total += 3
        if self.has("unstable_total"):
            total += page
        if self.has("page_past_end_404") and not chosen and page > 1:
            return self._error(404, "not_found", "no such page")
        if self.has("extra_fields"):
            chosen = [{**c, "vendorNote": "x"} for c in chosen]
        if self.has("bad_types"):
            chosen = [{**c, "numberOfConnectors": 2.5} for c in chosen]
        return self._json(200, {"chargers": chosen, "total": total})

    def one_charger(self, charger_id: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        for item in self.chargers:
            if item["id"] == charger_id:
                return self._json(200, item)
        if self.has("no_404"):
            return self._json(200, {})
        return self._error(404, "not_found", f"no charger {charger_id}")

    def list_sessions(
        self, charger_id: str, query: list[tuple[str, str]]
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        if charger_id not in self.sessions:
            if self.has("no_404"):
                return self._json(200, [])
            return self._error(404, "not_found", f"no charger {charger_id}")
        params = dict(query)
        try:
            first = date.fromisoformat(params["startDate"]) if "startDate" in params else None
            last = date.fromisoformat(params["endDate"]) if "endDate" in params else None
        except ValueError:
            return self._error(400, "invalid_parameter", "startDate/endDate: use YYYY-MM-DD")
        if first is not None and last is not None and first > last:
            return self._error(400, "invalid_parameter", "startDate is after endDate")
        shift = timedelta(hours=-7) if self.has("local_day") else timedelta(0)
        rows = []
        for row in self.sessions[charger_id] + [
            s for s in self.in_progress if s["chargerId"] == charger_id
        ]:
            day = (datetime.fromisoformat(row["startTime"]) + shift).date()
            if first is not None and day < first:
                continue
            if last is not None and (day > last or (self.has("exclusive_end") and day == last)):
                continue
            rows.append(row)
        if self.has("unordered"):
            rows = rows[::-1]
        if self.has("extra_fields"):
            rows = [{**r, "vendorNote": "x"} for r in rows]
        if self.has("bad_types"):
            rows = [{**r, "energy": str(r["energy"])} for r in rows]
        status, body, headers = self._json(200, rows)
        if self.has("invalid_json"):
            key = f"{charger_id}?{sorted(query)}"
            if not self.flaky or key not in self.seen_bodies:
                self.seen_bodies.add(key)
                body = body[: len(body) // 2]
        return status, body, headers

    # -- what a collect should end with -------------------------------------------------

    def expected_sessions(self) -> dict[str, list[dict[str, Any]]]:
        return self.sessions
