"""Credits of stored energy: stations placed and timed, energy per bucket in, a ledger out.

The store sums sessions per (charger, bucket) - see `plan` for the buckets, cut in each
charger's local time - and this module turns those sums into the program's lines:

- CFR: one line per (compliance period, province, EER) under the creator's section - the
  aggregate s. 163 rounds once, to a whole credit. (One database is one creator.)
- BC: one line per (year, category, end use) for the energy supplied in British Columbia,
  to 5 decimals; the total to whole units.

Per station it keeps the energy and the exact (unrounded) credits behind it, so a verifier can
trace each line back to stations; a station that cannot be placed is listed, its energy not
counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from evshare.credits import calc, parameters, periods
from evshare.credits.parameters import ParameterError, Program, Sourced
from evshare.credits.places import Placement, Zone

KWH_PER_WH = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    name: str
    serial_number: str | None
    latitude: float | None
    longitude: float | None
    placement: Placement
    zone: Zone


@dataclass(frozen=True, slots=True)
class Energy:
    """The store's answer for one bucket: completed sessions with positive energy."""

    charger_id: str
    key: str  # "PERIOD|YYYY-MM"
    sessions: int
    wh: float


@dataclass(slots=True)
class StationTotal:
    station: Station
    kwh: Decimal = Decimal(0)
    sessions: int = 0
    exact: Decimal = Decimal(0)  # its share of the credits, before any rounding
    counted: bool = True  # False: unassigned, or outside BC for bc-lcfs
    reason: str = ""
    by_period: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ledger:
    program: Program
    year: int
    role: calc.Role
    result: calc.Result
    stations: tuple[StationTotal, ...]
    by_month: dict[str, Decimal]  # YYYY-MM -> counted kWh
    by_province: dict[str, tuple[Decimal, Decimal]]  # province -> (kWh, credits counted)
    uncounted_kwh: Decimal
    warnings: tuple[str, ...]

    @property
    def counted_kwh(self) -> Decimal:
        return sum((s.kwh for s in self.stations if s.counted), Decimal(0))


def plan(
    program: Program, year: int, stations: Sequence[Station]
) -> list[tuple[str, str, int, int]]:
    """The buckets to sum: (charger id, "PERIOD|YYYY-MM", start, end) in epoch seconds."""
    if program == "cfr" and not parameters.cfr().periods_in_year(year):
        years = parameters.cfr().years
        raise ParameterError(
            f"--year {year}: CFR has no bundled compliance period that year; bundled: "
            f"{years[0]}-{years[-1]}"
        )
    if program == "bc-lcfs":
        bc = parameters.bc()
        bc.target(year, bc.default_category)  # refuses a year without parameters, by name
    out = []
    for station in stations:
        for bucket in periods.buckets(program, year, station.zone.info):
            out.append((station.id, f"{bucket.period}|{bucket.month}", bucket.start, bucket.end))
    return out


def _mark(by_id: dict[str, StationTotal], program: Program) -> list[str]:
    """Which stations count, and a warning for each one timed in UTC."""
    warnings = []
    for total in by_id.values():
        place = total.station.placement
        if place.province is None:
            total.counted, total.reason = False, f"unassigned: {place.note}"
        elif program == "bc-lcfs" and place.province != "BC":
            total.counted, total.reason = False, f"in {place.province}, not British Columbia"
        if total.station.zone.how == "utc":
            warnings.append(
                f"station {total.station.id}: {total.station.zone.note}; its sessions are "
                "placed in periods by UTC time"
            )
    return warnings


def _add(
    by_id: dict[str, StationTotal], energy: Iterable[Energy]
) -> tuple[dict[tuple[str, str], Decimal], dict[str, Decimal]]:
    """Energy into stations; (period, province) and month totals of the counted ones."""
    cells: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    for row in energy:
        total = by_id.get(row.charger_id)
        if total is None:
            continue
        period, month = row.key.split("|", 1)
        kwh = Decimal(repr(row.wh)).quantize(KWH_PER_WH) * KWH_PER_WH
        total.kwh += kwh
        total.sessions += row.sessions
        total.by_period[period] = total.by_period.get(period, Decimal(0)) + kwh
        province = total.station.placement.province
        if total.counted and province is not None:
            cells[(period, province)] += kwh
            by_month[month] += kwh
    return cells, by_month


def _placement_warnings(by_id: dict[str, StationTotal]) -> list[str]:
    warnings = []
    unassigned = [t for t in by_id.values() if t.station.placement.province is None]
    if unassigned:
        warnings.append(
            f"{len(unassigned)} station(s) without a province: their "
            f"{sum((t.kwh for t in unassigned), Decimal(0)):.3f} kWh are not counted "
            "(give a province in the import mapping, or coordinates)"
        )
    derived = [t for t in by_id.values() if t.station.placement.how == "derived" and t.kwh]
    if derived:
        warnings.append(
            f"{len(derived)} station(s) placed in a province from coordinates (nearest place); "
            "confirm those near a provincial border"
        )
    return warnings


def build(
    program: Program,
    year: int,
    stations: Sequence[Station],
    energy: Iterable[Energy],
    *,
    role: calc.Role = "host",
    eers: Mapping[str, Sourced] | None = None,
    category: str | None = None,
    end_use: str | None = None,
    bc_eer: Sourced | None = None,
) -> Ledger:
    by_id = {s.id: StationTotal(s) for s in stations}
    eer = calc.cfr_eer(role, dict(eers or {})) if program == "cfr" else None
    warnings = _mark(by_id, program)
    cells, by_month = _add(by_id, energy)

    def line(period: str, province: str, kwh: Decimal) -> calc.Line:
        if program == "cfr":
            return calc.cfr_line(parameters.cfr().period(period), province, kwh, role=role, eer=eer)
        return calc.bc_line(int(period), kwh, category=category, end_use=end_use, eer=bc_eer)

    lines = [line(period, province, kwh) for (period, province), kwh in sorted(cells.items())]
    for total in by_id.values():
        province = total.station.placement.province
        if total.counted and province is not None:
            for period, kwh in total.by_period.items():
                total.exact += line(period, province, kwh).exact
    uncounted = sum((t.kwh for t in by_id.values() if not t.counted), Decimal(0))
    result = calc.total(program, lines, warnings + _placement_warnings(by_id))
    by_province: dict[str, tuple[Decimal, Decimal]] = {}
    for item in result.lines:
        kwh, credits = by_province.get(item.province, (Decimal(0), Decimal(0)))
        by_province[item.province] = (kwh + item.kwh, credits + item.rounded)
    return Ledger(
        program=program,
        year=year,
        role=role,
        result=result,
        stations=tuple(sorted(by_id.values(), key=lambda t: t.station.id)),
        by_month=dict(sorted(by_month.items())),
        by_province=dict(sorted(by_province.items())),
        uncounted_kwh=uncounted,
        warnings=tuple(result.warnings),
    )
