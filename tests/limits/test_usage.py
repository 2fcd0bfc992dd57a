from __future__ import annotations

from datetime import date

from evshare.limits.usage import UsageCounter
from evshare.model import UsageRow

MON, TUE = date(2024, 1, 1), date(2024, 1, 2)


def test_counts_requests_and_refusals_per_key_and_day() -> None:
    counter = UsageCounter()
    for throttled in (False, True, False, True, True):
        counter.record("beta", MON, throttled=throttled)
    counter.record("alpha", TUE, throttled=False)
    counter.record("alpha", MON, throttled=False)
    assert counter.drain() == [
        UsageRow("alpha", MON, requests=1, throttled=0),
        UsageRow("alpha", TUE, requests=1, throttled=0),
        UsageRow("beta", MON, requests=5, throttled=3),
    ]


def test_drain_starts_over() -> None:
    counter = UsageCounter()
    counter.record("alpha", MON, throttled=True)
    assert counter.drain() == [UsageRow("alpha", MON, requests=1, throttled=1)]
    assert counter.drain() == []
    counter.record("alpha", MON, throttled=False)
    assert counter.drain() == [UsageRow("alpha", MON, requests=1, throttled=0)]


def test_restore_counts_again_what_a_failed_flush_took() -> None:
    counter = UsageCounter()
    counter.record("alpha", MON, throttled=True)
    counter.record("beta", MON, throttled=False)
    taken = counter.drain()
    counter.record("alpha", MON, throttled=False)
    counter.restore(taken)
    assert counter.drain() == [
        UsageRow("alpha", MON, requests=2, throttled=1),
        UsageRow("beta", MON, requests=1, throttled=0),
    ]
