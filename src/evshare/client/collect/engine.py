"""Pulling chargers and sessions from many providers into the local store.

Identity: a collected charger is stored as `<source>:<id>` and its sessions as
`<source>:<charger id>:<session id>`, so two providers' CH-1 never collide, a provider's session
ids need only be unique per charger, and serving, export and credits need nothing new. The
`collected_chargers` table records each one's source and id there, and its watermark.

Incremental and resumable: each charger's sessions are read from `watermark - overlap` (or
`since`, or all of them the first time) and compared with what is stored there: new and changed
sessions are upserted, sessions stored in the window that the provider no longer returns are
deleted (reported as vanished), and only then is the watermark moved to the run's day. Every step
is idempotent and the watermark moves last, so a run killed at any instant (SIGKILL included)
leaves work the next run redoes, never data doubled or lost.

Memory is bounded by the chargers in flight (the source's concurrency) times the largest answer
allowed (`max_bytes`): a larger answer is abandoned as it streams and its date range halved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from evshare.client.collect.sources import Source
from evshare.client.errors import AuthRejected, BadResponse, ProviderError
from evshare.client.http import EnergSyncClient, ResponseTooLarge
from evshare.model import MAX_ID_LENGTH, Charger, Session
from evshare.store import Store

FIRST_DAY = date(1970, 1, 1)
REPORTED_IDS = 20

Status = Literal["ok", "partial", "failed"]


@dataclass
class SourceSummary:
    """What one run did for one source."""

    source: str
    url: str
    status: Status = "ok"
    profile: str = "auto"
    chargers: int = 0
    chargers_new: int = 0
    chargers_updated: int = 0
    chargers_unchanged: int = 0
    chargers_done: int = 0
    sessions_new: int = 0
    sessions_updated: int = 0
    sessions_unchanged: int = 0
    sessions_vanished: int = 0
    changed: list[str] = field(default_factory=list)  # the first few updated session ids
    vanished: list[str] = field(default_factory=list)  # the first few vanished session ids
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def sessions(self) -> int:
        return self.sessions_new + self.sessions_updated + self.sessions_unchanged

    def as_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "url": self.url,
            "status": self.status,
            "profile": self.profile,
            "chargers": {
                "seen": self.chargers,
                "new": self.chargers_new,
                "updated": self.chargers_updated,
                "unchanged": self.chargers_unchanged,
                "collected": self.chargers_done,
            },
            "sessions": {
                "new": self.sessions_new,
                "updated": self.sessions_updated,
                "unchanged": self.sessions_unchanged,
                "vanished": self.sessions_vanished,
            },
            "changedIds": self.changed,
            "vanishedIds": self.vanished,
            "requests": self.requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[SourceSummary], None]


@dataclass(frozen=True)
class CollectOptions:
    overlap: timedelta = timedelta(days=7)
    total_concurrency: int = 16
    keep_vanished: bool = False
    max_bytes: int = 64 * 1024 * 1024
    request_timeout: float = 30.0
    budget: float = 120.0
    today: date | None = None  # the run's UTC day (tests pin it)


class Collector:
    def __init__(
        self,
        store: Store,
        options: CollectOptions,
        keys: dict[str, str | None],
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.options = options
        self.keys = keys
        self.progress: Progress = progress or _quiet
        self.today = options.today or datetime.now(UTC).date()
        self._overall = asyncio.Semaphore(options.total_concurrency)

    async def run(self, sources: Sequence[Source]) -> list[SourceSummary]:
        """Collect every source at once; one failing never stops the others."""
        return list(await asyncio.gather(*(self.source(s) for s in sources)))

    async def source(self, source: Source) -> SourceSummary:
        summary = SourceSummary(source.name, source.url, profile=source.profile)
        began = time.monotonic()
        api = EnergSyncClient(
            source.url,
            self.keys.get(source.name),
            profile=source.profile,
            concurrency=source.concurrency,
            limiter=self._overall,
            timeout=self.options.request_timeout,
            budget=self.options.budget,
        )
        try:
            await self._source(source, api, summary)
        except AuthRejected as exc:
            summary.status = "failed"
            summary.errors.append(str(exc))
        except ProviderError as exc:
            summary.status = "failed"
            summary.errors.append(f"listing chargers: {exc}")
        finally:
            await api.aclose()
            summary.profile = api.profile
            summary.requests = api.stats.requests
            summary.retries = api.stats.retries
            summary.throttled = api.stats.throttled
            summary.seconds = time.monotonic() - began
            self.progress(summary)
        return summary

    async def _source(self, source: Source, api: EnergSyncClient, summary: SourceSummary) -> None:
        known = await self.store.collected_chargers(source.name)
        slots = asyncio.Semaphore(source.concurrency)
        running: set[asyncio.Task[None]] = set()
        prefix = f"{source.name}:"
        try:
            async for served in api.iter_chargers():
                page = _storable(served, summary)
                counts = await self.store.upsert_chargers(
                    [replace(c, id=prefix + c.id) for c in page]
                )
                await self.store.record_collected(
                    source.name, [(c.id, prefix + c.id) for c in page], int(time.time())
                )
                summary.chargers += len(page)
                summary.chargers_new += counts.inserted
                summary.chargers_updated += counts.updated
                summary.chargers_unchanged += counts.unchanged
                self.progress(summary)
                for charger in page:
                    mark = known[charger.id].watermark if charger.id in known else None
                    await slots.acquire()
                    task = asyncio.create_task(
                        self._charger(source, api, summary, charger.id, mark)
                    )
                    running.add(task)
                    task.add_done_callback(running.discard)
                    task.add_done_callback(lambda _: slots.release())
        finally:
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    def _first_day(self, source: Source, watermark: date | None) -> date | None:
        if watermark is not None:
            return watermark - (source.overlap or self.options.overlap)
        return source.since

    async def _charger(
        self,
        source: Source,
        api: EnergSyncClient,
        summary: SourceSummary,
        remote_id: str,
        watermark: date | None,
    ) -> None:
        local = f"{source.name}:{remote_id}"
        vanished: list[str] = []
        windows: list[tuple[date | None, date | None]] = [
            (self._first_day(source, watermark), None)
        ]
        try:
            while windows:
                first, last = windows.pop(0)
                try:
                    sessions = await api.sessions_as(
                        remote_id,
                        first,
                        last,
                        max_bytes=self.options.max_bytes,
                        prefix=f"{local}:",
                        local_charger=local,
                    )
                except ResponseTooLarge:
                    windows[:0] = self._halves(first, last, remote_id)
                    continue
                _check_ids(sessions, len(local) + 1)
                vanished += await self._window(summary, local, first, last, sessions)
            if self.options.keep_vanished:
                vanished = []
            await self.store.finish_collected(source.name, remote_id, self.today, vanished)
        except ProviderError as exc:
            summary.status = "partial"
            summary.errors.append(f"charger {remote_id}: {exc}")
            return
        summary.chargers_done += 1
        self.progress(summary)

    def _halves(
        self, first: date | None, last: date | None, remote_id: str
    ) -> list[tuple[date | None, date | None]]:
        low = first or FIRST_DAY
        high = last or self.today
        if high <= low:
            raise ResponseTooLarge(
                f"charger {remote_id}: the sessions of one day ({low}) pass "
                f"{self.options.max_bytes} bytes"
            )
        middle = low + (high - low) // 2
        return [(first, middle), (middle + timedelta(days=1), last)]

    async def _window(
        self,
        summary: SourceSummary,
        local: str,
        first: date | None,
        last: date | None,
        sessions: list[Session],
    ) -> list[str]:
        """Store one window's sessions; the ids of stored ones the provider no longer has."""
        start = None if first is None else _midnight(first)
        end = None if last is None else _midnight(last) + timedelta(days=1)
        stored = await self.store.stored_sessions(local, start, end)
        # An id served twice counts once, the last one winning.
        fresh = {session.id: session for session in sessions}
        if stored:
            writes = []
            new = changed = 0
            for sid, session in fresh.items():
                before = stored.get(sid)
                if before is None:
                    new += 1
                    writes.append(session)
                elif before != session:
                    changed += 1
                    writes.append(session)
                    if len(summary.changed) < REPORTED_IDS:
                        summary.changed.append(sid)
        else:  # the first collect of this range: everything is new
            writes, new, changed = list(fresh.values()), len(fresh), 0
        if writes:
            await self.store.upsert_sessions(writes)
        summary.sessions_new += new
        summary.sessions_updated += changed
        summary.sessions_unchanged += len(fresh) - new - changed
        # A day's margin inside each bounded edge: a provider whose days are not UTC days
        # serves sessions near an edge in the next window, not gone.
        low = None if start is None else start + timedelta(days=1)
        high = None if end is None else end - timedelta(days=1)
        gone = [
            sid
            for sid, before in stored.items()
            if sid not in fresh
            and (low is None or before.start_time >= low)
            and (high is None or before.start_time < high)
        ]
        summary.sessions_vanished += len(gone)
        summary.vanished += gone[: max(REPORTED_IDS - len(summary.vanished), 0)]
        return gone


_TOO_LONG = f"longer than {MAX_ID_LENGTH} characters, which evshare does not store"


def _storable(chargers: Sequence[Charger], summary: SourceSummary) -> list[Charger]:
    """The chargers whose ids evshare can store; the others reported (see model.MAX_ID_LENGTH)."""
    kept = []
    for charger in chargers:
        if len(charger.id) > MAX_ID_LENGTH:
            summary.status = "partial"
            summary.errors.append(f"charger {charger.id:.40}...: its id is {_TOO_LONG}")
        else:
            kept.append(charger)
    return kept


def _check_ids(sessions: list[Session], prefix: int) -> None:
    """BadResponse if a session's id, as the provider gave it (after `prefix` characters of
    ours), is longer than evshare stores (see model.MAX_ID_LENGTH): the charger's sessions are
    left as they were, and the charger reported, rather than the store refusing the write."""
    for session in sessions:
        if len(session.id) - prefix > MAX_ID_LENGTH:
            raise BadResponse(f"a session's id is {_TOO_LONG}: {session.id[prefix:]:.40}...")


def _quiet(summary: SourceSummary) -> None:
    del summary


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
