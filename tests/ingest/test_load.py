"""Importing into a real store: all or nothing, idempotent, duplicates named, dry runs, rejects,
export round trips, and a kill in the middle — on every store."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from evshare.config import load_settings
from evshare.errors import ImportFailed
from evshare.ingest import RowError
from evshare.ingest.load import ImportReport, Kind, run_import
from evshare.store import Store, open_store
from tests.servers import EVSHARE

T = TypeVar("T")


def charger(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"C{n:03d}", "name": f"Charger {n}", "timeZone": "America/Edmonton", **extra}


def session(n: int, charger_n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"S{n:06d}",
        "chargerId": f"C{charger_n:03d}",
        "energy": 1000.5 + n,
        "startTime": "2025-01-01T10:00:00Z",
        "endTime": "2025-01-01T11:00:00Z",
        "chargingDuration": 1800,
        **extra,
    }


def ndjson(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return str(path)


def with_store(url: str, work: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = await open_store(load_settings(database_url=url))
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def load(url: str, kind: Kind, files: list[str], **options: Any) -> ImportReport:
    return with_store(url, lambda store: run_import(store, kind, files, **options))


def exported(url: str) -> tuple[list[str], list[tuple[str, float]]]:
    async def work(store: Store) -> tuple[list[str], list[tuple[str, float]]]:
        chargers = [c.id async for c in store.export_chargers()]
        sessions = [(s.id, s.energy_wh) async for s in store.export_sessions(None, None, None)]
        return chargers, sessions

    return with_store(url, work)


@pytest.fixture
def chargers_loaded(database_url: str, tmp_path: Path) -> str:
    load(
        database_url, "chargers", [ndjson(tmp_path / "c.ndjson", [charger(n) for n in range(1, 4)])]
    )
    return database_url


def test_importing_twice_changes_nothing_and_a_changed_row_updates(
    chargers_loaded: str, tmp_path: Path
) -> None:
    url = chargers_loaded
    rows = [session(n) for n in range(50)]
    first = load(url, "sessions", [ndjson(tmp_path / "s.ndjson", rows)], batch_size=7)
    assert (first.counts.inserted, first.counts.updated, first.counts.unchanged) == (50, 0, 0)
    again = load(url, "sessions", [str(tmp_path / "s.ndjson")], batch_size=7)
    assert (again.counts.inserted, again.counts.updated, again.counts.unchanged) == (0, 0, 50)
    rows[3]["energy"] = 1.0
    changed = load(url, "sessions", [ndjson(tmp_path / "s2.ndjson", rows)], batch_size=7)
    assert (changed.counts.inserted, changed.counts.updated, changed.counts.unchanged) == (0, 1, 49)
    assert dict(exported(url)[1])["S000003"] == 1.0


def test_one_bad_row_imports_nothing_and_every_bad_row_is_named(
    chargers_loaded: str, tmp_path: Path
) -> None:
    rows = [session(n) for n in range(20)]
    rows[2]["energy"] = -5
    rows[15]["chargerId"] = "C999"
    rows[17]["endTime"] = "2025-01-01T09:00:00Z"
    path = ndjson(tmp_path / "s.ndjson", rows)
    with pytest.raises(ImportFailed) as caught:
        load(chargers_loaded, "sessions", [path], batch_size=5)
    message = str(caught.value)
    assert "3 invalid row(s); nothing was imported" in message
    assert f"{path}:3: energy=-5: must not be negative" in message
    assert f"{path}:16: chargerId='C999': unknown charger" in message
    assert f"{path}:18: endTime=" in message
    assert exported(chargers_loaded)[1] == []


def test_duplicates_are_named_within_and_across_batches_and_files(
    chargers_loaded: str, tmp_path: Path
) -> None:
    first = ndjson(tmp_path / "a.ndjson", [session(n) for n in range(10)] + [session(2)])
    second = ndjson(tmp_path / "b.ndjson", [session(100), session(7)])
    with pytest.raises(ImportFailed) as caught:
        load(chargers_loaded, "sessions", [first, second], batch_size=4)
    message = str(caught.value)
    assert f"{first}:11: id='S000002': duplicate id" in message
    assert f"{second}:2: id='S000007': duplicate id" in message
    assert "2 invalid row(s)" in message


def test_skip_invalid_loads_the_valid_rows_and_hands_over_the_rejected(
    chargers_loaded: str, tmp_path: Path
) -> None:
    rows = [session(n) for n in range(10)]
    rows[4]["startTime"] = "yesterday"
    rejected: list[RowError] = []
    report = load(
        chargers_loaded,
        "sessions",
        [ndjson(tmp_path / "s.ndjson", rows)],
        skip_invalid=True,
        on_reject=rejected.append,
        batch_size=3,
    )
    assert (report.counts.inserted, report.rejected) == (9, 1)
    assert [(e.line, e.field) for e in rejected] == [(5, "startTime")]
    assert rejected[0].record is not None
    assert len(exported(chargers_loaded)[1]) == 9


def test_a_dry_run_reports_and_writes_nothing(chargers_loaded: str, tmp_path: Path) -> None:
    report = load(
        chargers_loaded, "sessions", [ndjson(tmp_path / "s.ndjson", [session(1)])], dry_run=True
    )
    assert report.counts.inserted == 1
    assert exported(chargers_loaded)[1] == []


def test_a_file_that_breaks_part_way_leaves_nothing(chargers_loaded: str, tmp_path: Path) -> None:
    good = ndjson(tmp_path / "good.ndjson", [session(n) for n in range(30)])
    whole = gzip.compress((tmp_path / "good.ndjson").read_bytes())
    broken = tmp_path / "broken.ndjson.gz"
    broken.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImportFailed, match=r"broken\.ndjson\.gz"):
        load(chargers_loaded, "sessions", [good, str(broken)], batch_size=5)
    assert exported(chargers_loaded)[1] == []


@pytest.mark.process
def test_export_then_import_round_trips(chargers_loaded: str, tmp_path: Path) -> None:
    load(
        chargers_loaded,
        "sessions",
        [ndjson(tmp_path / "s.ndjson", [session(n, 1 + n % 3) for n in range(40)])],
    )
    env = {**os.environ, "EVSHARE_DATABASE_URL": chargers_loaded}
    for kind, fmt in (("chargers", "csv"), ("sessions", "csv"), ("sessions", "ndjson")):
        out = tmp_path / f"{kind}.{fmt}"
        subprocess.run(
            [EVSHARE, "export", kind, "--format", fmt, "-o", str(out)], env=env, check=True
        )
        done = subprocess.run(
            [EVSHARE, "import", kind, str(out)], env=env, check=True, capture_output=True, text=True
        )
        count = 3 if kind == "chargers" else 40
        assert f"0 inserted, 0 updated, {count} unchanged, 0 rejected" in done.stderr


def _wait_until_halfway(pid: int, size: int) -> None:
    """Until the import has read half its file: its earlier batches are written, uncommitted."""
    deadline = time.monotonic() + 60
    while True:
        io = Path(f"/proc/{pid}/io").read_text()
        read = int(next(line for line in io.splitlines() if line.startswith("rchar:")).split()[1])
        if read > size // 2:
            return
        assert time.monotonic() < deadline, "the import never got halfway"
        time.sleep(0.02)


@pytest.mark.process
def test_a_killed_import_leaves_the_store_as_it_was_and_a_rerun_completes(
    chargers_loaded: str, tmp_path: Path
) -> None:
    big = tmp_path / "big.ndjson"
    with big.open("wb") as out:
        for n in range(400_000):
            out.write(orjson.dumps(session(n, 1 + n % 3)) + b"\n")
    env = {**os.environ, "EVSHARE_DATABASE_URL": chargers_loaded}
    importing = subprocess.Popen(
        [EVSHARE, "import", "sessions", str(big)], env=env, stderr=subprocess.DEVNULL
    )
    _wait_until_halfway(importing.pid, big.stat().st_size)
    assert importing.poll() is None, "the import finished before it could be killed"
    importing.send_signal(signal.SIGKILL)
    importing.wait(10)
    assert exported(chargers_loaded)[1] == []
    rerun = subprocess.run(
        [EVSHARE, "import", "sessions", str(big)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "400000 inserted, 0 updated, 0 unchanged, 0 rejected" in rerun.stderr
    sessions = exported(chargers_loaded)[1]
    assert len(sessions) == len({sid for sid, _ in sessions}) == 400_000


def test_a_nul_character_is_a_row_error_on_every_store(
    chargers_loaded: str, tmp_path: Path
) -> None:
    rows = [session(1, id="S\x00X"), charger(9, name="bad\x00name")]
    path = ndjson(tmp_path / "s.ndjson", rows[:1])
    with pytest.raises(ImportFailed, match="must not contain a NUL character"):
        load(chargers_loaded, "sessions", [path])
    path = ndjson(tmp_path / "c.ndjson", rows[1:])
    with pytest.raises(ImportFailed, match=r"c\.ndjson:1: name=.*NUL"):
        load(chargers_loaded, "chargers", [path])


def test_progress_counts_the_bytes_of_every_file_and_only_goes_forward(
    chargers_loaded: str, tmp_path: Path
) -> None:
    first = ndjson(tmp_path / "a.ndjson", [session(n) for n in range(2000)])
    second = ndjson(tmp_path / "b.ndjson", [session(n) for n in range(2000, 2500)])
    seen: list[int] = []
    load(chargers_loaded, "sessions", [first, second], progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == Path(first).stat().st_size + Path(second).stat().st_size


def test_export_selects_whole_utc_days_and_refuses_anything_but_a_date(
    chargers_loaded: str, tmp_path: Path
) -> None:
    rows = [
        session(1, startTime="2025-01-01T23:59:59Z", endTime="2025-01-02T01:00:00Z"),
        session(2, startTime="2025-01-02T00:00:00Z", endTime="2025-01-02T01:00:00Z"),
        session(3, startTime="2025-01-02T23:59:59Z", endTime="2025-01-03T01:00:00Z"),
        session(4, startTime="2025-01-03T00:00:00Z", endTime="2025-01-03T01:00:00Z"),
    ]
    load(chargers_loaded, "sessions", [ndjson(tmp_path / "s.ndjson", rows)])
    env = {**os.environ, "EVSHARE_DATABASE_URL": chargers_loaded}
    day = subprocess.run(
        [EVSHARE, "export", "sessions", "--from", "2025-01-02", "--to", "2025-01-02"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert [orjson.loads(line)["id"] for line in day.stdout.splitlines()] == ["S000002", "S000003"]
    for args, option in (
        (["--from", "2025-01-02T00:00:00Z"], "--from"),
        (["--from", "2025-01-03", "--to", "2025-01-02"], "--from"),
    ):
        refused = subprocess.run(
            [EVSHARE, "export", "sessions", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert refused.returncode == 1
        assert option in refused.stderr
        assert "Traceback" not in refused.stderr
