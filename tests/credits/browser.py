"""Open a page in a real headless Chromium (Debian's `chromium`): the DOM after scripts ran, the
console messages, a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Rendered:
    charts_drawn: int
    errors: int
    console_errors: list[str]
    screenshot: Path
    text: str


def chromium_or_skip() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("EVSHARE_REQUIRE_SERVICES") == "1":
        pytest.fail("chromium is not installed and EVSHARE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip("chromium is not installed (apt-get install chromium)")


def _run(chromium: str, *args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # tests run as root in CI
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def render(chromium: str, page: Path, screenshot: Path) -> Rendered:
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    profile = screenshot.parent / ".chromium-profile"
    url = page.resolve().as_uri()
    dom = _run(chromium, "--virtual-time-budget=5000", "--dump-dom", url, profile=profile)
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = _run(
        chromium,
        f"--screenshot={screenshot}",
        "--window-size=1200,2400",
        "--virtual-time-budget=5000",
        url,
        profile=profile,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body is not None, dom.stdout[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    console_errors = [
        line
        for line in (dom.stderr + shot.stderr).splitlines()
        if "CONSOLE" in line and ("Uncaught" in line or "error" in line.lower())
    ]
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    return Rendered(
        charts_drawn=int(attrs.get("charts-drawn", "-1")),
        errors=int(attrs.get("errors", "-1")),
        console_errors=console_errors,
        screenshot=screenshot,
        text=text,
    )
