"""The programs' parameters, read from the data files bundled beside this module.

Each value keeps its `status` and `source` so that every figure evshare prints can say where
its inputs come from (see data/cfr.toml for what the statuses mean). Values are Decimal, read
from the files' strings, never through float.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

Status = Literal["primary", "secondary", "unconfirmed"]
Program = Literal["cfr", "bc-lcfs"]
PROGRAMS: tuple[Program, ...] = ("cfr", "bc-lcfs")

PROVINCES: dict[str, str] = {
    "NL": "Newfoundland and Labrador",
    "PE": "Prince Edward Island",
    "NS": "Nova Scotia",
    "NB": "New Brunswick",
    "QC": "Quebec",
    "ON": "Ontario",
    "MB": "Manitoba",
    "SK": "Saskatchewan",
    "AB": "Alberta",
    "BC": "British Columbia",
    "YT": "Yukon",
    "NT": "Northwest Territories",
    "NU": "Nunavut",
}


class ParameterError(ValueError):
    """A calculation asks for a value the bundled parameters do not have (or refuse)."""


@dataclass(frozen=True, slots=True)
class Sourced:
    """One parameter value with where it comes from."""

    name: str
    value: Decimal
    status: Status
    source: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "value": str(self.value),
            "status": self.status,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class CfrPeriod:
    id: str
    start: date  # first day, local time
    end: date  # first day after the period
    ci_ref: Sourced


@dataclass(frozen=True, slots=True)
class CfrParameters:
    title: str
    mj_per_kwh: Decimal
    rounding: Sourced
    periods: tuple[CfrPeriod, ...]
    ci_electricity: dict[str, Sourced]
    eers: dict[str, Sourced]  # by vehicle class

    def period(self, period_id: str) -> CfrPeriod:
        for period in self.periods:
            if period.id == period_id:
                return period
        known = ", ".join(p.id for p in self.periods)
        raise ParameterError(f"no CFR compliance period {period_id!r}; known: {known}")

    def periods_in_year(self, year: int) -> list[CfrPeriod]:
        return [p for p in self.periods if p.start.year == year]

    def ci_e(self, province: str) -> Sourced:
        try:
            return self.ci_electricity[province]
        except KeyError:
            raise ParameterError(
                f"no CFR carbon intensity of electricity for province {province!r}; "
                f"use one of {', '.join(PROVINCES)}"
            ) from None

    @property
    def years(self) -> list[int]:
        return sorted({p.start.year for p in self.periods})


@dataclass(frozen=True, slots=True)
class BcParameters:
    title: str
    mj_per_kwh: Decimal
    rounding: Sourced
    tci: dict[tuple[int, str], Sourced]  # (year, category)
    grid_ci: dict[int, Sourced]  # by year
    eers: dict[tuple[str, str], Sourced]  # (category, end use), from 2024
    default_category: str
    default_end_use: str

    def target(self, year: int, category: str) -> Sourced:
        try:
            return self.tci[(year, category)]
        except KeyError:
            years = sorted({y for y, c in self.tci if c == category})
            raise ParameterError(
                f"no BC target carbon intensity for {category} in {year}; bundled years for "
                f"{category}: {', '.join(map(str, years)) or 'none'}"
            ) from None

    def grid(self, year: int) -> Sourced:
        try:
            return self.grid_ci[year]
        except KeyError:
            years = sorted(self.grid_ci)
            raise ParameterError(
                f"no BC carbon intensity of electricity for {year}; bundled: {years[0]}-{years[-1]}"
            ) from None

    def eer(self, category: str, end_use: str) -> Sourced:
        try:
            return self.eers[(category, end_use)]
        except KeyError:
            uses = [u for c, u in self.eers if c == category]
            raise ParameterError(
                f"no BC EER for electricity, category {category!r}, end use {end_use!r}; "
                f"end uses for {category}: {', '.join(repr(u) for u in uses) or 'none'}"
            ) from None

    @property
    def categories(self) -> list[str]:
        return sorted({c for c, _ in self.eers})

    @property
    def years(self) -> list[int]:
        return sorted({y for y, _ in self.tci})


def _data(name: str) -> dict[str, Any]:
    text = (resources.files("evshare.credits") / "data" / name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _sourced(name: str, value: object, table: dict[str, Any]) -> Sourced:
    return Sourced(name, Decimal(str(value)), table["status"], table["source"])


@cache
def cfr() -> CfrParameters:
    raw = _data("cfr.toml")
    rounding = raw["rounding"]
    periods = tuple(
        CfrPeriod(
            id=p["id"],
            start=date.fromisoformat(p["start"]),
            end=date.fromisoformat(p["end"]),
            ci_ref=_sourced(f"CI_ref {p['id']}", p["ci_ref"], p),
        )
        for p in raw["period"]
    )
    grid = raw["ci_electricity"]
    ci_e = {code: _sourced(f"CI_e {code}", grid[code], grid) for code in PROVINCES if code in grid}
    eers = {cls: _sourced(f"EER {cls}", table["value"], table) for cls, table in raw["eer"].items()}
    return CfrParameters(
        title=raw["title"],
        mj_per_kwh=Decimal(raw["mj_per_kwh"]),
        rounding=Sourced("rounding", Decimal(0), rounding["status"], rounding["rule"]),
        periods=periods,
        ci_electricity=ci_e,
        eers=eers,
    )


@cache
def bc() -> BcParameters:
    raw = _data("bc_lcfs.toml")
    tci: dict[tuple[int, str], Sourced] = {}
    for row in raw["tci"]:
        for category in ("gasoline", "diesel", "jet"):
            if category in row:
                name = f"TCI {row['year']} {category}"
                tci[(row["year"], category)] = _sourced(name, row[category], row)
    grid: dict[int, Sourced] = {}
    for row in raw["grid_ci"]:
        for year in range(row["first_year"], row["last_year"] + 1):
            grid[year] = _sourced(f"BC grid CI {year}", row["value"], row)
    eer_table = raw["eer"]
    eers = {
        (category, use): _sourced(f"EER {category}/{use}", value, eer_table)
        for category in ("gasoline", "diesel", "jet")
        for use, value in eer_table[category].items()
    }
    rounding = raw["rounding"]
    return BcParameters(
        title=raw["title"],
        mj_per_kwh=Decimal(raw["mj_per_kwh"]),
        rounding=Sourced("rounding", Decimal(0), rounding["status"], rounding["rule"]),
        tci=tci,
        grid_ci=grid,
        eers=eers,
        default_category=raw["defaults"]["category"],
        default_end_use=raw["defaults"]["end_use"],
    )
