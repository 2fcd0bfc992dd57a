"""`evshare credits`: CFR and BC low carbon fuel credits - a what-if calculator (`estimate`),
the credits of the stored sessions, a self-contained HTML report and the Schedule 11 export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from evshare.cli.common import DatabaseUrl, console, err_console, settings_from
from evshare.credits import ParameterError, calc, places
from evshare.credits import ledger as ledger_mod
from evshare.credits.parameters import PROGRAMS, Program, Sourced
from evshare.errors import ConfigError
from evshare.store.analytics import Analytics

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


@dataclass(frozen=True, slots=True)
class _Options:
    program: Program
    year: int
    role: calc.Role
    eers: dict[str, Sourced]
    source: str | None
    category: str | None
    end_use: str | None
    bc_eer: Sourced | None


def _options(
    program: str | None,
    year: int | None,
    role: str,
    eer: list[str] | None,
    source: str | None,
    category: str | None,
    end_use: str | None,
) -> _Options:
    chosen = parse_program(program)
    if year is None:
        raise ConfigError("--year is required, e.g. --year 2024")
    elections: dict[str, Sourced] = {}
    bc_eer: Sourced | None = None
    for item in eer or []:
        name, sep, value = item.partition("=")
        if chosen == "bc-lcfs" and not sep:
            bc_eer = Sourced("EER elected", parse_decimal("--eer", item), "unconfirmed", "--eer")
            continue
        if not sep or not name.strip():
            raise ConfigError(f"--eer: {item!r} is not CLASS=R, e.g. --eer light-duty=2.5")
        elections[name.strip()] = Sourced(
            f"EER {name.strip()} (elected)",
            parse_decimal("--eer", value),
            "unconfirmed",
            "elected by the operator with --eer",
        )
    if chosen == "cfr" and (category or end_use):
        raise ConfigError("--category/--end-use apply to --program bc-lcfs only")
    if chosen == "bc-lcfs" and elections:
        raise ConfigError("--eer for bc-lcfs is one ratio (--eer 3.4), not CLASS=R")
    return _Options(
        chosen,
        year,
        parse_role(role),
        elections,
        source,
        None if category is None else category.lower(),
        end_use,
        bc_eer,
    )


def compute(database_url: str, options: _Options) -> ledger_mod.Ledger:
    """Place and time every charger, let the store sum the sessions per bucket, build the
    ledger."""
    with Analytics.open(database_url) as store, user_errors():
        facts = store.chargers()
        if options.source is not None:
            known = store.sources()
            if options.source not in known:
                raise ConfigError(
                    f"--source: no charger comes from {options.source!r}; known: "
                    f"{', '.join(known)} ('local': the operator's own, not collected)"
                )
            facts = [f for f in facts if f.source == options.source]
        placements = places.place_all([(f.province, f.latitude, f.longitude) for f in facts])
        stations = [
            ledger_mod.Station(
                id=f.id,
                name=f.name,
                serial_number=f.serial_number,
                latitude=f.latitude,
                longitude=f.longitude,
                placement=placement,
                zone=places.zone_for(f.time_zone, f.latitude, f.longitude),
            )
            for f, placement in zip(facts, placements, strict=True)
        ]
        buckets = ledger_mod.plan(options.program, options.year, stations)
        energy = [
            ledger_mod.Energy(e.charger_id, e.key, e.sessions, e.wh)
            for e in store.energy_by_bucket(buckets)
        ]
        return ledger_mod.build(
            options.program,
            options.year,
            stations,
            energy,
            role=options.role,
            eers=options.eers,
            category=options.category,
            end_use=options.end_use,
            bc_eer=options.bc_eer,
        )


def _ledger_dict(ledger: ledger_mod.Ledger) -> dict[str, object]:
    return {
        "program": ledger.program,
        "year": ledger.year,
        "role": ledger.role if ledger.program == "cfr" else None,
        "total": str(ledger.result.total),
        "exact": str(ledger.result.exact_total),
        "kwh_counted": str(ledger.counted_kwh),
        "kwh_not_counted": str(ledger.uncounted_kwh),
        "lines": [line.as_dict() for line in ledger.result.lines],
        "provinces": [
            {"province": p, "kwh": str(kwh), "credits": str(credits)}
            for p, (kwh, credits) in ledger.by_province.items()
        ],
        "stations": [
            {
                "station": s.station.id,
                "name": s.station.name,
                "province": s.station.placement.province,
                "province_how": s.station.placement.how,
                "province_note": s.station.placement.note,
                "time_zone": s.station.zone.name,
                "time_zone_how": s.station.zone.how,
                "sessions": s.sessions,
                "kwh": str(s.kwh),
                "exact": str(s.exact),
                "counted": s.counted,
                "reason": s.reason,
            }
            for s in ledger.stations
        ],
        "months": {m: str(k) for m, k in ledger.by_month.items()},
        "parameters": [p.as_dict() for p in ledger.result.parameters],
        "warnings": list(ledger.warnings),
    }


def _print_ledger(ledger: ledger_mod.Ledger, fmt: str) -> None:
    if fmt == "json":
        typer.echo(orjson.dumps(_ledger_dict(ledger), option=orjson.OPT_INDENT_2).decode())
        return
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ["level", "id", "province", "period", "sessions", "kwh", "exact", "credits"]
        )
        for s in ledger.stations:
            writer.writerow(
                [
                    "station",
                    s.station.id,
                    s.station.placement.province or "",
                    "",
                    s.sessions,
                    f"{s.kwh:.3f}",
                    f"{s.exact:.5f}",
                    "" if s.counted else f"not counted: {s.reason}",
                ]
            )
        for line in ledger.result.lines:
            writer.writerow(
                [
                    "line",
                    line.section,
                    line.province,
                    line.period,
                    "",
                    f"{line.kwh:.3f}",
                    f"{line.exact:.5f}",
                    line.rounded,
                ]
            )
        writer.writerow(
            [
                "total",
                ledger.program,
                "",
                str(ledger.year),
                "",
                f"{ledger.counted_kwh:.3f}",
                f"{ledger.result.exact_total:.5f}",
                ledger.result.total,
            ]
        )
        typer.echo(out.getvalue(), nl=False)
        return
    stations = Table(
        "station",
        "province",
        "sessions",
        "kWh",
        "exact credits",
        "counted",
        title=f"{ledger.program} {ledger.year}: by station",
    )
    for s in ledger.stations:
        stations.add_row(
            s.station.id,
            f"{s.station.placement.province or '-'} ({s.station.placement.how})",
            f"{s.sessions:,}",
            f"{s.kwh:,.3f}",
            f"{s.exact:,.5f}",
            "yes" if s.counted else f"no: {s.reason}",
        )
    console.print(stations)
    lines = Table(
        "period",
        "province",
        "section",
        "kWh",
        "EER",
        "exact",
        "credits",
        title=f"{ledger.program} {ledger.year}: by province (rounded per aggregate)",
    )
    for line in ledger.result.lines:
        lines.add_row(
            line.period,
            line.province,
            line.section,
            f"{line.kwh:,.3f}",
            str(line.eer.value),
            f"{line.exact:,.5f}",
            str(line.rounded),
        )
    console.print(lines)
    console.print(
        f"total: {ledger.result.total} (exact {ledger.result.exact_total:.5f}) from "
        f"{ledger.counted_kwh:,.3f} kWh; {ledger.uncounted_kwh:,.3f} kWh not counted"
    )
    for warning in ledger.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


EerOption = Annotated[
    list[str] | None,
    typer.Option(
        "--eer",
        help="cfr: an elected EER per vehicle class, CLASS=R (repeatable; default light-duty=2.5); "
        "bc-lcfs: one ratio R (needed before 2024).",
    ),
]
YearOption = Annotated[int | None, typer.Option("--year", help="Compliance year.")]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Only chargers from this evshare collect source ('local': the operator's own).",
    ),
]
CategoryOption = Annotated[
    str | None, typer.Option("--category", help="bc-lcfs: gasoline (default), diesel or jet.")
]
EndUseOption = Annotated[
    str | None,
    typer.Option("--end-use", help="bc-lcfs: default 'Light duty motor vehicles'."),
]


@app.callback()
def credits(
    ctx: typer.Context,
    program: ProgramOption = None,
    year: YearOption = None,
    role: RoleOption = "host",
    eer: EerOption = None,
    source: SourceOption = None,
    category: CategoryOption = None,
    end_use: EndUseOption = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    database_url: DatabaseUrl = None,
) -> None:
    """Credits of the stored sessions for one program and year: per station, per province and
    in total, with the energy behind each. Sessions count in the compliance period in which they
    start, on the charger's local clock."""
    if ctx.invoked_subcommand is not None:
        return
    if fmt not in ("table", "csv", "json"):
        raise ConfigError(f"--format: {fmt!r} is not one of table, csv, json")
    options = _options(program, year, role, eer, source, category, end_use)
    settings = settings_from(database_url=database_url)
    _print_ledger(compute(settings.database_url, options), fmt)


@app.command("report")
def report(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    program: ProgramOption = None,
    year: YearOption = None,
    role: RoleOption = "host",
    eer: EerOption = None,
    source: SourceOption = None,
    category: CategoryOption = None,
    end_use: EndUseOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write one self-contained HTML report (charts inline, opens with no network): energy by
    month, credits by province and by station, every station's placement, the parameters used
    and their sources, and every warning."""
    from evshare.credits import report as report_mod

    options = _options(program, year, role, eer, source, category, end_use)
    settings = settings_from(database_url=database_url)
    ledger = compute(settings.database_url, options)
    if not out.parent.exists():
        raise ConfigError(f"--out: the folder {out.parent} does not exist")
    out.write_text(report_mod.render(ledger), encoding="utf-8")
    err_console.print(
        f"wrote {out}: {ledger.program} {ledger.year}, total {ledger.result.total}, "
        f"{len(ledger.stations)} stations, {len(ledger.warnings)} warning(s)"
    )


@app.command("export")
def export(
    schedule11: Annotated[
        bool, typer.Option("--schedule11", help="CFR Schedule 11 per-station fields (CSV).")
    ] = False,
    year: YearOption = None,
    role: RoleOption = "host",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of standard output.")
    ] = None,
    source: SourceOption = None,
    database_url: DatabaseUrl = None,
) -> None:
    """CFR annual report fields per station and compliance period - Schedule 11 item 5 (host)
    or item 6 (network operator): name or id, serial number, GPS to 5 decimals, civic address,
    province, CI_e, kWh by vehicle class. A station missing a required field is kept, the field
    named in `missing_required`."""
    from evshare.credits import schedule11 as schedule11_mod

    if not schedule11:
        raise ConfigError("say what to export: --schedule11")
    options = _options("cfr", year, role, None, source, None, None)
    settings = settings_from(database_url=database_url)
    ledger = compute(settings.database_url, options)
    text, incomplete = schedule11_mod.to_csv(ledger)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
    if incomplete:
        err_console.print(
            f"[yellow]warning:[/] {incomplete} row(s) miss a required field (see "
            "missing_required); fix the charger data and export again",
            highlight=False,
        )
