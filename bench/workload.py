"""The three measured requests, each rotated over many chargers, and what a right answer holds.

Paths are drawn from the dataset with a fixed seed. For each path the dataset says how many items
a correct response carries, which the harness checks before it measures; and what the response
weighs in the contract's compact JSON, which sizes the bare-ASGI reference body.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import orjson

from dataset import MONTHS, Dataset, month_range

Kind = Literal["chargers", "charger", "sessions"]
PATHS_PER_ENDPOINT = 2000
IDS_PER_LIST = 10
_LIST_PREFIX = len(b'{"chargers":[')


@dataclass(frozen=True, slots=True)
class Endpoint:
    kind: Kind
    label: str
    paths: list[str]
    expected: list[int]  # items in a correct response, per path
    body_bytes: int  # mean size of a correct response body, compact JSON

    def write_paths(self, directory: Path) -> Path:
        path = directory / f"paths-{self.kind}.txt"
        path.write_text("".join(p + "\n" for p in self.paths))
        return path


def endpoints(data: Dataset) -> list[Endpoint]:
    rng = random.Random(len(data.charger_ids) * 1_000_003 + data.sessions)
    ids = data.charger_ids
    count = min(IDS_PER_LIST, len(ids))

    lists = [rng.sample(range(len(ids)), count) for _ in range(PATHS_PER_ENDPOINT)]
    list_tail = len(f'],"total":{count}}}')
    list_sizes = [
        _LIST_PREFIX + sum(data.charger_bytes[i] for i in chosen) + count - 1 + list_tail
        for chosen in lists
    ]
    chargers = Endpoint(
        kind="chargers",
        label=f"/chargers x{count} ids",
        paths=[
            "/chargers?" + urlencode([("chargerIds", ids[i]) for i in chosen]) for chosen in lists
        ],
        expected=[count] * len(lists),
        body_bytes=round(sum(list_sizes) / len(list_sizes)),
    )

    order = list(range(len(ids)))
    rng.shuffle(order)
    singles = [order[n % len(order)] for n in range(PATHS_PER_ENDPOINT)]
    charger = Endpoint(
        kind="charger",
        label="/chargers/{id}",
        paths=[f"/chargers/{ids[i]}" for i in singles],
        expected=[1] * len(singles),
        body_bytes=round(sum(data.charger_bytes[i] for i in singles) / len(singles)),
    )

    months = [(rng.randrange(len(ids)), rng.randrange(MONTHS)) for _ in range(PATHS_PER_ENDPOINT)]
    session_paths = []
    for i, month in months:
        first, last = month_range(month)
        query = urlencode({"startDate": first.isoformat(), "endDate": last.isoformat()})
        session_paths.append(f"/chargers/{ids[i]}/sessions?{query}")
    sizes = [2 + data.month_bytes[i][m] + max(data.month_counts[i][m] - 1, 0) for i, m in months]
    sessions = Endpoint(
        kind="sessions",
        label="/chargers/{id}/sessions (1 month)",
        paths=session_paths,
        expected=[data.month_counts[i][m] for i, m in months],
        body_bytes=round(sum(sizes) / len(sizes)),
    )
    return [chargers, charger, sessions]


def problem(kind: Kind, path: str, status: int, body: bytes, expected: int) -> str | None:
    """What is wrong with a response to `path`, or None if it is what the dataset implies."""
    if status != 200:
        return f"GET {path} answered {status}: {body[:200]!r}"
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"GET {path} answered non-JSON: {body[:200]!r}"
    if kind == "chargers":
        right = isinstance(document, dict) and document.get("total") == expected
        right = right and len(document.get("chargers", ())) == expected
        wanted = f"{expected} chargers, total {expected}"
    elif kind == "charger":
        right = isinstance(document, dict) and document.get("id") == path.rsplit("/", 1)[1]
        wanted = "that charger"
    else:
        right = isinstance(document, list) and len(document) == expected
        wanted = f"{expected} sessions (per the dataset)"
    if right:
        return None
    got = f"{len(document)} items" if isinstance(document, list) else repr(body[:200])
    return f"GET {path}: expected {wanted}, got {got}"
