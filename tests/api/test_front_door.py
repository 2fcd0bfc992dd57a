"""The front door of `evshare serve`, attacked through real sockets: huge and slow headers,
connections that never send a request, a flood of them, requests that never finish, malformed
ones and duplicated credential headers. After each, a normal client is still served quickly and
no worker has gone down.

The server runs with small limits (1 s for headers, 32 connections per worker) so that each
attack shows its effect in seconds. Everything is on loopback, every loop is bounded in count
and time, and the server's process group is stopped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from evshare.store import schema
from tests.api.conftest import Keys, seed
from tests.servers import serve

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 32
MAX_HEADER_BYTES = 16384
LOW_SOFT_LIMIT = ["sh", "-c", 'ulimit -Sn 1024 && exec "$@"', "sh"]


@dataclass(frozen=True)
class Front:
    port: int
    keys: Keys
    process: subprocess.Popen[bytes]
    log: Path
    database: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.settimeout(10)
        return sock

    def workers(self) -> list[int]:
        """The worker processes: the server's children."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def normal_latency(self) -> float:
        """Seconds a normal client takes for one authenticated request on a new connection."""
        began = time.perf_counter()
        answer = httpx.get(
            self.base + "/chargers/CH-001", headers={"x-api-key": self.keys.all}, timeout=10
        )
        assert answer.status_code == 200
        return time.perf_counter() - began


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    folder = tmp_path_factory.mktemp("front")
    database = folder / "evshare.db"
    url = f"sqlite:///{database}"
    schema.upgrade(url)
    keys = asyncio.run(seed(url))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EVSHARE_")},
        "EVSHARE_DATABASE_URL": url,
        "EVSHARE_HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
        "EVSHARE_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "EVSHARE_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
    }
    log = folder / "server.log"
    # A low soft limit on open files, as many systems start with, to see it raised.
    with serve(env, log, "--workers", "1", wrapper=LOW_SOFT_LIMIT) as running:
        yield Front(running.port, keys, running.process, log, database)


@pytest.fixture
def alive(front: Front) -> Iterator[Front]:
    """The server, checked after the test: the same worker serves, and serves quickly."""
    workers = front.workers()
    yield front
    assert front.workers() == workers, "a worker went down"
    # Quickly: every attack's connections are gone within the header timeout.
    deadline = time.monotonic() + 3 * HEADER_TIMEOUT_S + 5
    while front.normal_latency() > 0.5:
        assert time.monotonic() < deadline, "the server stayed slow after the attack"


def _read_all(sock: socket.socket, limit_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes (or `limit_s` passes), and when it closed."""
    began = time.monotonic()
    data = b""
    sock.settimeout(limit_s)
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data, time.monotonic() - began


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _body(response: bytes) -> dict[str, str]:
    body = orjson.loads(response.split(b"\r\n\r\n", 1)[1])
    assert isinstance(body, dict)
    return body


def test_huge_headers_are_431_and_the_connection_closed(alive: Front) -> None:
    with alive.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        answer, _ = _read_all(sock, 5)
    assert _status(answer) == 431
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(200))  # 20 KB in all
    with alive.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        answer, _ = _read_all(sock, 5)
    assert _status(answer) == 431


def test_headers_just_under_the_limit_are_served(alive: Front) -> None:
    filler = "x" * (MAX_HEADER_BYTES // 2)
    answer = httpx.get(
        alive.base + "/chargers/CH-001",
        headers={"x-api-key": alive.keys.all, "x-filler": filler},
        timeout=10,
    )
    assert answer.status_code == 200


def test_slow_headers_are_dropped_after_the_header_timeout(alive: Front) -> None:
    with alive.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        began = time.monotonic()
        closed = None
        for _ in range(int(10 / 0.1)):  # a byte every 0.1 s, for at most 10 s
            try:
                sock.sendall(b"X")
            except OSError:
                closed = time.monotonic() - began
                break
            sock.settimeout(0.1)
            try:
                if sock.recv(1024) == b"":
                    closed = time.monotonic() - began
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = time.monotonic() - began
                break
    assert closed is not None, "a client trickling its headers was never dropped"
    assert closed < HEADER_TIMEOUT_S + 1.5


@pytest.mark.parametrize("first", [b"", b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"])
def test_a_connection_that_sends_nothing_is_closed(alive: Front, first: bytes) -> None:
    """Sending nothing at all, or nothing after a first request (idle keep-alive)."""
    with alive.connect() as sock:
        sock.sendall(first)
        answer, after = _read_all(sock, 10)
    assert after < HEADER_TIMEOUT_S + 1.5
    if first:
        assert _status(answer) == 200


@pytest.mark.parametrize("method", [b"GET", b"POST"])
def test_a_request_whose_body_never_comes_does_not_hold_the_connection(
    alive: Front, method: bytes
) -> None:
    with alive.connect() as sock:
        sock.sendall(
            method
            + b" /chargers/CH-001 HTTP/1.1\r\nHost: x\r\nx-api-key: "
            + alive.keys.all.encode()
            + b"\r\nContent-Length: 100000\r\n\r\n{"
        )
        answer, after = _read_all(sock, 10)
    assert _status(answer) == (200 if method == b"GET" else 405)
    assert after < HEADER_TIMEOUT_S + 1.5


def test_a_flood_of_idle_connections_is_held_back_not_served_descriptors(alive: Front) -> None:
    (worker,) = alive.workers()
    soft, hard = _open_files_limits(worker)
    assert soft == hard, "the open files limit was not raised to the hard limit"
    idle = _sockets_of(worker)  # the listening socket and the runtime's own
    flood: list[socket.socket] = []
    try:
        for _ in range(MAX_CONNECTIONS * 4):
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", alive.port))
            flood.append(sock)
        time.sleep(0.3)
        # The worker holds at most its limit, the rest wait in the backlog.
        held = _sockets_of(worker)
        assert held - idle <= MAX_CONNECTIONS, f"{held - idle} connections open in the worker"
        # A normal client is served once the idle ones time out: within a few header timeouts,
        # never refused and never failed.
        latency = alive.normal_latency()
        assert latency < 4 * HEADER_TIMEOUT_S * (len(flood) / MAX_CONNECTIONS) + 2
    finally:
        for sock in flood:
            sock.close()


def test_malformed_requests_are_refused_and_the_worker_stays(alive: Front) -> None:
    for request in (
        b"GARBAGE\x00\x01 / HTTP/9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello
    ):
        with alive.connect() as sock:
            sock.sendall(request)
            answer, _ = _read_all(sock, 5)
        assert answer == b"" or _status(answer) == 400


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/chargers/CH-001/sessions?startDate=%ff%fe", 400, "invalid_parameter"),
        ("/chargers/CH-001/sessions?startDate=2021-02-30", 400, "invalid_parameter"),
        ("/chargers?pageSize=" + "9" * 5000, 400, "invalid_parameter"),
        ("/chargers?" + "&".join(["chargerIds=x"] * 1000), 200, None),
        ("/chargers/%ff%fe%00", 404, "not_found"),
        ("/chargers/" + "x" * 8000, 404, "not_found"),
    ],
)
def test_odd_requests_the_app_sees_answer_in_the_contract_shape(
    alive: Front, path: str, status: int, code: str | None
) -> None:
    with alive.connect() as sock:
        sock.sendall(
            b"GET "
            + path.encode()
            + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-api-key: "
            + alive.keys.all.encode()
            + b"\r\n\r\n"
        )
        answer, _ = _read_all(sock, 10)
    assert _status(answer) == status
    if code is not None:
        body = _body(answer)
        assert body["code"] == code
        assert set(body) == {"message", "code"}


@pytest.mark.parametrize("header", [b"x-api-key", b"Authorization"])
def test_a_credential_header_sent_twice_is_401(alive: Front, header: bytes) -> None:
    value = alive.keys.all.encode()
    if header == b"Authorization":
        value = b"Bearer " + value
    with alive.connect() as sock:
        sock.sendall(
            b"GET /chargers/CH-001 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + header
            + b": "
            + value
            + b"\r\n"
            + header
            + b": "
            + value
            + b"\r\n\r\n"
        )
        answer, _ = _read_all(sock, 10)
    assert _status(answer) == 401
    assert _body(answer) == {"message": "Unauthorized", "code": "unauthorized"}


def test_the_sqlite_files_are_the_owners_alone(front: Front) -> None:
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{front.database}{suffix}")
        assert path.exists(), path
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def _open_files_limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open files limit")


def _sockets_of(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).startswith("socket:"):
                count += 1
    return count


def test_a_killed_worker_is_replaced(front: Front) -> None:
    """Last in the module: it replaces the worker the other tests watch."""
    [worker] = front.workers()
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        assert front.process.poll() is None, front.log.read_text()
        workers = front.workers()
        if workers and worker not in workers:
            with contextlib.suppress(httpx.TransportError, AssertionError):
                front.normal_latency()
                break
        assert time.monotonic() < deadline, front.log.read_text()
        time.sleep(0.1)
    assert len(front.workers()) == 1
