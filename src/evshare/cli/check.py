"""`evshare check URL`: is this EnergSync provider right? A report any provider can run on itself
before handing out a key, and an aggregator on a provider before collecting from it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from evshare.cli.common import console
from evshare.errors import ConfigError

PROFILES = ("auto", "1.2.0", "1.0.7")


def key_from(key: str | None, key_env: str | None) -> tuple[str, str]:
    """The key, and how curl lines refer to it (never the key itself)."""
    if key is not None and key_env is not None:
        raise ConfigError("give --key or --key-env, not both")
    if key_env is not None:
        value = os.environ.get(key_env)
        if not value:
            raise ConfigError(
                f"--key-env {key_env}: the environment variable {key_env} is not set or empty; "
                f"export {key_env}=<key> first"
            )
        return value, f"${key_env}"
    if key is None:
        raise ConfigError(
            "no key: pass --key-env NAME (the key stays out of shell history and ps) or --key KEY"
        )
    return key, "$EVSHARE_CHECK_KEY"


def quiet_retry_logs() -> None:
    """The commands count retries themselves; stamina's log lines would only interleave."""
    import stamina.instrumentation

    stamina.instrumentation.set_on_retry_hooks([])


def check(
    url: Annotated[str, typer.Argument(help="The provider's base URL, e.g. https://x/default.")],
    key: Annotated[
        str | None, typer.Option("--key", help="The API key (prefer --key-env).")
    ] = None,
    key_env: Annotated[
        str | None,
        typer.Option("--key-env", help="Read the key from this environment variable."),
    ] = None,
    profile: Annotated[
        str, typer.Option("--profile", help="auto (detect), 1.2.0 or 1.0.7.")
    ] = "auto",
    max_requests: Annotated[
        int, typer.Option("--max-requests", help="Send at most this many requests in all.")
    ] = 200,
    charger: Annotated[
        str | None, typer.Option("--charger", help="Focus the charger checks on this id.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each answer.")
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write a JUnit XML report to FILE.")
    ] = None,
) -> None:
    """Check an EnergSync provider against the contract: authentication, schemas, paging,
    chargerIds forms, 404s, date semantics, ordering, error bodies, content type, rate-limit
    fields, latency. Each finding has an id, a severity, a curl line that shows it and a fix.
    Exit status 0 only when no finding is an error."""
    if profile not in PROFILES:
        raise ConfigError(f"--profile {profile!r}: use auto, 1.2.0 or 1.0.7")
    if max_requests < 1:
        raise ConfigError(f"--max-requests {max_requests}: give at least 1")
    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout}: give a number of seconds above 0")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"URL {url!r}: give the provider's base URL, starting http(s)://")
    if junit is not None and not junit.parent.exists():
        raise ConfigError(f"--junit {junit}: the folder {junit.parent} does not exist")
    secret, reference = key_from(key, key_env)
    quiet_retry_logs()

    from evshare.client.check import run_check
    from evshare.client.check.render import junit as write_junit
    from evshare.client.check.render import rich_report

    report = asyncio.run(
        run_check(
            url,
            secret,
            profile=profile,
            max_requests=max_requests,
            charger=charger,
            request_timeout=timeout,
            key_reference=reference,
        )
    )
    if junit is not None:
        write_junit(report, junit)
    if as_json:
        import orjson

        sys.stdout.write(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        rich_report(report, console)
    raise typer.Exit(0 if report.ok else 1)
