"""`evshare db`: schema migrations."""

from __future__ import annotations

import typer

from evshare.cli.common import DatabaseUrl, console, settings_from
from evshare.store import schema

app = typer.Typer(help="Create and migrate the database schema.", no_args_is_help=True)


@app.command()
def upgrade(database_url: DatabaseUrl = None) -> None:
    """Bring the database schema to the version this evshare needs (safe to repeat)."""
    settings = settings_from(database_url=database_url)
    before = schema.state(settings.database_url, settings.db_connect_timeout).current
    after = schema.upgrade(settings.database_url, settings.db_connect_timeout)
    if before == after.current:
        console.print(f"schema already at {after.current}")
    else:
        console.print(f"schema upgraded from {before or 'empty'} to {after.current}")


@app.command()
def current(database_url: DatabaseUrl = None) -> None:
    """Show the schema version of the database and whether it is up to date."""
    settings = settings_from(database_url=database_url)
    found = schema.state(settings.database_url, settings.db_connect_timeout)
    status = "up to date" if found.up_to_date else "out of date: run `evshare db upgrade`"
    console.print(f"schema {found.current or 'empty'} (this evshare needs {found.head}): {status}")
    if settings.database_url.startswith("dynamodb://") and found.current is not None:
        from evshare.store.dynamodb.schema import interrupted_imports

        for import_id, stage in interrupted_imports(settings.database_url):
            console.print(
                f"import {import_id} was interrupted while {stage}: "
                + (
                    "run `evshare db upgrade` (or any import) to finish it"
                    if stage == "committing"
                    else "nothing of it is visible; its staged rows expire, or re-run the import"
                ),
                highlight=False,
            )
    if not found.up_to_date:
        raise typer.Exit(1)
