"""AWS services (API Gateway here) in moto's server mode: the run's moto server (tests/conftest.py),
reset for each test, and the standard AWS variables pointing boto3 at it."""

from __future__ import annotations

import os
import urllib.request

import pytest

from tests.conftest import DYNAMODB_REGION as REGION


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto, and the standard AWS variables pointing boto3 at it (nothing else)."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return moto_endpoint
