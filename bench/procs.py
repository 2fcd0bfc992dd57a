"""Child processes of the benchmark: one-shot commands, servers and wrk.

Every server runs in its own process group (its uvicorn workers with it) and is stopped by that
group's id when its `with` block ends, however it ends. Every wait is bounded by a deadline.
"""

from __future__ import annotations

import http.client
import os
import resource
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import orjson

BENCH_DIR = Path(__file__).resolve().parent
ROTATE_SCRIPT = BENCH_DIR / "rotate.lua"
LOOPBACK = "127.0.0.1"
_STOP_GRACE_S = 15.0
_TICKS = os.sysconf("SC_CLK_TCK")
# Database servers serve the measured requests: their CPU is the benchmark's, not interference.
_SERVICES = {"postgres", "redis-server"}
_BOX = "".join(map(chr, range(0x2500, 0x2580)))  # Unicode box drawing: Rich's error panels


class CommandFailed(Exception):
    """A command the benchmark depends on did not succeed; the message says which and why."""


def display(argv: Sequence[str]) -> str:
    """The command as a person would type it: venv executables by their bare name."""
    return shlex.join([Path(a).name if a.startswith(str(BENCH_DIR.parent)) else a for a in argv])


def tail(text: str, lines: int = 3, limit: int = 400) -> str:
    """The last lines of a command's output on one line, without Rich's box drawing."""
    plain = (line.strip(_BOX + " ") for line in text.splitlines())
    kept = [" ".join(line.split()) for line in plain if line][-lines:]
    joined = " | ".join(kept)
    return joined[-limit:] if joined else "(no output)"


def run_command(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run to completion; CommandFailed (with the tail of its output) unless it exits 0."""
    try:
        proc = subprocess.run(
            argv,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"`{display(argv)}` timed out after {timeout:.0f} s") from None
    except OSError as exc:
        raise CommandFailed(f"`{display(argv)}` could not start: {exc}") from None
    if proc.returncode != 0:
        output = proc.stderr if proc.stderr.strip() else proc.stdout
        raise CommandFailed(f"`{display(argv)}` exited {proc.returncode}: {tail(output)}")
    return proc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def http_get(
    port: int, path: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _stop_group(proc: subprocess.Popen[bytes], first_signal: signal.Signals) -> None:
    """Signal the process group `proc` leads; escalate to SIGKILL if it outlives the grace."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, first_signal)
            proc.wait(timeout=_STOP_GRACE_S)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=_STOP_GRACE_S)
    # The leader may be gone while a worker it spawned lingers in the group.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def server(
    argv: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    log: Path,
    ready_timeout: float = 60.0,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server listening on `port` and wait until GET /health answers 200.

    Output goes to `log` (a file, as production logs go somewhere that does not push back).
    CommandFailed if it exits or stays unready; the process group is stopped on leaving.
    """
    with log.open("ab") as log_file:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_healthy(proc, argv, port, log, ready_timeout)
            yield proc
        finally:
            _stop_group(proc, stop_signal)


def _wait_healthy(
    proc: subprocess.Popen[bytes], argv: Sequence[str], port: int, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CommandFailed(
                f"`{display(argv)}` exited {proc.returncode} before GET /health answered: "
                + tail(log.read_text(errors="replace"))
            )
        try:
            status, _ = http_get(port, "/health", timeout=1.0)
        except OSError as exc:
            last = str(exc)
        else:
            if status == 200:
                return
            last = f"HTTP {status}"
        time.sleep(0.1)
    raise CommandFailed(f"`{display(argv)}`: GET /health not 200 within {timeout:.0f} s ({last})")


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int  # wrk counts responses with status >= 400 here; see README
    socket_errors: int
    p50_ms: float
    p99_ms: float
    bytes_per_request: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def run_wrk(
    port: int,
    paths_file: Path,
    *,
    duration: float,
    connections: int,
    threads: int,
    headers: Mapping[str, str],
    log: Path,
) -> WrkResult:
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s"]
    argv += ["--latency", "--timeout", "5s", "-s", str(ROTATE_SCRIPT)]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv += [f"http://{LOOPBACK}:{port}/", "--", str(paths_file)]
    proc = run_command(argv, timeout=duration + 60)
    with log.open("a") as out:
        out.write(f"$ {display(argv)}\n{proc.stdout}\n")
    marker = "BENCH_RESULT "
    line = next((x for x in proc.stdout.splitlines() if x.startswith(marker)), None)
    if line is None:
        raise CommandFailed(f"`{display(argv)}` printed no result line: {tail(proc.stdout)}")
    data = orjson.loads(line[len(marker) :])
    requests = int(data["requests"])
    return WrkResult(
        requests=requests,
        seconds=data["duration_us"] / 1e6,
        non_2xx=int(data["status"]),
        socket_errors=int(data["connect"] + data["read"] + data["write"] + data["timeout"]),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        bytes_per_request=data["bytes"] / max(requests, 1),
    )


@dataclass(frozen=True, slots=True)
class CpuSample:
    wall: float
    busy: float  # CPU seconds the whole machine has spent busy (not idle, not in I/O wait)
    # CPU seconds so far of each process counted as the benchmark's, by pid; _HARNESS holds the
    # harness and its reaped children (wrk). Per process, because a process that exits between
    # two samples takes its total with it, which would read as negative use.
    ours: dict[int, float]


_HARNESS = -1


def _proc_stat(stat: Path) -> tuple[str, int, float]:
    """(command, process group, CPU seconds) of one /proc/PID/stat."""
    text = stat.read_text()
    command = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return command, int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_sample(pgid: int) -> CpuSample:
    with open("/proc/stat") as machine:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, machine.readline().split()[1:8])
    ours = {
        _HARNESS: sum(
            getattr(resource.getrusage(who), field)
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
            for field in ("ru_utime", "ru_stime")
        )
    }
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            command, group, seconds = _proc_stat(stat)
        except (OSError, ValueError, IndexError):
            continue  # the process ended while being read
        if group == pgid or command in _SERVICES:
            ours[int(stat.parent.name)] = seconds
    busy = (user + nice + system + irq + softirq) / _TICKS
    return CpuSample(time.monotonic(), busy, ours)


def other_cores(before: CpuSample, after: CpuSample) -> float:
    """Cores' worth of CPU that processes outside the benchmark used between two samples."""
    ours = sum(seconds - before.ours.get(pid, 0.0) for pid, seconds in after.ours.items())
    foreign = (after.busy - before.busy) - ours
    return max(foreign, 0.0) / (after.wall - before.wall)
