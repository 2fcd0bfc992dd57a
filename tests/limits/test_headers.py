from __future__ import annotations

from evshare.limits.headers import LimitState, rate_limit_headers


def test_contract_example() -> None:
    headers = rate_limit_headers(
        [
            LimitState("burst", quota=20, window=2, remaining=19, reset=1),
            LimitState("month", quota=100_000, window=2_592_000, remaining=99_999, reset=86_400),
        ]
    )
    assert headers == {
        "RateLimit-Policy": '"burst";q=20;w=2, "month";q=100000;w=2592000',
        "RateLimit": '"burst";r=19;t=1',
    }


def test_reports_the_limit_with_least_remaining() -> None:
    headers = rate_limit_headers(
        [
            LimitState("burst", quota=20, window=2, remaining=19, reset=1),
            LimitState("day", quota=100, window=86_400, remaining=3, reset=600),
        ]
    )
    assert headers["RateLimit"] == '"day";r=3;t=600'


def test_a_tie_reports_the_quota() -> None:
    headers = rate_limit_headers(
        [
            LimitState("burst", quota=5, window=5, remaining=0, reset=5),
            LimitState("week", quota=10, window=604_800, remaining=0, reset=1000),
        ]
    )
    assert headers["RateLimit"] == '"week";r=0;t=1000'


def test_a_single_limit() -> None:
    headers = rate_limit_headers([LimitState("day", quota=7, window=86_400, remaining=6, reset=9)])
    assert headers == {"RateLimit-Policy": '"day";q=7;w=86400', "RateLimit": '"day";r=6;t=9'}


def test_no_limits_no_headers() -> None:
    assert rate_limit_headers([]) == {}
