"""A real server (`evshare serve`, real HTTP) over PostgreSQL in trouble: its connections killed
mid-run, the database refusing connections, a black hole that accepts and never answers, a
statement that runs out of time. Every answer is a 200 or a 503 `unavailable` with Retry-After,
none takes long (the server gives up on the database after 1 + 1 + 1 s here; the bound below is
generous), there is never a 500 (nor a traceback in the server's log), and the server recovers on
its own once the database is back.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import psycopg
import pytest

from tests.postgres.conftest import Served, with_port
from tests.postgres.proxy import Proxy
from tests.servers import EVSHARE, Server, serve, server_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# Small limits, so that a fault is answered within seconds: the pool waits 1 s for a connection,
# libpq 2 s (its minimum) to connect, the server 1 s for a statement.
FAST_FAILING = {
    "EVSHARE_DB_CONNECT_TIMEOUT": "1",
    "EVSHARE_DB_STATEMENT_TIMEOUT": "1",
    "EVSHARE_DB_POOL_MIN": "2",
    "EVSHARE_DB_POOL_MAX": "4",
    "EVSHARE_ACCESS_LOG": "false",
}
BOUND_S = 10.0  # no answer may take this long: it would mean a hang
RECOVERY_S = 60.0
PATHS = ("/chargers", "/chargers/CH-001", "/chargers/CH-001/sessions", "/health")


@dataclass(frozen=True)
class Answer:
    path: str
    status: int
    retry_after: str | None
    code: str | None
    seconds: float


def ask(client: httpx.Client, token: str, path: str) -> Answer:
    started = time.monotonic()
    response = client.get(path, headers={"x-api-key": token})
    seconds = time.monotonic() - started
    code = orjson.loads(response.content).get("code") if response.status_code >= 400 else None
    return Answer(path, response.status_code, response.headers.get("retry-after"), code, seconds)


def assert_unavailable(answer: Answer) -> None:
    assert answer.status == 503, answer
    assert answer.code == "unavailable", answer
    assert answer.retry_after is not None, answer
    assert answer.retry_after.isdigit(), answer
    assert int(answer.retry_after) >= 1, answer
    assert answer.seconds < BOUND_S, answer


def assert_served(client: httpx.Client, token: str) -> None:
    """Every path answers 200 with the right data."""
    answers = {path: client.get(path, headers={"x-api-key": token}) for path in PATHS}
    assert {path: r.status_code for path, r in answers.items()} == dict.fromkeys(PATHS, 200)
    assert answers["/chargers"].json()["total"] == 1
    assert answers["/chargers/CH-001/sessions"].json()[0]["energy"] == 17934.1


def wait_until_served(client: httpx.Client, token: str) -> None:
    """Poll until the server answers 200 again; fail after RECOVERY_S."""
    deadline = time.monotonic() + RECOVERY_S
    while ask(client, token, "/chargers/CH-001").status != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"the server did not recover within {RECOVERY_S} s")
        time.sleep(0.2)
    assert_served(client, token)


def assert_no_server_errors(server: Server) -> None:
    log = server.output()
    assert "Traceback" not in log, log
    assert "unhandled error" not in log, log


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[Proxy]:
    parts = urlsplit(postgres_url)
    with Proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as running:
        yield running


@pytest.fixture
def server(served_database: Served, proxy: Proxy, tmp_path: Path) -> Iterator[Server]:
    url = with_port(served_database.database_url, proxy.port)
    with serve(server_env(url, **FAST_FAILING), tmp_path / "server.log") as running:
        yield running
        # The proxy is restored by each test before the server stops, so that it can shut down.
    assert_no_server_errors(running)


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base, timeout=30) as http:
        yield http


def kill_server_connections(database_url: str) -> int:
    """pg_terminate_backend on every connection the server holds; how many there were."""
    with psycopg.connect(database_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'evshare'"
        ).fetchall()
    return len(killed)


def test_connections_killed_mid_run_cost_no_request(
    server: Server, client: httpx.Client, served_database: Served
) -> None:
    token = served_database.token
    answers: list[Answer] = []
    stop = threading.Event()

    def load(path: str) -> None:
        with httpx.Client(base_url=server.base, timeout=30) as own:
            while not stop.is_set():
                answers.append(ask(own, token, path))

    def wait_for_answers(count: int) -> None:
        deadline = time.monotonic() + 30
        target = len(answers) + count
        while len(answers) < target:
            assert time.monotonic() < deadline, "the load stalled"
            time.sleep(0.05)

    with ThreadPoolExecutor(len(PATHS)) as pool:
        running = [pool.submit(load, path) for path in PATHS]
        try:
            wait_for_answers(40)
            for _ in range(3):
                assert kill_server_connections(served_database.database_url) >= 1
                wait_for_answers(40)
        finally:
            stop.set()
        for done in running:
            done.result()

    # Reads are retried on another connection when theirs turns out dead: no request fails.
    assert Counter(answer.status for answer in answers) == {200: len(answers)}
    assert max(answer.seconds for answer in answers) < BOUND_S
    assert_served(client, token)


@pytest.mark.parametrize("fault", ["refuse", "black_hole"])
def test_a_database_that_refuses_or_never_answers_is_a_503_until_it_is_back(
    proxy: Proxy, client: httpx.Client, served_database: Served, fault: str
) -> None:
    """Refused: connecting fails at once. Black hole: connections are accepted and never
    answered, so only the deadline ends a call; each answer must still come within BOUND_S."""
    token = served_database.token
    assert_served(client, token)
    getattr(proxy, fault)()
    try:
        # More requests than the pool has connections: the ones still held by calls given up on
        # must not make later requests wait any longer.
        for _ in range(2):
            for path in PATHS:
                assert_unavailable(ask(client, token, path))
    finally:
        proxy.restore()
    wait_until_served(client, token)


def test_a_statement_past_its_timeout_is_a_503_and_the_server_carries_on(
    client: httpx.Client, served_database: Served
) -> None:
    token = served_database.token
    assert_served(client, token)
    with psycopg.connect(served_database.database_url) as locker:
        locker.execute("LOCK TABLE chargers IN ACCESS EXCLUSIVE MODE")
        for path in ("/chargers", "/chargers/CH-001", "/health"):
            assert_unavailable(ask(client, token, path))
        locker.rollback()
    assert_served(client, token)


def test_a_server_started_while_the_database_is_a_black_hole_exits_promptly(
    proxy: Proxy, served_database: Served
) -> None:
    url = with_port(served_database.database_url, proxy.port)
    proxy.black_hole()
    try:
        # A hang would raise TimeoutExpired.
        done = subprocess.run(
            [EVSHARE, "serve", "--port", "0"],
            env=server_env(url, **FAST_FAILING),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        proxy.restore()
    assert done.returncode == 1
    assert "cannot reach the database" in done.stderr
    assert "Traceback" not in done.stderr
