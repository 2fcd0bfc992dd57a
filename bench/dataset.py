"""Deterministic benchmark dataset: chargers and sessions as NDJSON in the contract's wire shape.

`python bench/dataset.py --chargers 1000 --sessions 1000000` writes (or reuses) a directory under
bench/work/ holding chargers.ndjson, sessions.ndjson and meta.json. meta.json is written last, so
its presence marks a complete dataset; the directory name carries every parameter, so a cached
dataset is reused only when it is exactly the one asked for.

Sessions are spread evenly over three UTC years, in startTime order (as an operator's export
would be), each on a charger drawn at random. The generator also records how many sessions each
charger has per month and how many bytes they take on the wire: the benchmark uses that to pick
request paths, to check the server's answers and to size the bare-ASGI reference bodies.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

# Bump when the generated content changes, so stale caches are not reused.
GENERATOR_VERSION = 1
SEED = 20230101
FIRST_DAY = date(2023, 1, 1)
YEARS = 3
MONTHS = 12 * YEARS
WORK_DIR = Path(__file__).resolve().parent / "work"

_MODELS = (
    ("ChargePoint", "CT4011-GW1", 7200.0, 30.0, 240.0),
    ("FLO", "SmartTWO-BSR", 7680.0, 32.0, 240.0),
    ("Tesla", "Wall Connector Gen 3", 11500.0, 48.0, 240.0),
    ("ABB", "Terra 54", 50000.0, 125.0, 400.0),
    ("Tritium", "RTM75", 75000.0, 200.0, 400.0),
    ("Kempower", "S-Series", 150000.0, 300.0, 800.0),
)
# (IANA zone, latitude, longitude) of a few Canadian cities, jittered per charger.
_PLACES = (
    ("America/Vancouver", 49.28, -123.12),
    ("America/Edmonton", 53.55, -113.49),
    ("America/Edmonton", 51.05, -114.07),
    ("America/Regina", 50.45, -104.61),
    ("America/Winnipeg", 49.90, -97.14),
    ("America/Toronto", 43.65, -79.38),
    ("America/Toronto", 45.50, -73.57),
    ("America/Halifax", 44.65, -63.57),
)
# A session's energy is capped at what a large EV battery takes in one go.
_MAX_SESSION_WH = 100_000.0


@dataclass(frozen=True, slots=True)
class Dataset:
    """A generated dataset on disk and the facts about it the benchmark needs."""

    directory: Path
    chargers_file: Path
    sessions_file: Path
    charger_ids: list[str]
    charger_bytes: list[int]  # wire size of each charger's JSON object
    month_counts: list[list[int]]  # [charger][month] sessions starting in that UTC month
    month_bytes: list[list[int]]  # [charger][month] wire bytes of those sessions' objects
    sessions: int
    generated_seconds: float
    cached: bool

    @property
    def chargers(self) -> int:
        return len(self.charger_ids)


def month_range(month: int) -> tuple[date, date]:
    """First and last UTC day of dataset month `month` (0-based from FIRST_DAY)."""
    year, index = divmod(FIRST_DAY.month - 1 + month, 12)
    first = date(FIRST_DAY.year + year, index + 1, 1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, following - timedelta(days=1)


LAST_DAY = month_range(MONTHS - 1)[1]


def _charger(index: int, rng: random.Random) -> dict[str, Any]:
    manufacturer, model, power, current, voltage = rng.choice(_MODELS)
    zone, latitude, longitude = rng.choice(_PLACES)
    commissioned = FIRST_DAY - timedelta(days=rng.randrange(30, 2000))
    return {
        "id": f"EVB{index:06d}",
        "name": f"Site {index // 4 + 1} charger {index % 4 + 1}",
        "serialNumber": f"SN{rng.randrange(10**9):09d}",
        "model": model,
        "manufacturer": manufacturer,
        "maxOutputPower": power,
        "maxAvailableCurrent": current,
        "outputVoltage": voltage,
        "numberOfConnectors": rng.choice((1, 2)),
        "timeZone": zone,
        "latitude": round(latitude + rng.uniform(-0.2, 0.2), 6),
        "longitude": round(longitude + rng.uniform(-0.2, 0.2), 6),
        "commissioningDate": commissioned.isoformat(),
    }


def _session_lines(
    sessions: int, powers: list[float], rng: random.Random
) -> Iterator[tuple[int, int, bytes]]:
    """Yield (charger index, month, NDJSON line) for each session, in startTime order.

    Timestamps are built from per-day and per-second string tables: formatting a million
    datetimes one by one would take most of the generator's time.
    """
    days = (LAST_DAY - FIRST_DAY).days + 1
    # One day more than the span: a session that starts on the last day may end on the next.
    calendar = [FIRST_DAY + timedelta(days=n) for n in range(days + 1)]
    day_prefix = [day.isoformat() + "T" for day in calendar]
    day_month = [(day.year - FIRST_DAY.year) * 12 + day.month - FIRST_DAY.month for day in calendar]
    time_of_day = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(86400)]
    span = days * 86400
    step = max(span // sessions, 1)
    chargers = len(powers)
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    # random() scaled by hand: randrange/uniform cost several times more per call.
    draw = rng.random
    for k in range(sessions):
        start = k * span // sessions + int(draw() * step)
        plugged = 1200 + int(draw() * 34800)
        charging = int(plugged * (0.5 + draw() / 2))
        charger = int(draw() * chargers)
        energy = min(charging / 3600 * powers[charger] * (0.3 + draw() * 0.7), _MAX_SESSION_WH)
        end = start + plugged
        start_day, start_second = divmod(start, 86400)
        end_day, end_second = divmod(end, 86400)
        line = dumps(
            {
                "id": f"S{k:010d}",
                "chargerId": f"EVB{charger:06d}",
                "energy": round(energy, 1),
                "startTime": day_prefix[start_day] + time_of_day[start_second],
                "endTime": day_prefix[end_day] + time_of_day[end_second],
                "chargingDuration": charging,
            },
            option=newline,
        )
        yield charger, day_month[start_day], line


def directory_for(chargers: int, sessions: int) -> Path:
    return WORK_DIR / f"dataset-v{GENERATOR_VERSION}-seed{SEED}-c{chargers}-s{sessions}"


def build(chargers: int, sessions: int) -> Dataset:
    """Return the dataset for these sizes, generating it unless a complete copy is cached."""
    if chargers < 1 or sessions < 1:
        raise ValueError("need at least one charger and one session")
    directory = directory_for(chargers, sessions)
    if not (directory / "meta.json").exists():
        _generate(directory, chargers, sessions)
        return _load(directory, cached=False)
    return _load(directory, cached=True)


def _generate(directory: Path, chargers: int, sessions: int) -> None:
    began = time.perf_counter()
    partial = directory.with_name(directory.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    rng = random.Random(SEED)
    charger_rows = [_charger(n, rng) for n in range(chargers)]
    charger_lines = [orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in charger_rows]
    (partial / "chargers.ndjson").write_bytes(b"".join(charger_lines))

    counts = [[0] * MONTHS for _ in range(chargers)]
    sizes = [[0] * MONTHS for _ in range(chargers)]
    powers = [float(row["maxOutputPower"]) for row in charger_rows]
    # Line by line through a large buffer: collecting lines into chunks keeps a million small
    # objects alive at a time and costs more in page faults than the writes themselves.
    with (partial / "sessions.ndjson").open("wb", buffering=1 << 20) as out:
        for charger, month, line in _session_lines(sessions, powers, rng):
            counts[charger][month] += 1
            sizes[charger][month] += len(line) - 1
            out.write(line)

    meta = {
        "generatorVersion": GENERATOR_VERSION,
        "seed": SEED,
        "firstDay": FIRST_DAY.isoformat(),
        "months": MONTHS,
        "chargerIds": [row["id"] for row in charger_rows],
        "chargerBytes": [len(line) - 1 for line in charger_lines],
        "monthCounts": counts,
        "monthBytes": sizes,
        "sessions": sessions,
        "generatedSeconds": round(time.perf_counter() - began, 3),
        "generatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (partial / "meta.json").write_bytes(orjson.dumps(meta))
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)


def _load(directory: Path, *, cached: bool) -> Dataset:
    meta = orjson.loads((directory / "meta.json").read_bytes())
    return Dataset(
        directory=directory,
        chargers_file=directory / "chargers.ndjson",
        sessions_file=directory / "sessions.ndjson",
        charger_ids=meta["chargerIds"],
        charger_bytes=meta["chargerBytes"],
        month_counts=meta["monthCounts"],
        month_bytes=meta["monthBytes"],
        sessions=meta["sessions"],
        generated_seconds=meta["generatedSeconds"],
        cached=cached,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    args = parser.parse_args()
    dataset = build(args.chargers, args.sessions)
    state = "cached" if dataset.cached else f"generated in {dataset.generated_seconds:.1f} s"
    print(f"{dataset.directory} ({state})")


if __name__ == "__main__":
    main()
