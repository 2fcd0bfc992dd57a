"""`evshare audit`: what a verifier would raise before signing, from the stored data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.table import Table

from evshare import audit as audit_mod
from evshare.cli.common import DatabaseUrl, console, settings_from
from evshare.store.analytics import Analytics


def audit(
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    examples: Annotated[
        bool, typer.Option("--examples/--no-examples", help="Show examples in the table.")
    ] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Check the stored chargers and sessions as a verifier would: energy beyond a charger's
    power, overlapping sessions beyond its connectors, zero, negative or absurd energy and
    durations, sessions in the future or before commissioning, the same charging counted twice,
    chargers missing coordinates, serial numbers or time zones, busy chargers gone silent.

    Each finding has a stable id, a severity, a count and examples. Exit status 1 when any
    error-level finding has a count above zero, 0 otherwise."""
    settings = settings_from(database_url=database_url)
    with Analytics.open(settings.database_url) as store:
        findings = audit_mod.run(store, datetime.now(UTC))
    failed = audit_mod.has_errors(findings)
    if as_json:
        typer.echo(
            orjson.dumps(
                {
                    "ok": not failed,
                    "errors": sum(f.count for f in findings if f.severity == "error"),
                    "warnings": sum(f.count for f in findings if f.severity == "warning"),
                    "findings": [f.as_dict() for f in findings],
                },
                option=orjson.OPT_INDENT_2,
                default=str,
            ).decode()
        )
    else:
        table = Table("id", "severity", "count", "finding", title="evshare audit")
        for f in findings:
            colour = (
                "red" if f.severity == "error" and f.count else ("yellow" if f.count else "green")
            )
            table.add_row(f.id, f"[{colour}]{f.severity}[/]", str(f.count), f.title)
        console.print(table)
        if examples:
            for f in findings:
                if f.count:
                    console.print(f"[bold]{f.id}[/] ({f.count}): {f.note}".rstrip(": "))
                    for example in f.examples:
                        console.print("  " + ", ".join(f"{k}={v}" for k, v in example.items()))
        console.print("FAILED: error-level findings" if failed else "OK: no error-level finding")
    if failed:
        raise typer.Exit(1)
