"""The `evshare` command. Each verb group lives in its own module; this one assembles them and
turns evshare errors into a one-line message and exit status 1 — never a traceback for a user
error."""

from __future__ import annotations

import sys

import typer

from evshare.cli import aws, credits, db, identity, keys, plans
from evshare.cli.audit import audit
from evshare.cli.check import check
from evshare.cli.collect import collect
from evshare.cli.common import err_console
from evshare.cli.demo import demo
from evshare.cli.imports import export_app, import_app
from evshare.cli.serve import serve
from evshare.cli.usage import usage
from evshare.errors import EvshareError

app = typer.Typer(
    name="evshare",
    help="Serve, load and consume the EnergSync API (EV chargers and charging sessions).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve)
app.command("demo")(demo)
app.add_typer(keys.app, name="keys")
app.add_typer(plans.app, name="plans")
app.command("usage")(usage)
app.add_typer(db.app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(credits.app, name="credits")
app.add_typer(identity.app, name="identity")
app.command("audit")(audit)
app.command("check")(check)
app.command("collect")(collect)
app.add_typer(aws.app, name="aws")


def main() -> None:
    try:
        app()
    except EvshareError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
