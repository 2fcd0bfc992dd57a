"""The `evshare` command. Each verb group lives in its own module; this one assembles them.

Every command runs inside `failures.EvshareGroup`, which turns whatever it raises into one line
on stderr and an exit status (never a traceback for a user error): a new command needs nothing
special, see cli/failures.py. `helptext.install()` makes `--help` show metavars and defaults.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated

import typer

from evshare.cli import aws, credits, db, helptext, identity, keys, plans
from evshare.cli.audit import audit
from evshare.cli.check import check
from evshare.cli.collect import collect
from evshare.cli.demo import demo
from evshare.cli.failures import EvshareGroup
from evshare.cli.imports import export_app, import_app
from evshare.cli.serve import serve
from evshare.cli.usage import usage

helptext.install()

app = typer.Typer(
    name="evshare",
    cls=EvshareGroup,
    help="Serve, load and consume the EnergSync API (EV chargers and charging sessions).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)


def _version(value: bool) -> None:
    if value:
        try:
            shown = package_version("evshare")
        except PackageNotFoundError:  # running from a source tree that was never installed
            shown = "unknown"
        print(f"evshare {shown}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Show the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """Serve, load and consume the EnergSync API (EV chargers and charging sessions).

    Every command has --help (or -h). Settings such as --database-url also come from EVSHARE_*
    environment variables; each command's --help names the variable beside the option."""


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
    app()
