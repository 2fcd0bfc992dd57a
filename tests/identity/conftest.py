from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.cli.conftest import cli  # noqa: F401 - the `evshare` command fixture, shared
from tests.identity.issuer import LocalIssuer


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture
def issuer(test_ca: tuple[trustme.CA, Path]) -> Iterator[LocalIssuer]:
    local = LocalIssuer(*test_ca)
    yield local
    local.stop()
