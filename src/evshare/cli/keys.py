"""`evshare keys`: create, list, revoke and rotate API keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from evshare import keys as key_lifecycle
from evshare.cli.common import (
    DatabaseUrl,
    console,
    err_console,
    now,
    parse_duration,
    parse_moment,
    print_json_lines,
    settings_from,
    with_store,
)
from evshare.cli.plans import require_plan
from evshare.errors import KeyManagementError
from evshare.model import ApiKey
from evshare.store import Store

app = typer.Typer(help="Manage API keys (stored only as hashes).", no_args_is_help=True)


_SCOPE = "Scope: give one of these (required)"


@app.command()
def create(
    name: Annotated[
        str, typer.Option("--name", help="A unique name for the key's holder.", metavar="NAME")
    ],
    chargers: Annotated[
        str | None,
        typer.Option(
            "--chargers",
            help="Comma-separated charger ids it may see.",
            metavar="ID,ID,...",
            rich_help_panel=_SCOPE,
        ),
    ] = None,
    all_chargers: Annotated[
        bool, typer.Option("--all", help="It may see every charger.", rich_help_panel=_SCOPE)
    ] = False,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            help="YYYY-MM-DD (00:00 UTC that day) or an RFC 3339 time. [default: never]",
            metavar="WHEN",
        ),
    ] = None,
    plan: Annotated[
        str | None,
        typer.Option(
            "--plan",
            help="Its usage plan (see `evshare plans list`). [default: the default plan]",
            metavar="PLAN",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key and print it once, alone on standard output. It cannot be shown again.

    Give its scope: `--chargers ID,ID,...` or `--all`."""
    settings = settings_from(database_url=database_url)
    expires_at = None if expires is None else parse_moment(expires, "--expires")
    ids = None if chargers is None else chargers.split(",")

    async def work(store: Store) -> str:
        if plan is not None:
            await require_plan(store, plan)
        return await key_lifecycle.create(
            store,
            name,
            now=now(),
            charger_ids=ids,
            all_chargers=all_chargers,
            expires_at=expires_at,
            plan=plan,
        )

    token = with_store(settings, work)
    err_console.print(f"created key [bold]{name}[/]; store it now, it is not shown again:")
    print(token)


def _status(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now():
        return "expired"
    return "active"


def _scope(key: ApiKey) -> str:
    if key.all_chargers:
        return "all chargers"
    ids = sorted(key.charger_ids)
    shown = ", ".join(ids[:3]) + (f" (+{len(ids) - 3} more)" if len(ids) > 3 else "")
    return f"{len(ids)}: {shown}"


@app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List keys with their scope and status. Secrets are never shown."""
    settings = settings_from(database_url=database_url)
    found = with_store(settings, lambda store: store.list_keys())
    if as_json:
        print_json_lines(
            {
                "name": key.name,
                "status": _status(key),
                "allChargers": key.all_chargers,
                "chargerIds": sorted(key.charger_ids),
                "createdAt": key.created_at.isoformat(),
                "expiresAt": key.expires_at and key.expires_at.isoformat(),
                "revokedAt": key.revoked_at and key.revoked_at.isoformat(),
                "plan": key.plan,
            }
            for key in found
        )
        return
    table = Table("name", "status", "scope", "created", "expires", "plan")
    for key in found:
        table.add_row(
            key.name,
            _status(key),
            _scope(key),
            key.created_at.strftime("%Y-%m-%d %H:%M"),
            key.expires_at.strftime("%Y-%m-%d %H:%M") if key.expires_at else "never",
            key.plan or "(default)",
        )
    console.print(table)


@app.command("set-plan")
def set_plan(
    name: Annotated[str, typer.Argument(help="The key.", metavar="KEY")],
    plan: Annotated[
        str | None,
        typer.Argument(help="The plan to put it on (see `evshare plans list`).", metavar="PLAN"),
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Put it on the default plan instead.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Put a key on a plan, or back on the default plan (EVSHARE_DEFAULT_PLAN) with --default.
    Running servers apply it from the key's next request."""
    if (plan is None) == (not default):
        raise KeyManagementError(
            "give either a PLAN (see `evshare plans list`) or --default, not both or neither"
        )
    settings = settings_from(database_url=database_url)
    with_store(settings, lambda store: store.set_key_plan(name, plan))
    shown = plan or f"the default plan ({settings.default_plan})"
    err_console.print(f"key [bold]{name}[/] is now on {shown}", highlight=False)


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The key to revoke.", metavar="KEY")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: every one of its secrets stops working at once."""
    settings = settings_from(database_url=database_url)
    with_store(settings, lambda store: store.revoke_key(name, now()))
    err_console.print(f"revoked key [bold]{name}[/]")


@app.command()
def rotate(
    name: Annotated[str, typer.Argument(help="The key to rotate.", metavar="KEY")],
    grace: Annotated[
        str,
        typer.Option(
            "--grace",
            help="How long the old secret keeps working: 0 (at once), 30m, 24h, 7d.",
            metavar="DURATION",
        ),
    ] = "24h",
    database_url: DatabaseUrl = None,
) -> None:
    """Give a key a new secret (same name and scope) and print it once on standard output."""
    settings = settings_from(database_url=database_url)
    period = parse_duration(grace, "--grace")
    token = with_store(
        settings, lambda store: key_lifecycle.rotate(store, name, now=now(), grace=period)
    )
    ends = "now" if not period else f"at {(now() + period).isoformat()}"
    err_console.print(f"rotated key [bold]{name}[/]; the old secret stops working {ends}")
    print(token)
