"""`evshare collect`: pull chargers and sessions from EnergSync providers into the store."""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from evshare.cli.common import (
    DatabaseUrl,
    console,
    err_console,
    parse_day,
    parse_duration,
    settings_from,
    with_store,
)
from evshare.errors import ConfigError

if TYPE_CHECKING:
    from evshare.client.collect import CollectOptions, Source, SourceSummary
    from evshare.store import Store


def _overlap(text: str, option: str) -> timedelta:
    span = parse_duration(text, option)
    if span.total_seconds() % 86400:
        raise ConfigError(f"{option}: {text!r}: give whole days, e.g. 7d (or 0)")
    return span


def _sources(
    name: str | None,
    url: str | None,
    sources_file: Path | None,
    key_env: str | None,
    profile: str,
    since: str | None,
    concurrency: int,
) -> list[Source]:
    from evshare.client.collect.sources import (
        Source,
        check_concurrency,
        check_name,
        check_profile,
        check_url,
        load_sources,
    )

    if sources_file is not None:
        if name is not None or url is not None:
            raise ConfigError("give --sources FILE, or NAME URL for one provider, not both")
        return load_sources(sources_file, _overlap)
    if name is None or url is None:
        raise ConfigError(
            "nothing to collect: give --sources sources.toml, or NAME URL --key-env VAR"
        )
    return [
        Source(
            name=check_name(name, "NAME"),
            url=check_url(url, "URL"),
            key_env=key_env,
            profile=check_profile(profile, "--profile"),
            concurrency=check_concurrency(concurrency, "--concurrency"),
            since=parse_day(since, "--since"),
        )
    ]


def _keys(sources: list[Source]) -> dict[str, str | None]:
    """Every source's key, read before anything starts: a missing one is a setup error."""
    keys: dict[str, str | None] = {}
    for source in sources:
        if source.key_env is None:
            keys[source.name] = None
            continue
        value = os.environ.get(source.key_env)
        if not value:
            raise ConfigError(
                f"source {source.name!r}: the environment variable {source.key_env} "
                f"(key_env) is not set or empty; export {source.key_env}=<key>"
            )
        keys[source.name] = value
    return keys


class _Lines:
    """Progress as plain lines on stderr (not a terminal): at most one per source every 5 s."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def __call__(self, summary: SourceSummary) -> None:
        now = time.monotonic()
        finished = summary.seconds > 0
        if not finished and now - self._last.get(summary.source, 0.0) < 5:
            return
        self._last[summary.source] = now
        state = summary.status if finished else "collecting"
        print(
            f"{summary.source}: {state}: {summary.chargers_done}/{summary.chargers} chargers, "
            f"{summary.sessions} sessions ({summary.sessions_new} new), "
            f"{summary.requests} requests",
            file=sys.stderr,
            flush=True,
        )


def _table(summaries: list[SourceSummary]) -> Table:
    table = Table(
        "source",
        "status",
        "chargers",
        "new",
        "updated",
        "same",
        "gone",
        "requests",
        "retries",
        "429s",
        "errors",
        "s",
        title="evshare collect: sessions new, updated, unchanged (same) and vanished (gone)",
    )
    for s in summaries:
        style = {"ok": "green", "partial": "yellow", "failed": "bold red"}[s.status]
        table.add_row(
            s.source,
            f"[{style}]{s.status}[/]",
            f"{s.chargers_done}/{s.chargers}",
            str(s.sessions_new),
            str(s.sessions_updated),
            str(s.sessions_unchanged),
            str(s.sessions_vanished),
            str(s.requests),
            str(s.retries),
            str(s.throttled),
            str(len(s.errors)),
            f"{s.seconds:.1f}",
        )
    return table


def collect(
    name: Annotated[
        str | None, typer.Argument(help="A name for one provider (part of collected ids).")
    ] = None,
    url: Annotated[str | None, typer.Argument(help="That provider's base URL.")] = None,
    sources_file: Annotated[
        Path | None,
        typer.Option("--sources", help="A TOML file with one [[source]] table per provider."),
    ] = None,
    key_env: Annotated[
        str | None,
        typer.Option("--key-env", help="With NAME URL: the environment variable with the key."),
    ] = None,
    profile: Annotated[
        str, typer.Option("--profile", help="With NAME URL: auto, 1.2.0 or 1.0.7.")
    ] = "auto",
    since: Annotated[
        str | None,
        typer.Option("--since", help="With NAME URL: the first UTC day to collect (YYYY-MM-DD)."),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", help="With NAME URL: requests in flight to the provider."),
    ] = 4,
    total_concurrency: Annotated[
        int, typer.Option("--total-concurrency", help="Requests in flight across all sources.")
    ] = 16,
    overlap: Annotated[
        str,
        typer.Option("--overlap", help="Re-read this many days before each watermark (e.g. 7d)."),
    ] = "7d",
    keep_vanished: Annotated[
        bool,
        typer.Option(
            "--keep-vanished", help="Report sessions a provider no longer has; do not delete them."
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each answer.")
    ] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Pull chargers and sessions from EnergSync providers into the local store.

    Collected ids are `SOURCE:ID` (sessions `SOURCE:CHARGER:ID`). Each run re-reads each
    charger's sessions from its watermark less --overlap, upserts what is new or changed and
    reports (and deletes, unless --keep-vanished) what vanished. Safe to kill and re-run.
    Exit status 1 if any source failed or was only partly collected."""
    from evshare.cli.check import quiet_retry_logs
    from evshare.client.collect import CollectOptions, Collector

    span = _overlap(overlap, "--overlap")
    if not 1 <= total_concurrency <= 1024:
        raise ConfigError(f"--total-concurrency {total_concurrency}: give 1 to 1024")
    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout}: give a number of seconds above 0")
    sources = _sources(name, url, sources_file, key_env, profile, since, concurrency)
    keys = _keys(sources)
    settings = settings_from(database_url=database_url)
    options = CollectOptions(
        overlap=span,
        total_concurrency=total_concurrency,
        keep_vanished=keep_vanished,
        request_timeout=timeout,
    )
    quiet_retry_logs()

    async def run(store: Store) -> list[SourceSummary]:
        if err_console.is_terminal:
            return await _with_bars(store, options, keys, sources)
        return await Collector(store, options, keys, _Lines()).run(sources)

    summaries = with_store(settings, run)
    if as_json:
        import orjson

        sys.stdout.write(
            orjson.dumps(
                {"sources": [s.as_json() for s in summaries]}, option=orjson.OPT_INDENT_2
            ).decode()
            + "\n"
        )
    else:
        console.print(_table(summaries))
        for s in summaries:
            for error in s.errors[:5]:
                err_console.print(f"[red]{s.source}:[/] {error}", highlight=False, soft_wrap=True)
            if len(s.errors) > 5:
                err_console.print(f"{s.source}: {len(s.errors) - 5} more error(s); see --json")
            if s.changed or s.vanished:
                err_console.print(
                    f"{s.source}: changed {s.changed[:5]}, vanished {s.vanished[:5]}",
                    highlight=False,
                    soft_wrap=True,
                )
    raise typer.Exit(0 if all(s.status == "ok" for s in summaries) else 1)


async def _with_bars(
    store: Store, options: CollectOptions, keys: dict[str, str | None], sources: list[Source]
) -> list[SourceSummary]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from evshare.client.collect import Collector

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[sessions]} sessions"),
        console=err_console,
    ) as bars:
        tasks = {s.name: bars.add_task(s.name, total=None, sessions=0) for s in sources}

        def show(summary: SourceSummary) -> None:
            bars.update(
                tasks[summary.source],
                completed=summary.chargers_done,
                total=summary.chargers or None,
                sessions=summary.sessions,
                description=f"{summary.source} {summary.status if summary.seconds else ''}",
            )

        return await Collector(store, options, keys, show).run(sources)
