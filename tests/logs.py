"""What one logger said during a test."""

from __future__ import annotations

import pytest


def messages(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    """The messages `logger` logged: the capture also holds every other logger's records (asyncio
    reporting a task another test left behind, for one), which a test must not count."""
    return [record.getMessage() for record in caplog.records if record.name == logger]
