"""`evshare credits`: CFR and BC low carbon fuel credits - a what-if calculator (`estimate`),
the credits of the stored sessions, a self-contained HTML report and the Schedule 11 export."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

import orjson
import typer
from rich.table import Table

from evshare.cli.common import console, err_console
from evshare.credits import ParameterError, calc
from evshare.credits.parameters import PROGRAMS, Program
from evshare.errors import ConfigError

app = typer.Typer(
    help="Clean Fuel Regulations (CFR) and BC low carbon fuel credits from charging energy.",
    no_args_is_help=False,
    invoke_without_command=True,
)

ProgramOption = Annotated[
    str | None,
    typer.Option("--program", help="cfr (Clean Fuel Regulations) or bc-lcfs (B.C.)."),
]
RoleOption = Annotated[
    str,
    typer.Option(
        "--role", help="CFR creator: host (s. 101, charging-site host) or network (s. 102)."
    ),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """A parameter the tables cannot serve is the user's to fix: one line, no traceback."""
    try:
        yield
    except ParameterError as exc:
        raise ConfigError(str(exc)) from None


def parse_program(value: str | None) -> Program:
    if value is None:
        raise ConfigError("--program is required: cfr or bc-lcfs")
    for program in PROGRAMS:
        if value.lower() == program:
            return program
    raise ConfigError(f"--program: {value!r} is not a program; use cfr or bc-lcfs")


def parse_role(value: str) -> calc.Role:
    if value == "host":
        return "host"
    if value == "network":
        return "network"
    raise ConfigError(f"--role: {value!r} is not a role; use host or network")


def parse_decimal(option: str, value: str) -> Decimal:
    try:
        number = Decimal(value.replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise ConfigError(f"{option}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ConfigError(f"{option}: {value!r} is not a finite number")
    return number


_YEARS = re.compile(r"(\d{4})(?:-(\d{4}))?")


def parse_years(year: int | None, years: str | None) -> list[int]:
    if (year is None) == (years is None):
        raise ConfigError("give one of --year Y or --years Y1-Y2")
    if year is not None:
        return [year]
    assert years is not None  # noqa: S101 - checked just above
    match = _YEARS.fullmatch(years.strip())
    if match is None:
        raise ConfigError(f"--years: {years!r} is not a range; use e.g. 2024-2026")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if last < first:
        raise ConfigError(f"--years: {years!r} ends before it starts")
    return list(range(first, last + 1))


def _print_result(result: calc.Result, as_json: bool) -> None:
    if as_json:
        typer.echo(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(
        "period",
        "province",
        "kWh",
        "EER",
        "CI_ref" if result.program == "cfr" else "TCI",
        "CI_e",
        "exact",
        "credits",
        title=f"{result.program}: estimate",
    )
    for line in result.lines:
        table.add_row(
            line.period,
            line.province,
            f"{line.kwh:,.3f}",
            str(line.eer.value),
            str(line.target.value),
            str(line.ci_e.value),
            f"{line.exact:.5f}",
            str(line.rounded),
        )
    console.print(table)
    console.print(f"total: {result.total} (exact {result.exact_total:.5f})")
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


@app.command("estimate")
def estimate(
    province: Annotated[str, typer.Option("--province", help="Two-letter code, e.g. ON.")],
    kwh: Annotated[str, typer.Option("--kwh", help="Energy per year, kWh.")],
    program: ProgramOption = None,
    year: Annotated[int | None, typer.Option("--year", help="One compliance year.")] = None,
    years: Annotated[str | None, typer.Option("--years", help="A range, e.g. 2024-2026.")] = None,
    period: Annotated[
        str | None,
        typer.Option("--period", help="One compliance period instead, e.g. 2023-H2 (CFR)."),
    ] = None,
    eer: Annotated[
        str | None, typer.Option("--eer", help="Elected EER (default: bundled).")
    ] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="bc-lcfs: gasoline, diesel or jet.")
    ] = None,
    end_use: Annotated[
        str | None,
        typer.Option("--end-use", help="bc-lcfs: e.g. 'Light duty motor vehicles'."),
    ] = None,
    role: RoleOption = "host",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What-if: the credits a yearly energy would make, period by period, with no data needed.

    CFR periods shorter than a year (2022 from 21 June; 2023's two halves) get the share of the
    year's energy that falls in them, spread evenly over the days; --period PERIOD puts all of
    --kwh in that one period instead.
    """
    chosen = parse_program(program)
    energy = parse_decimal("--kwh", kwh)
    if period is not None:
        if year is not None or years is not None:
            raise ConfigError("give --period alone, without --year or --years")
        span: list[int] = []
    else:
        span = parse_years(year, years)
    if chosen == "bc-lcfs" and period is not None and not period.isdigit():
        raise ConfigError(f"--period: {period!r} is not a BC compliance year (e.g. 2025)")
    with user_errors():
        result = calc.estimate(
            chosen,
            province,
            energy,
            span,
            role=parse_role(role),
            eer=None if eer is None else parse_decimal("--eer", eer),
            category=None if category is None else category.lower(),
            end_use=end_use,
            period=period,
        )
    _print_result(result, as_json)


Format = Literal["table", "csv", "json"]
