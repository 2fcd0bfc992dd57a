"""A deterministic, realistic demo data set: chargers across Canada and a year of their sessions.

`evshare demo` loads it into an empty database so that a new server answers with believable data.
The same `seed` and `end` always give the same chargers and the same sessions, byte for byte.

The data covers the UTC days `end - days + 1` through `end`. No session starts before `start`
(00:00:00 UTC on the first day) or at or after `as_of` (00:00:00 UTC on the day after `end`), the
instant the data set is a snapshot of. A car still plugged in at `as_of` has a session without an
`end_time` (the energy and charging time so far), which the API does not serve. `end` defaults to
31 December 2025, so the default set is one calendar year (clean-fuel credits are reported by
calendar year); pass yesterday's UTC date instead to make the data recent without any of it lying
in the future.

Arrivals follow local wall-clock patterns in each charger's time zone (workplace mornings,
residential evenings, daytime and weekend peaks at DC fast chargers), vary with the season and
grow over the year; a charger serves as many cars at once as it has bays, and a driver who finds
every bay taken goes elsewhere.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from evshare.model import Charger, Session

DEFAULT_END = date(2025, 12, 31)
MAX_CHARGERS = 9999  # charger ids number each city's chargers with four digits


@dataclass(frozen=True, slots=True)
class _City:
    code: str  # three letters, part of the charger id
    name: str
    province: str
    time_zone: str
    latitude: float
    longitude: float
    weight: float  # share of the chargers beyond the first one in each city
    streets: tuple[str, str, str]


# Ordered so that even a few chargers span several provinces and time zones.
_CITIES = (
    _City("CAL", "Calgary", "AB", "America/Edmonton", 51.0447, -114.0719, 6,
          ("Kensington Rd", "Macleod Trail", "Crowfoot Crossing")),
    _City("TOR", "Toronto", "ON", "America/Toronto", 43.6532, -79.3832, 10,
          ("Queens Quay", "Yonge St", "Liberty Village")),
    _City("VAN", "Vancouver", "BC", "America/Vancouver", 49.2827, -123.1207, 8,
          ("Kingsway", "W Broadway", "Hastings St")),
    _City("MTL", "Montréal", "QC", "America/Toronto", 45.5019, -73.5674, 8,
          ("Rue Sainte-Catherine", "Boul. Saint-Laurent", "Rue Peel")),
    _City("HFX", "Halifax", "NS", "America/Halifax", 44.6488, -63.5752, 2,
          ("Barrington St", "Spring Garden Rd", "Bayers Lake")),
    _City("REG", "Regina", "SK", "America/Regina", 50.4452, -104.6189, 1,
          ("Albert St", "Victoria Ave", "Dewdney Ave")),
    _City("WPG", "Winnipeg", "MB", "America/Winnipeg", 49.8951, -97.1384, 2,
          ("Portage Ave", "Pembina Hwy", "The Forks")),
    _City("STJ", "St. John's", "NL", "America/St_Johns", 47.5615, -52.7126, 1,
          ("Water St", "Kenmount Rd", "Torbay Rd")),
    _City("MCT", "Moncton", "NB", "America/Moncton", 46.0878, -64.7782, 1,
          ("Main St", "Mountain Rd", "Trans-Canada Hwy")),
    _City("WHS", "Whitehorse", "YT", "America/Whitehorse", 60.7212, -135.0568, 0.5,
          ("Main St", "Alaska Hwy", "Two Mile Hill Rd")),
    _City("EDM", "Edmonton", "AB", "America/Edmonton", 53.5461, -113.4938, 4,
          ("Jasper Ave", "Whyte Ave", "Gateway Blvd")),
    _City("OTT", "Ottawa", "ON", "America/Toronto", 45.4215, -75.6972, 4,
          ("Bank St", "Rideau St", "Hunt Club Rd")),
    _City("QUE", "Québec", "QC", "America/Toronto", 46.8139, -71.2080, 3,
          ("Grande Allée", "Boul. Laurier", "Rue Saint-Joseph")),
    _City("SAS", "Saskatoon", "SK", "America/Regina", 52.1332, -106.6700, 1,
          ("Broadway Ave", "8th St E", "Circle Dr")),
    _City("KEL", "Kelowna", "BC", "America/Vancouver", 49.8880, -119.4960, 1,
          ("Harvey Ave", "Bernard Ave", "Hwy 97 N")),
    _City("RDR", "Red Deer", "AB", "America/Edmonton", 52.2681, -113.8112, 1,
          ("Gaetz Ave", "Gasoline Alley", "Ross St")),
    _City("CHT", "Charlottetown", "PE", "America/Halifax", 46.2382, -63.1311, 0.5,
          ("Grafton St", "University Ave", "Trans-Canada Hwy")),
    _City("FRE", "Fredericton", "NB", "America/Moncton", 45.9636, -66.6431, 0.5,
          ("Queen St", "Regent St", "Prospect St")),
    _City("HAM", "Hamilton", "ON", "America/Toronto", 43.2557, -79.8711, 2,
          ("King St W", "James St N", "Upper James St")),
    _City("KAM", "Kamloops", "BC", "America/Vancouver", 50.6745, -120.3273, 0.5,
          ("Victoria St", "Columbia St", "Trans-Canada Hwy")),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Hardware:
    manufacturer: str
    model: str
    serial: str  # str.format template over yy (year), ww (week) and n (unit number)
    power_w: float
    current_a: float
    voltage_v: float
    connectors: int
    bays: int  # cars charging at once: a DC unit with a CCS and a CHAdeMO cable serves one
    weight: float  # how common the unit is among its level's

    @property
    def dc(self) -> bool:
        return self.power_w > 20_000


_LEVEL2 = (
    _Hardware("ChargePoint", "CT4021-GW1", "{yy}{ww}{n:08d}", 7200, 30, 240, 2, 2, 4),
    _Hardware("ChargePoint", "CT4011-GW1", "{yy}{ww}{n:08d}", 7200, 30, 240, 1, 1, 2),
    _Hardware("FLO", "SmartTWO-BSR", "FLO-ST2-{yy}{ww}-{n:05d}", 7200, 30, 240, 1, 1, 3),
    _Hardware(
        "United Chargers", "Grizzl-E Commercial", "GZC{yy}{ww}{n:06d}", 7680, 32, 240, 1, 1, 2
    ),
)
_DC_FAST = (
    _Hardware("ABB", "Terra 54 CJG", "T54-{yy}{ww}-{n:05d}", 50_000, 125, 400, 2, 1, 4),
    _Hardware("BTC Power", "Gen4 HPC-150", "BTC{yy}{ww}{n:06d}", 150_000, 375, 400, 2, 1, 2),
    _Hardware("Tritium", "PKM150", "TPK150-{yy}{ww}-{n:05d}", 150_000, 375, 400, 1, 1, 2),
    _Hardware("Tritium", "PK350", "TPK350-{yy}{ww}-{n:05d}", 350_000, 500, 700, 1, 1, 1),
)


@dataclass(frozen=True, slots=True)
class _Profile:
    """How one kind of site is used. Hours are local wall-clock hours."""

    rate: float  # arrivals a weekday, per bay
    weekend: float  # rate factor on Saturdays and Sundays
    summer: float  # rate swing: +summer in mid-July, -summer in mid-January
    peaks: tuple[tuple[float, float, float], ...]  # arrival mixture: (weight, mean hour, sd)
    energy_kwh: tuple[float, float, float]  # triangular: low, high, mode
    departure: tuple[float, float] | None  # (mean hour, sd) drivers leave; None: when charged
    idle_min: float  # mean minutes a car stays plugged in after charging, when leaving charged


_WORKPLACE = _Profile(
    rate=2.2,
    weekend=0.15,
    summer=-0.1,  # holidays
    peaks=((0.8, 8.2, 0.8), (0.2, 12.5, 1.8)),
    energy_kwh=(4, 35, 10),
    departure=(16.8, 0.9),
    idle_min=15,
)
_RESIDENTIAL = _Profile(
    rate=1.4,
    weekend=1.1,
    summer=0.0,
    peaks=((0.65, 18.3, 1.4), (0.25, 21.3, 1.1), (0.1, 11.0, 2.5)),
    energy_kwh=(4, 40, 16),
    departure=(7.4, 0.9),
    idle_min=20,
)
_DESTINATION = _Profile(
    rate=3.0,
    weekend=1.35,
    summer=0.1,
    peaks=((0.6, 13.5, 2.5), (0.4, 18.5, 1.5)),
    energy_kwh=(4, 20, 7),
    departure=None,
    idle_min=25,
)
_URBAN_DC = _Profile(
    rate=10.0,
    weekend=1.1,
    summer=0.1,
    peaks=((0.25, 8.5, 1.3), (0.45, 13.0, 2.3), (0.3, 18.0, 1.8)),
    energy_kwh=(15, 85, 32),
    departure=None,
    idle_min=4,
)
_HIGHWAY_DC = _Profile(
    rate=9.5,
    weekend=1.35,
    summer=0.35,  # road trips
    peaks=((0.55, 11.5, 2.5), (0.45, 16.5, 2.3)),
    energy_kwh=(15, 90, 45),
    departure=None,
    idle_min=3,
)

# Cars' own limits: (the most kW the car accepts, the most kWh a session gives it). Plug-in
# hybrids have small batteries; cars that take little power at DC have small ones too.
_L2_CARS = ((3.6, 12.0), (6.6, 40.0), (7.2, 40.0), (11.0, 40.0))
_L2_CAR_WEIGHTS = (0.12, 0.3, 0.23, 0.35)
_DC_CARS = ((50.0, 32.0), (75.0, 50.0), (100.0, 55.0), (150.0, 65.0), (250.0, 75.0), (350.0, 90.0))
_DC_CAR_WEIGHTS = (0.12, 0.13, 0.15, 0.25, 0.28, 0.07)

_LONGEST_WAIT_H = 16  # a departure further off than this means the driver leaves once charged
_MAX_PER_DAY = 99  # session ids give each charger's UTC day a two-digit sequence


@dataclass(frozen=True, slots=True)
class _Plan:
    charger: Charger
    hardware: _Hardware
    profile: _Profile
    time_zone: str
    in_service: date  # the commissioning date, also when the charger does not report it
    popularity: float
    seed: str


@dataclass(frozen=True, slots=True)
class DemoData:
    """The chargers (in byte order of id) and, generated afresh on each call, their sessions."""

    chargers: list[Charger]
    start: datetime  # 00:00:00 UTC on the first day: no session starts earlier
    as_of: datetime  # 00:00:00 UTC after `end`: sessions start earlier; open ones have no end
    _plans: tuple[_Plan, ...] = field(repr=False)

    def sessions(self) -> Iterator[Session]:
        """Every session, lazily: charger by charger in id order, each charger's by start time
        then id. A charger's sessions still in progress at `as_of` are its last ones."""
        for plan in self._plans:
            yield from _sessions(plan, self.start, self.as_of)


def generate(
    *, seed: int = 2026, chargers: int = 36, days: int = 365, end: date | None = None
) -> DemoData:
    """The demo data set for `seed`: `chargers` chargers, sessions over the `days` UTC days
    ending with `end` (inclusive; default DEFAULT_END)."""
    if not 0 < chargers <= MAX_CHARGERS:
        raise ValueError(f"chargers must be between 1 and {MAX_CHARGERS}, not {chargers}")
    if days <= 0:
        raise ValueError(f"days must be at least 1, not {days}")
    last_day = DEFAULT_END if end is None else end
    first_day = last_day - timedelta(days=days - 1)
    rng = random.Random(seed)  # noqa: S311 (demo data, not security)
    plans = _plans(rng, seed, chargers, first_day, days)
    return DemoData(
        chargers=[plan.charger for plan in plans],
        start=datetime.combine(first_day, time(), UTC),
        as_of=datetime.combine(last_day + timedelta(days=1), time(), UTC),
        _plans=plans,
    )


def _plans(
    rng: random.Random, seed: int, count: int, first_day: date, days: int
) -> tuple[_Plan, ...]:
    cities = list(_CITIES[:count])
    cities += rng.choices(_CITIES, [city.weight for city in _CITIES], k=count - len(cities))
    numbers: dict[str, int] = {}
    name_numbers: dict[tuple[str, str, bool], int] = {}
    plans = []
    for city in cities:
        if rng.random() < 0.6:
            hardware = _pick(rng, _LEVEL2)
            profile = rng.choices((_WORKPLACE, _RESIDENTIAL, _DESTINATION), (0.4, 0.35, 0.25))[0]
        else:
            hardware = _pick(rng, _DC_FAST)
            profile = _HIGHWAY_DC if rng.random() < 0.45 else _URBAN_DC
        numbers[city.code] = number = numbers.get(city.code, 0) + 1
        street = rng.choice(city.streets)
        key = (city.code, street, hardware.dc)
        name_numbers[key] = name_number = name_numbers.get(key, 0) + 1
        if rng.random() < 0.12:  # commissioned during the year: no sessions before
            in_service = first_day + timedelta(days=rng.randint(days // 5, days * 4 // 5))
        else:
            in_service = first_day - timedelta(days=rng.randint(45, 6 * 365))
        built = in_service - timedelta(days=rng.randint(20, 200))
        serial = hardware.serial.format(
            yy=f"{built.year % 100:02d}",
            ww=f"{built.isocalendar().week:02d}",
            n=rng.randrange(10**5),
        )
        # Providers' exports miss some fields; each one is left out on a few chargers.
        charger = Charger(
            id=f"CA-{city.province}-{city.code}-{number:04d}",
            name=f"{city.name} — {street} {'DC' if hardware.dc else 'L2'} #{name_number}",
            serial_number=None if rng.random() < 0.1 else serial,
            model=hardware.model,
            manufacturer=hardware.manufacturer,
            max_output_power_w=hardware.power_w,
            max_available_current_a=None if rng.random() < 0.1 else hardware.current_a,
            output_voltage_v=None if rng.random() < 0.1 else hardware.voltage_v,
            number_of_connectors=hardware.connectors,
            time_zone=city.time_zone,
            latitude=round(city.latitude + rng.uniform(-0.04, 0.04), 5),
            longitude=round(city.longitude + rng.uniform(-0.06, 0.06), 5),
            commissioning_date=None if rng.random() < 0.08 else in_service,
            province=city.province,  # not served; evshare credits uses it
        )
        plans.append(
            _Plan(
                charger=charger,
                hardware=hardware,
                profile=profile,
                time_zone=city.time_zone,
                in_service=in_service,
                popularity=rng.uniform(0.6, 1.5),
                seed=f"{seed}/{charger.id}",
            )
        )
    return tuple(sorted(plans, key=lambda plan: plan.charger.id.encode()))


def _pick(rng: random.Random, choices: Sequence[_Hardware]) -> _Hardware:
    return rng.choices(choices, [hardware.weight for hardware in choices])[0]


def _sessions(plan: _Plan, start: datetime, as_of: datetime) -> Iterator[Session]:
    rng = random.Random(plan.seed)  # noqa: S311 (demo data, not security)
    charger, hardware, profile = plan.charger, plan.hardware, plan.profile
    zone = ZoneInfo(plan.time_zone)
    start_s, as_of_s = int(start.timestamp()), int(as_of.timestamp())
    first_day = start.date()
    span = max((as_of.date() - first_day).days - 1, 1)
    bays_free_at = [0] * hardware.bays
    utc_day, day_key, sequence = -1, "", 0
    # Local days run behind UTC in Canada: the local day before the first UTC day reaches into it.
    day = max(first_day - timedelta(days=1), plan.in_service)
    while day < as_of.date():
        # 1 in mid-January, 0 in mid-July.
        cold = (1 + math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)) / 2
        rate = profile.rate * len(bays_free_at) * plan.popularity
        rate *= 1 + profile.summer * (1 - 2 * cold)
        rate *= profile.weekend if day.weekday() >= 5 else 1
        rate *= 0.85 + 0.3 * (day - first_day).days / span  # more EVs on the road every month
        rate *= min(1, 0.35 + 0.65 * (day - plan.in_service).days / 120)  # word gets around
        arrivals = sorted(_arrival(rng, zone, day, profile) for _ in range(_poisson(rng, rate)))
        for at, hour in arrivals:
            if at >= as_of_s:
                break
            bay = next((i for i, free_at in enumerate(bays_free_at) if free_at <= at), None)
            if bay is None:
                continue
            if at // 86400 != utc_day:
                utc_day, sequence = at // 86400, 0
                day_key = datetime.fromtimestamp(at, UTC).strftime("%Y%m%d")
            if sequence == _MAX_PER_DAY:
                continue
            energy_wh, power_w = _charge(rng, hardware, profile, cold)
            charging_s = math.ceil(energy_wh * 3600 / power_w)
            plugged_s = charging_s + 60 + int(rng.expovariate(1 / (60 * profile.idle_min)))
            if profile.departure is not None:
                wait_h = (rng.gauss(*profile.departure) - hour) % 24
                if wait_h < _LONGEST_WAIT_H:
                    plugged_s = max(plugged_s, int(wait_h * 3600))
            bays_free_at[bay] = at + plugged_s
            if at < start_s:
                continue
            sequence += 1
            end_time: datetime | None = datetime.fromtimestamp(at + plugged_s, UTC)
            if at + plugged_s > as_of_s:  # still plugged in: the meter's reading so far
                end_time = None
                if at + charging_s > as_of_s:
                    charging_s = as_of_s - at
                    energy_wh = math.floor(power_w * charging_s / 360) / 10
            yield Session(
                id=f"{charger.id}-{day_key}-{sequence:02d}",
                charger_id=charger.id,
                start_time=datetime.fromtimestamp(at, UTC),
                end_time=end_time,
                energy_wh=energy_wh,
                charging_duration_s=charging_s,
            )
        day += timedelta(days=1)


def _arrival(rng: random.Random, zone: ZoneInfo, day: date, profile: _Profile) -> tuple[int, float]:
    """When a car arrives on local `day`: epoch seconds, and the local hour it was drawn at."""
    pick = rng.random()
    for peak in profile.peaks:
        pick -= peak[0]
        if pick < 0:
            break
    _, mean, sd = peak
    hour = rng.gauss(mean, sd) % 24
    second = min(int(hour * 3600), 86399)
    # A wall time that a DST change skips resolves to a real instant an hour later.
    wall = datetime(
        day.year, day.month, day.day, second // 3600, second // 60 % 60, second % 60, tzinfo=zone
    )
    return int(wall.timestamp()), hour


def _charge(
    rng: random.Random, hardware: _Hardware, profile: _Profile, cold: float
) -> tuple[float, float]:
    """Energy a session delivers (Wh) and its average power (W), below the charger's maximum."""
    low, high, mode = profile.energy_kwh
    kwh = rng.triangular(low, high, mode) * (1 + 0.2 * cold)  # cold batteries and cabin heat
    if hardware.dc:
        peak_kw, most_kwh = rng.choices(_DC_CARS, _DC_CAR_WEIGHTS)[0]
        # A car's average over a session is well below its peak, as charging tapers while the
        # battery fills; cold batteries accept less.
        average_w = min(0.95 * hardware.power_w, peak_kw * 1000 * rng.uniform(0.55, 0.85))
        power_w = average_w * (1 - 0.2 * cold)
    else:
        onboard_kw, most_kwh = rng.choices(_L2_CARS, _L2_CAR_WEIGHTS)[0]
        power_w = min(hardware.power_w, onboard_kw * 1000) * rng.uniform(0.88, 0.97)
    kwh = min(kwh, most_kwh)
    return round(min(max(kwh, low), high) * 1000, 1), power_w


def _poisson(rng: random.Random, mean: float) -> int:
    threshold, count, product = math.exp(-mean), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count
