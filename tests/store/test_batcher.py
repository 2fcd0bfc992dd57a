"""The batcher that lets concurrent requests share a PostgreSQL statement, with a fetch of our
own that records what it was asked and can be held open: who goes together, who waits, who is
answered what, and what a failure or a cancelled request does to the others. (Against a real
database: tests/postgres/test_batches.py.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

import pytest

from evshare.errors import Unavailable
from evshare.store.postgres.batches import Batcher

pytestmark = pytest.mark.anyio

VALUES = {"a": 1, "b": 2, "c": 3}


class Fetch:
    """Answers from VALUES; records each statement's keys; `hold` keeps statements open."""

    def __init__(self, error: Exception | None = None) -> None:
        self.statements: list[list[str]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.started = asyncio.Event()
        self.error = error

    async def __call__(self, keys: Sequence[str]) -> Mapping[str, int]:
        self.statements.append(list(keys))
        self.started.set()
        await self.hold.wait()
        if self.error is not None:
            raise self.error
        return {k: VALUES[k] for k in keys if k in VALUES}


async def held(
    most: int, patience: float = 60.0
) -> tuple[Fetch, Batcher[str, int], asyncio.Task[int | None]]:
    """A batcher whose first statement, asking for "a", is running and held open."""
    fetch = Fetch()
    fetch.hold.clear()
    batcher = Batcher(fetch, most=most, patience=patience)
    first = asyncio.create_task(batcher.get("a"))
    await fetch.started.wait()
    return fetch, batcher, first


async def test_requests_waiting_together_share_one_statement() -> None:
    fetch = Fetch()
    batcher = Batcher(fetch, most=2)
    answers = await asyncio.gather(*(batcher.get(k) for k in ["a", "b", "a", "missing", "c"]))
    assert answers == [1, 2, 1, None, 3]
    # One statement, each key once.
    assert fetch.statements == [["a", "b", "missing", "c"]]


async def test_a_lone_request_goes_at_once_and_alone() -> None:
    fetch = Fetch()
    batcher = Batcher(fetch, most=1)
    assert await batcher.get("a") == 1
    assert await batcher.get("b") == 2
    assert fetch.statements == [["a"], ["b"]]


async def test_beyond_the_limit_requests_wait_and_then_go_together() -> None:
    fetch, batcher, first = await held(most=1)
    # The one statement allowed is running: these wait for it, then share the next.
    later = [asyncio.create_task(batcher.get(k)) for k in ["b", "c", "b"]]
    await asyncio.sleep(0.01)
    assert fetch.statements == [["a"]]
    fetch.hold.set()
    assert await first == 1
    assert [await t for t in later] == [2, 3, 2]
    assert fetch.statements == [["a"], ["b", "c"]]


async def test_one_statement_at_a_time_while_it_is_quick() -> None:
    fetch, batcher, first = await held(most=4)
    later = [asyncio.create_task(batcher.get(k)) for k in ["b", "c"]]
    await asyncio.sleep(0.05)
    assert fetch.statements == [["a"]]  # within its patience: the others wait
    fetch.hold.set()
    assert [await first, *[await t for t in later]] == [1, 2, 3]
    assert fetch.statements == [["a"], ["b", "c"]]


async def test_a_slow_statement_does_not_hold_the_next_back() -> None:
    fetch = Fetch()
    fetch.hold.clear()
    slow_fetch = fetch.__call__

    async def only_a_is_slow(keys: Sequence[str]) -> Mapping[str, int]:
        if "a" in keys:
            return await slow_fetch(keys)
        fetch.statements.append(list(keys))
        return {k: VALUES[k] for k in keys}

    batcher = Batcher(only_a_is_slow, most=2, patience=0.02)
    slow = asyncio.create_task(batcher.get("a"))
    await fetch.started.wait()
    began = time.perf_counter()
    # Sent beside the slow one once it has run its patience, and answered while it still runs.
    assert await asyncio.wait_for(batcher.get("b"), timeout=5) == 2
    assert time.perf_counter() - began >= 0.015
    assert not slow.done()
    fetch.hold.set()
    assert await slow == 1
    assert fetch.statements == [["a"], ["b"]]


async def test_slow_is_judged_against_the_statements_of_late() -> None:
    """Under load every statement carries a big batch and takes long: that alone is no reason
    to send another beside it. Only one far slower than those of late is."""
    durations: dict[str, float] = {}

    async def timed(keys: Sequence[str]) -> Mapping[str, int]:
        await asyncio.sleep(durations.get(keys[0], 0.02))
        return dict.fromkeys(keys, 0)

    batcher = Batcher(timed, most=2, patience=0.001)
    for i in range(10):  # lately: 20 ms each
        await batcher.get(f"warm-{i}")
    durations["slow"] = 5.0
    slow = asyncio.create_task(batcher.get("slow"))
    await asyncio.sleep(0.001)
    began = time.perf_counter()
    await batcher.get("next")
    waited = time.perf_counter() - began
    # Not sent at the 1 ms patience, nor as late as the slow one ends: once it had run about
    # four times the recent 20 ms (an average still rising towards them: 13 ms).
    assert 0.03 < waited < 1.0
    assert not slow.done()
    await batcher.close()
    assert slow.cancelled()


async def test_never_more_statements_at_once_than_the_most() -> None:
    fetch, batcher, first = await held(most=1, patience=0.001)
    second = asyncio.create_task(batcher.get("b"))
    await asyncio.sleep(0.05)  # fifty times its patience: still waiting for the one running
    assert fetch.statements == [["a"]]
    fetch.hold.set()
    assert (await first, await second) == (1, 2)


async def test_a_request_never_joins_a_statement_already_sent() -> None:
    """What a request is answered was read after it arrived (a key revoked before a request
    arrives is refused): the same key asked while its statement runs goes in the next one."""
    fetch, batcher, first = await held(most=4)
    second = asyncio.create_task(batcher.get("a"))
    await asyncio.sleep(0.01)
    fetch.hold.set()
    assert (await first, await second) == (1, 1)
    assert fetch.statements == [["a"], ["a"]]


async def test_a_failed_statement_fails_each_of_its_requests_and_the_next_goes_on() -> None:
    fetch = Fetch(Unavailable("the database cannot answer: down"))
    batcher = Batcher(fetch, most=1)
    results = await asyncio.gather(batcher.get("a"), batcher.get("b"), return_exceptions=True)
    assert [type(r) for r in results] == [Unavailable, Unavailable]
    assert "down" in str(results[0])
    fetch.error = None
    assert await batcher.get("c") == 3


async def test_a_cancelled_request_leaves_the_others_their_answer() -> None:
    fetch = Fetch()
    fetch.hold.clear()
    batcher = Batcher(fetch, most=1)
    gone = asyncio.create_task(batcher.get("a"))
    stays = asyncio.create_task(batcher.get("a"))
    await fetch.started.wait()
    gone.cancel()
    await asyncio.sleep(0)
    fetch.hold.set()
    assert await stays == 1
    assert gone.cancelled()


async def test_closing_cancels_the_statements_running_and_their_requests() -> None:
    _, batcher, waiting = await held(most=1)
    await batcher.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
