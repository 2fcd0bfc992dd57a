"""The credit formulas and their rounding, in Decimal.

CFR (ss. 101/102):  credits = (EER x CI_ref - CI_e) x kWh x 3.6 x 10^-6, rounded to a whole
credit, half up, once per aggregate (creator, period, section, province, EER) - never per
session.

BC (Low Carbon Fuels Act s. 13 from 2024; the RLCFRR formula before): units =
(TCI x EER - CI) x kWh x 3.6 / 10^6, each line to 5 decimals, the total to whole units.

A negative result (a grid dirtier than EER x CI_ref) stays negative, with a warning: it is a
debit the creator would carry, and hiding it would overstate the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from evshare.credits import parameters as params
from evshare.credits.parameters import ParameterError, Sourced

Role = Literal["host", "network"]
ROLES: tuple[Role, ...] = ("host", "network")
SECTION: dict[Role, str] = {"host": "s. 101", "network": "s. 102"}
LIGHT_DUTY = "light-duty"

MILLION = Decimal(1_000_000)
WHOLE = Decimal(1)
FIVE_PLACES = Decimal("0.00001")
WATT_HOUR = Decimal("0.001")  # kWh


def whole(value: Decimal) -> Decimal:
    """To a whole unit, half up (ties away from zero, so -2.5 -> -3)."""
    return value.quantize(WHOLE, rounding=ROUND_HALF_UP)


def five_places(value: Decimal) -> Decimal:
    return value.quantize(FIVE_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Line:
    """One aggregate: energy in one period and province at one EER, and the credits it makes.

    `exact` is the formula's value before any rounding; `rounded` is what the program counts
    for this line (CFR: whole credits; BC: 5 decimals).
    """

    program: params.Program
    period: str
    province: str
    kwh: Decimal
    eer: Sourced
    target: Sourced  # CFR: CI_ref of the period; BC: TCI of the year and category
    ci_e: Sourced
    exact: Decimal
    rounded: Decimal
    section: str
    vehicle_class: str = LIGHT_DUTY  # CFR vehicle class, or BC "category/end use"
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "program": self.program,
            "period": self.period,
            "province": self.province,
            "section": self.section,
            "class": self.vehicle_class,
            "kwh": str(self.kwh),
            "eer": str(self.eer.value),
            "target_ci": str(self.target.value),
            "target_ci_name": "CI_ref" if self.program == "cfr" else "TCI",
            "ci_e": str(self.ci_e.value),
            "exact": str(self.exact),
            "rounded": str(self.rounded),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class Result:
    """Lines and their total, each program on its own (never summed across programs)."""

    program: params.Program
    lines: tuple[Line, ...]
    total: Decimal  # CFR: the sum of whole-credit lines; BC: the 5-decimal lines' sum, whole
    exact_total: Decimal
    parameters: tuple[Sourced, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def kwh(self) -> Decimal:
        return sum((line.kwh for line in self.lines), Decimal(0))

    def as_dict(self) -> dict[str, object]:
        return {
            "program": self.program,
            "periods": [line.as_dict() for line in self.lines],
            "kwh": str(self.kwh),
            "exact": str(self.exact_total),
            "total": str(self.total),
            "parameters": [p.as_dict() for p in self.parameters],
            "warnings": list(self.warnings),
        }


def _unconfirmed(values: Iterable[Sourced]) -> list[str]:
    return [
        f"{v.name} = {v.value} is {v.status}: not confirmed from the regulation's own text "
        "(its source is listed with the parameters)"
        for v in values
        if v.status != "primary"
    ]


def cfr_line(
    period: params.CfrPeriod,
    province: str,
    kwh: Decimal,
    *,
    role: Role = "host",
    eer: Sourced | None = None,
    vehicle_class: str = LIGHT_DUTY,
) -> Line:
    table = params.cfr()
    ci_e = table.ci_e(province)
    chosen = eer or table.eers[LIGHT_DUTY]
    exact = (chosen.value * period.ci_ref.value - ci_e.value) * kwh * table.mj_per_kwh / MILLION
    warnings: list[str] = []
    if exact < 0:
        warnings.append(
            f"negative: in {province} the grid's CI_e {ci_e.value} exceeds EER {chosen.value} x "
            f"CI_ref {period.ci_ref.value} = {chosen.value * period.ci_ref.value} in {period.id}; "
            "shown as a debit, not zeroed"
        )
    return Line(
        program="cfr",
        period=period.id,
        province=province,
        kwh=kwh,
        eer=chosen,
        target=period.ci_ref,
        ci_e=ci_e,
        exact=exact,
        rounded=whole(exact),
        section=SECTION[role],
        vehicle_class=vehicle_class,
        warnings=tuple(warnings),
    )


def cfr_eer(role: Role, elections: dict[str, Sourced], vehicle_class: str = LIGHT_DUTY) -> Sourced:
    """The EER for a vehicle class: the operator's election, else the bundled light-duty 2.5.

    A network operator (s. 102) may use the light-duty EER only.
    """
    table = params.cfr()
    if role == "network":
        bad = sorted(c for c in elections if c != LIGHT_DUTY)
        if bad:
            raise ParameterError(
                f"--eer {bad[0]}=...: a charging-network operator (s. 102) may use the "
                "light-duty EER only; drop it or use --role host"
            )
    return elections.get(vehicle_class) or table.eers[LIGHT_DUTY]


def bc_line(
    year: int,
    kwh: Decimal,
    *,
    category: str | None = None,
    end_use: str | None = None,
    eer: Sourced | None = None,
    period: str | None = None,
) -> Line:
    table = params.bc()
    category = category or table.default_category
    end_use = end_use or table.default_end_use
    target = table.target(year, category)
    ci_e = table.grid(year)
    if eer is None:
        if year < 2024:
            raise ParameterError(
                f"BC {year}: the pre-2024 energy effectiveness ratios are not bundled (none was "
                "confirmed from public material); give the ratio with --eer R"
            )
        eer = table.eer(category, end_use)
    exact = (target.value * eer.value - ci_e.value) * kwh * table.mj_per_kwh / MILLION
    warnings: list[str] = []
    if exact < 0:
        warnings.append(
            f"negative: CI {ci_e.value} exceeds TCI {target.value} x EER {eer.value} in {year}; "
            "shown as a debit, not zeroed"
        )
    return Line(
        program="bc-lcfs",
        period=period or str(year),
        province="BC",
        kwh=kwh,
        eer=eer,
        target=target,
        ci_e=ci_e,
        exact=exact,
        rounded=five_places(exact),
        section="LCFA s. 13" if year >= 2024 else "RLCFRR Part 3",
        vehicle_class=f"{category}/{end_use}",
        warnings=tuple(warnings),
    )


def total(program: params.Program, lines: Sequence[Line], extra: Iterable[str] = ()) -> Result:
    """Add lines up as the program does: CFR whole credits per line; BC 5-decimal lines, then
    the total to whole units."""
    exact = sum((line.exact for line in lines), Decimal(0))
    rounded = sum((line.rounded for line in lines), Decimal(0))
    counted = rounded if program == "cfr" else whole(rounded)
    used: dict[str, Sourced] = {}
    for line in lines:
        for value in (line.target, line.ci_e, line.eer):
            used.setdefault(value.name, value)
    used_params = tuple(used.values())
    warnings = [w for line in lines for w in line.warnings]
    warnings += _unconfirmed(used_params)
    warnings += list(extra)
    return Result(program, tuple(lines), counted, exact, used_params, tuple(warnings))


def year_share(kwh_per_year: Decimal, year: int, start: date, end: date) -> Decimal:
    """The part of a year's energy that falls in [start, end), spread evenly over the days, to
    the watt-hour."""
    first, after = date(year, 1, 1), date(year + 1, 1, 1)
    lo, hi = max(start, first), min(end, after)
    days = max((hi - lo).days, 0)
    share = kwh_per_year * Decimal(days) / Decimal((after - first).days)
    return share.quantize(WATT_HOUR, rounding=ROUND_HALF_UP)


def estimate(
    program: params.Program,
    province: str,
    kwh_per_year: Decimal,
    years: Sequence[int],
    *,
    role: Role = "host",
    eer: Decimal | None = None,
    category: str | None = None,
    end_use: str | None = None,
    period: str | None = None,
) -> Result:
    """The what-if: `kwh_per_year` in each year, every compliance period of those years.

    CFR periods shorter than a year (2022 from June 21, the two halves of 2023) get the
    share of the year's energy that falls in them, spread evenly over the days; `period`
    limits the result to one period, whose energy is then `kwh_per_year` as given.
    """
    if kwh_per_year < 0:
        raise ParameterError(f"--kwh: {kwh_per_year} is negative; give the energy in kWh (>= 0)")
    province = province.upper()
    if province not in params.PROVINCES:
        raise ParameterError(
            f"--province: {province!r} is not a province or territory code; use one of "
            f"{', '.join(params.PROVINCES)}"
        )
    elected = None if eer is None else Sourced("EER elected", eer, "unconfirmed", "--eer")
    if program == "cfr":
        table = params.cfr()
        if role == "network" and eer is not None and eer != table.eers[LIGHT_DUTY].value:
            raise ParameterError(
                f"--eer {eer}: a charging-network operator (s. 102) may use the light-duty EER "
                f"({table.eers[LIGHT_DUTY].value}) only; drop --eer or use --role host"
            )
        if category or end_use:
            raise ParameterError("--category/--end-use apply to --program bc-lcfs only")
        if period is not None:
            lines = [cfr_line(table.period(period), province, kwh_per_year, role=role, eer=elected)]
            return total("cfr", lines)
        lines = []
        for year in years:
            found = table.periods_in_year(year)
            if not found:
                raise ParameterError(
                    f"CFR has no bundled compliance period in {year}; bundled years: "
                    f"{table.years[0]}-{table.years[-1]}"
                )
            for p in found:
                share = year_share(kwh_per_year, year, p.start, p.end)
                lines.append(cfr_line(p, province, share, role=role, eer=elected))
        return total("cfr", lines)
    if province != "BC":
        raise ParameterError(
            f"--province {province}: BC's low carbon fuel credits exist only for electricity "
            "supplied in British Columbia; use --province BC"
        )
    if role != "host":
        raise ParameterError("--role applies to --program cfr only")
    chosen = [int(period)] if period is not None else list(years)
    lines = [
        bc_line(year, kwh_per_year, category=category, end_use=end_use, eer=elected)
        for year in chosen
    ]
    return total("bc-lcfs", lines)
