"""Fixtures for the aggregator's side: broken providers and a real evshare server, over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.conftest import Keys, ServerThread, seed, serve
from tests.client.providers import Provider


@contextmanager
def running(provider: Provider) -> Iterator[str]:
    with ServerThread(provider) as base:
        yield base


ProviderFactory = Callable[..., AbstractContextManager[tuple[Provider, str]]]


@pytest.fixture
def provider() -> ProviderFactory:
    """`with provider(defects=[...], chargers=N, sessions=N) as (p, url): ...`"""

    @contextmanager
    def make(**kw: Any) -> Iterator[tuple[Provider, str]]:
        built = Provider.build(**kw)
        with running(built) as base:
            yield built, base

    return make


@pytest.fixture
def database_url_postgres_empty(postgres_database: str) -> str:
    """The session's PostgreSQL test database, emptied."""
    from tests.conftest import _empty_postgres

    _empty_postgres(postgres_database)
    return postgres_database


@dataclass(frozen=True)
class Evshare:
    base: str
    keys: Keys
    database_url: str


@pytest.fixture(params=["1.2.0", "1.0.7"])
def evshare_server(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Evshare]:
    """A real evshare server (SQLite) over the API tests' seeded data, in each profile."""
    from evshare.store import schema

    url = f"sqlite:///{tmp_path / 'served.db'}"
    schema.upgrade(url)
    keys = asyncio.run(seed(url))
    with serve(url, profile=request.param) as base:
        yield Evshare(base, keys, url)
