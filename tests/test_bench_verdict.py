"""`make bench`'s verdict: a full run that misses a target fails unless told only to report; a
quick run is never judged on targets and never writes over the recorded results."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[1] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("run")


@pytest.mark.parametrize(
    ("quick", "report_only", "status"), [(False, False, 1), (False, True, 0), (True, False, 0)]
)
def test_a_missed_target_fails_a_full_run_only(
    bench: ModuleType, quick: bool, report_only: bool, status: int
) -> None:
    from report import Report, Target  # type: ignore[import-not-found]

    result = Report(started="now", argv=[], settings={}, machine={})
    result.targets = [Target("import ratio", "0.5", False), Target("http ratio", "0.9", True)]
    settings = bench.Settings(
        chargers=1,
        sessions=1,
        duration=1,
        warmup=1,
        connections=1,
        threads=1,
        quick=quick,
        only=None,
        without_access_log=False,
        report_only=report_only,
    )
    assert bench.exit_status(result, settings) == status


def test_quick_targets_are_marked_not_judged(bench: ModuleType) -> None:
    from report import Report, Target

    settings = {"quick": True, "threads": 1, "connections": 1, "duration": 1, "warmup": 1}
    result = Report(
        started="now",
        argv=[],
        settings={**settings, "paths_per_endpoint": 1},
        machine={
            "cores": 2,
            "cpu": "x",
            "memory_gib": 1,
            "python": "3",
            "load_average_start": 0,
            "versions": {},
            "commit": "c",
        },
    )
    result.dataset = {"chargers": 1, "sessions": 1, "span": "one day"}
    result.targets = [Target("import ratio", "0.5", False)]
    markdown = result.to_markdown()
    assert "not judged (quick run)" in markdown
    assert "❌" not in markdown


def test_the_makefile_never_installs_anything() -> None:
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert "apt-get install -y" not in makefile
    assert "sudo apt-get install wrk" in makefile  # says how, instead
