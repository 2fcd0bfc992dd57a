"""Shared fixtures. Tests that need PostgreSQL or Redis skip when it is not reachable, unless
EVSHARE_REQUIRE_SERVICES=1 (set by CI), which turns the skip into a failure."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import settings

from tests.servers import free_port

# Hypothesis' 200 ms deadline per example measures the machine, not the code: on a loaded 2-core
# box a first call (imports, a cold cache) takes longer, and the test fails as "flaky".
settings.register_profile("evshare", deadline=None)
settings.load_profile("evshare")

POSTGRES_URL = os.environ.get("EVSHARE_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("EVSHARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the DynamoDB instance of a store-parametrized test whose module checks the
    database through SQL or its own files (see _DYNAMODB_SUITES): it is not a case of that test,
    so it is not collected rather than skipped. Then mark what a test needs from the fixtures
    it uses, so that `-m` can choose a tier: the fast tier (`make test-fast`) is everything that
    needs no service, no server process and no evshare subprocess (the `cli` fixture runs the
    command in-process)."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if _sql_only_on_dynamodb(item) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & {"postgres_url", "postgres_database"}:
            item.add_marker(pytest.mark.postgres)
        if "redis_url" in used:
            item.add_marker(pytest.mark.redis)


def _sql_only_on_dynamodb(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is None or "dynamodb" not in (
        callspec.params.get("database_url"),
        callspec.params.get("store_url"),
    ):
        return False
    return not item.module.__name__.startswith(_DYNAMODB_SUITES)  # type: ignore[attr-defined]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or default_port)
    try:
        with socket.create_connection(address, 1):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> str:
    """Return `url` if the service answers; otherwise skip, or fail when CI requires services."""
    if _reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url}"
    if os.environ.get("EVSHARE_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and EVSHARE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_service("PostgreSQL", POSTGRES_URL, 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_service("Redis", REDIS_URL, 6379)


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A database of its own for this test run, migrated once, dropped at the end."""
    import psycopg

    from evshare.store import schema

    name = f"evshare_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    schema.upgrade(url)
    yield url
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            db.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


DYNAMODB_REGION = "ca-central-1"


def start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """moto in server mode on a free loopback port: AWS services over real HTTP."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("moto_server")),
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310
                return proc, endpoint
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto_server did not start; see {log}") from None
            time.sleep(0.1)


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto server for the run. For DynamoDB the standard variables point boto3 at it for
    the whole run (in-process servers and CLI subprocesses alike); nothing else differs."""
    proc, endpoint = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
        )
    }
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", DYNAMODB_REGION)
    try:
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def dynamodb_url(moto_endpoint: str) -> str:
    """A new, empty table at the current schema in the run's moto server."""
    from evshare.store import schema

    url = f"dynamodb://evshare-{secrets.token_hex(6)}?region={DYNAMODB_REGION}"
    schema.upgrade(url)
    return url


def _store_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    from evshare.store import schema

    if kind == "memory":
        from evshare.store.memory import MemoryStore

        name = secrets.token_hex(8)
        yield f"memory://{name}"
        MemoryStore.forget(name)
    elif kind == "dynamodb":
        yield str(request.getfixturevalue("dynamodb_url"))
    elif kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'evshare.db'}"
        schema.upgrade(url)
        yield url
    else:
        url = str(request.getfixturevalue("postgres_database"))
        _empty_postgres(url)
        yield url


POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
# DynamoDB in moto's server mode: a process of its own, shared with CLI subprocesses too.
DYNAMODB = pytest.param("dynamodb", marks=pytest.mark.process)
# The suites that speak only through the port, the API, the CLI or Lambda run on DynamoDB too;
# others (credits, audit, ingest) check their results with SQL or by sizes moto cannot serve.
_DYNAMODB_SUITES = ("tests.api.", "tests.aws.", "tests.store.", "tests.cli.")


@pytest.fixture(params=["sqlite", POSTGRES, DYNAMODB])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database at the current schema, on each SQL store in turn: for tests whose
    store must be shared with another process (the CLI, a server)."""
    yield from _store_url(request.param, request, tmp_path)


@pytest.fixture(params=["memory", "sqlite", POSTGRES, DYNAMODB])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store on each adapter in turn, the in-memory one too: for tests that use the
    store from this process only (memory://NAME is the same store to every open in it)."""
    yield from _store_url(request.param, request, tmp_path)
