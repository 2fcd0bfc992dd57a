"""Token bucket arithmetic: `rate` tokens per second flow into a bucket that holds `burst`."""

from __future__ import annotations


def level(tokens: float, at: float, now: float, rate: float, burst: int) -> float:
    """Tokens at `now` in a bucket that held `tokens` at `at` (a clock that went back adds none)."""
    return min(float(burst), tokens + max(0.0, now - at) * rate)


def seconds_until(tokens: float, target: float, rate: float) -> float:
    """Seconds until a bucket holding `tokens` holds `target`."""
    return max(0.0, (target - tokens) / rate)
