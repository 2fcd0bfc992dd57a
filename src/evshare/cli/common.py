"""What every command shares: options, settings, output, running a coroutine against the store.

Errors need nothing from a command: raise an EvshareError (or let an OS, database or URL error
escape) and cli/failures.py reports it in one line naming the user's flag and value.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console

from evshare.config import Settings, default_of, load_settings
from evshare.errors import ConfigError
from evshare.store import Store, open_store

T = TypeVar("T")


def _console(*, stderr: bool) -> Console:
    """Rich output that never wraps a line it writes to a pipe or file (a URL or a key split over
    two lines cannot be pasted); on a terminal, tables still fit the window."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=4096)


console = _console(stderr=False)
err_console = _console(stderr=True)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 session`, `2 sessions`, `0 sessions`."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def setting_option(name: str, help: str, *, metavar: str, flag: str | None = None) -> Any:
    """A CLI option for the setting `name` (a field of `Settings`): it reads EVSHARE_<NAME> from
    the environment, shows that variable and the setting's default in --help, and its value is
    None when neither was given, so `settings_from` leaves the setting to its default."""
    default = default_of(name)
    shown = (
        default
        if isinstance(default, str) and default
        else ("" if default is None else str(default).lower())
    )
    return typer.Option(
        flag or "--" + name.replace("_", "-"),
        help=help,
        metavar=metavar,
        envvar=f"EVSHARE_{name.upper()}",
        show_envvar=True,
        show_default=shown or False,
    )


DatabaseUrl = Annotated[
    str | None,
    setting_option(
        "database_url",
        "The database: sqlite:///FILE (relative), sqlite:////FILE (absolute), "
        "postgresql://USER@HOST/DB or dynamodb://TABLE?region=REGION.",
        metavar="URL",
    ),
]


def ensure_writable(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work is done, a file that cannot be written: a folder, or a file in a
    folder that does not exist. Raised as the OSError writing would raise, so that the one-line
    report names the option that gave the path (see cli/failures.py)."""
    text = os.fspath(path)
    if os.path.isdir(text):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), text)
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), text)
    if not os.access(parent, os.W_OK) or (os.path.exists(text) and not os.access(text, os.W_OK)):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), text)


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
