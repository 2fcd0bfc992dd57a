"""What every command shares: options, settings, running a coroutine against the store."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console

from evshare.config import Settings, load_settings
from evshare.errors import ConfigError
from evshare.store import Store, open_store

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///PATH, postgresql://... or dynamodb://TABLE?region=R "
        "[env: EVSHARE_DATABASE_URL; "
        "default: sqlite:///evshare.db]",
        show_default=False,
    ),
]


def settings_from(**overrides: Any) -> Settings:
    return load_settings(**overrides)


def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store, run `work`, close the store; one event loop per command."""

    async def run() -> T:
        store = await open_store(settings)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


_DURATION = re.compile(r"(\d+)\s*([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str) -> timedelta:
    """`0`, `90s`, `30m`, `24h`, `7d`."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"{option}: {text!r} is not a duration; use e.g. 0, 90s, 30m, 24h or 7d")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str | None, option: str) -> date | None:
    """A UTC day given as YYYY-MM-DD (None when the option was not given)."""
    if text is None:
        return None
    if _DAY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ConfigError(f"{option}: {text!r} is not a date; use YYYY-MM-DD, e.g. 2027-01-31")


def day_range(first: str | None, last: str | None) -> tuple[date | None, date | None]:
    """`--from` and `--to` as UTC days, refused when --from is after --to."""
    start, end = parse_day(first, "--from"), parse_day(last, "--to")
    if start is not None and end is not None and start > end:
        raise ConfigError(f"--from {start.isoformat()} is after --to {end.isoformat()}")
    return start, end


def print_json_lines(items: Iterable[dict[str, Any]]) -> None:
    """One JSON object a line on standard output, for scripts."""
    for item in items:
        print(orjson.dumps(item).decode())


def parse_moment(text: str, option: str) -> datetime:
    """A date (`2027-01-31`: 00:00 UTC that day) or an RFC 3339 date-time with an offset."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ConfigError(
            f"{option}: {text!r} is not a date (YYYY-MM-DD) or a date-time with a time zone "
            "(e.g. 2027-01-31T12:00:00Z)"
        )
    return moment.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
