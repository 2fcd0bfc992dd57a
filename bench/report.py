"""Benchmark results: what was measured, on what machine, rendered as Markdown and JSON."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import orjson

Status = Literal["ok", "skipped", "failed"]
PACKAGES = ("evshare", "granian", "uvicorn", "uvloop", "httptools", "orjson", "psycopg", "redis")
BUSY_CORES = 0.15  # other processes' CPU above which a measurement is flagged as disturbed
_MARK = {True: "✅ pass", False: "❌ fail", None: "⏭ skipped"}
_QUICK = "not judged (quick run)"


@dataclass(slots=True)
class ImportRow:
    store: str
    method: str
    status: Status = "ok"
    reason: str = ""
    rows: int = 0
    seconds: float | None = None
    rows_per_s: float | None = None
    ratio_to_raw: float | None = None

    def measured(self, rows: int, seconds: float) -> None:
        self.rows, self.seconds, self.rows_per_s = rows, seconds, rows / seconds

    def skip(self, reason: str) -> None:
        self.status, self.reason = "skipped", reason

    def fail(self, reason: str) -> None:
        self.status, self.reason = "failed", reason


@dataclass(slots=True)
class HttpRow:
    server: str
    store: str
    limiter: str
    access_log: bool
    kind: str
    endpoint: str
    status: Status = "ok"
    reason: str = ""
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int | None = None
    non_2xx: int | None = None
    socket_errors: int | None = None
    body_bytes: int | None = None
    other_cpu: float | None = None  # cores used by processes outside the benchmark meanwhile
    ratio_to_bare: float | None = None
    ratio_to_pgbench: float | None = None  # PostgreSQL rows: x `pgbench -S` in the same run

    def skip(self, reason: str) -> None:
        self.status, self.reason = "skipped", reason

    def fail(self, reason: str) -> None:
        self.status, self.reason = "failed", reason


@dataclass(slots=True)
class CommandRow:
    """A batch command over the loaded data (credits, audit), timed end to end."""

    store: str
    command: str
    status: Status = "ok"
    reason: str = ""
    seconds: float | None = None

    def skip(self, reason: str) -> None:
        self.status, self.reason = "skipped", reason


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    value: str
    passed: bool | None  # None: not measured in this run
    reason: str = ""


@dataclass(slots=True)
class Report:
    started: str
    argv: list[str]
    settings: dict[str, Any]
    machine: dict[str, Any]
    dataset: dict[str, Any] = field(default_factory=dict)
    imports: list[ImportRow] = field(default_factory=list)
    http: list[HttpRow] = field(default_factory=list)
    collect: list[Any] = field(default_factory=list)  # collect.CollectRow (collect imports us)
    commands: list[CommandRow] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    finished: str = ""

    def failed(self) -> list[Any]:
        """What ran and went wrong. An evshare command that fails makes a skip, not a failure:
        the product may not have it yet."""
        rows: list[Any] = [*self.imports, *self.http, *self.collect]
        return [row for row in rows if row.status == "failed"]

    def missed(self) -> list[Target]:
        """Targets measured and not met (a target not measured is neither met nor missed)."""
        return [t for t in self.targets if t.passed is False]

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)

    def to_markdown(self) -> str:
        s, d, m = self.settings, self.dataset, self.machine
        lines = [
            f"# evshare benchmark, {self.started}" + (" (quick)" if s["quick"] else ""),
            "",
            f"Machine: {m['cores']} cores, {m['cpu']}, {m['memory_gib']} GiB, Python {m['python']},"
            f" load average at start {m['load_average_start']}; "
            + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
            + f"; commit {m['commit']}.",
            "",
            f"Dataset: {d.get('chargers', '?'):,} chargers x {d.get('sessions', '?'):,} sessions,"
            f" {d.get('span', '')}. wrk: {s['threads']} threads, {s['connections']} connections,"
            f" {s['duration']:g} s after a {s['warmup']:g} s warm-up, rotating over"
            f" {s['paths_per_endpoint']:,} paths per endpoint. Servers: 2 workers each; `evshare"
            " serve` runs granian; *x bare* is against bare ASGI on uvicorn (the reference),"
            " bare ASGI on granian is shown beside it. Bare ASGI runs without access log; evshare"
            " rows say whether theirs was on. *x pgbench* is against `pgbench -S` (simple"
            " protocol, the same 64 clients) on the same PostgreSQL in the same run, which is"
            " vacuumed and analyzed after the load (as after any bulk load) before anything is"
            " measured on it.",
            "",
            "## Targets",
            "",
            "| target | value | result |",
            "|---|---|---|",
            *[
                f"| {t.name} | {t.value} | {_QUICK if s['quick'] else _MARK[t.passed]} |"
                for t in self.targets
            ],
            "",
            *(
                [
                    "A --quick run is a smoke test: its import is mostly process start-up and"
                    " its runs are short. Judge the targets on a full `make bench`.",
                    "",
                ]
                if s["quick"]
                else []
            ),
            "## Import (sessions)",
            "",
            "| store | method | rows | seconds | rows/s | x raw | status |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        lines += [
            f"| {r.store} | {r.method} | {r.rows:,} | {_num(r.seconds, '.2f')} |"
            f" {_num(r.rows_per_s, ',.0f')} | {_num(r.ratio_to_raw, '.2f')} | {r.status} |"
            for r in self.imports
        ]
        lines += [
            "",
            "## Batch commands over all sessions (credits, audit)",
            "",
            "| store | command | seconds | status |",
            "|---|---|---:|---|",
        ]
        lines += [
            f"| {r.store} | `{r.command}` | {_num(r.seconds, '.2f')} |"
            f" {r.status}{' (' + r.reason + ')' if r.reason else ''} |"
            for r in self.commands
        ]
        lines += [
            "",
            "## HTTP",
            "",
            "| server | store | limiter | log | endpoint | req/s | p50 ms | p99 ms | body B"
            " | other CPU | x bare | x pgbench | status |",
            "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        lines += [
            f"| {r.server} | {r.store} | {r.limiter} | {_on(r.access_log)} |"
            f" {r.endpoint} | {_num(r.rps, ',.0f')} | {_num(r.p50_ms, '.2f')} |"
            f" {_num(r.p99_ms, '.2f')} | {_num(r.body_bytes, ',')} | {_num(r.other_cpu, '.2f')} |"
            f" {_num(r.ratio_to_bare, '.2f')} | {_num(r.ratio_to_pgbench, '.2f')} | {r.status} |"
            for r in self.http
        ]
        from collect import markdown as collect_markdown

        lines += collect_markdown(self.collect)
        busy = [r for r in self.http if (r.other_cpu or 0) > BUSY_CORES]
        if busy:
            lines += [
                "",
                f"**Warning:** {len(busy)} of these measurements ran while processes outside the"
                f" benchmark used more than {BUSY_CORES} cores (column *other CPU*; database"
                " servers count as the benchmark's): their figures understate.",
            ]
        reasons: dict[str, list[str]] = {}
        for imp in self.imports:
            if imp.reason:
                reasons.setdefault(f"{imp.status}: {imp.reason}", []).append(
                    f"{imp.store} {imp.method}"
                )
        for row in self.http:
            if row.reason:
                # Per server rather than per endpoint: a failure's reason names its path.
                where = reasons.setdefault(f"{row.status}: {row.reason}", [])
                server = f"{row.server} {row.store}, {row.limiter}, log {_on(row.access_log)}"
                if row.server.startswith(("bare ASGI", "pgbench")):
                    server = f"bare ASGI {row.endpoint}"
                if server not in where:
                    where.append(server)
        if reasons:
            lines += ["", "## Skipped and failed", ""]
            for reason, rows in reasons.items():
                lines.append(f"- {'; '.join(rows)}: {reason}")
        lines += ["", f"Finished {self.finished}.", ""]
        return "\n".join(lines)


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _first_line(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(repo: Path) -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
                break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory_kib / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "versions": {name: _version(name) for name in PACKAGES}
        | {
            "sqlite": sqlite3.sqlite_version,
            "wrk": _first_line(["wrk", "-v"]).split(" [")[0].removeprefix("wrk "),
        },
        "commit": _first_line(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"]),
    }
