"""The collect figure: `evshare collect` end to end from a local evshare server, beside the
server's own throughput for the same requests in the same run.

The server's own figure is wrk over every charger's full-history sessions path (the requests
collect makes), as sessions per second; collect's is the wall-clock time of a fresh `evshare
collect` of the whole dataset into an empty SQLite file (process start-up included), checked for
completeness. Both share the one machine with the server, as they would in production.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import orjson

import procs
from dataset import Dataset
from procs import LOOPBACK
from report import Status

COLLECT_TARGET_SESSIONS_PER_S = 50_000
COLLECT_CONCURRENCY = 8


@dataclass(slots=True)
class CollectRow:
    store: str = "SQLite"
    status: Status = "ok"
    reason: str = ""
    sessions: int = 0
    seconds: float | None = None
    sessions_per_s: float | None = None
    server_rps: float | None = None
    server_sessions_per_s: float | None = None
    ratio_to_server: float | None = None
    peak_rss_mib: float | None = None
    cpu_seconds: float | None = None  # the collect process's own CPU (user + system)

    def skip(self, reason: str) -> None:
        self.status, self.reason = "skipped", reason

    def fail(self, reason: str) -> None:
        self.status, self.reason = "failed", reason


def _paths(data: Dataset, run_dir: Path) -> Path:
    path = run_dir / "paths-collect.txt"
    path.write_text("".join(f"/chargers/{quote(i, safe='')}/sessions\n" for i in data.charger_ids))
    return path


def measure(
    row: CollectRow,
    *,
    evshare: str,
    data: Dataset,
    source_url: str,
    key: str,
    run_dir: Path,
    env: dict[str, str],
    workers: int,
    duration: float,
    warmup: float,
    connections: int,
    threads: int,
    wrk: bool,
) -> None:
    """Serve `source_url` (loaded with `data`), measure the server with wrk (when `wrk`), then
    time a fresh collect of it; record the figures on `row`."""
    port = procs.free_port()
    argv = [evshare, "serve", "--host", LOOPBACK, "--port", str(port)]
    argv += ["--workers", str(workers), "--database-url", source_url]
    target = f"sqlite:///{run_dir / 'collected.db'}"
    with procs.server(argv, port=port, env=env, log=run_dir / f"server-{port}.log") as _:
        if wrk:
            paths = _paths(data, run_dir)
            for seconds in (warmup, duration):
                result = procs.run_wrk(
                    port,
                    paths,
                    duration=seconds,
                    connections=connections,
                    threads=threads,
                    headers={"x-api-key": key},
                    log=run_dir / "wrk.log",
                )
            if result.non_2xx or result.socket_errors:
                row.fail(f"wrk: {result.non_2xx} errors, {result.socket_errors} socket errors")
                return
            row.server_rps = result.rps
            row.server_sessions_per_s = result.rps * data.sessions / data.chargers
        procs.run_command([evshare, "db", "upgrade", "--database-url", target], env=env)
        collect = [evshare, "collect", "bench", f"http://{LOOPBACK}:{port}", "--key-env"]
        collect += ["BENCH_COLLECT_KEY", "--concurrency", str(COLLECT_CONCURRENCY)]
        collect += ["--total-concurrency", str(COLLECT_CONCURRENCY), "--json"]
        collect += ["--database-url", target]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = procs.run_command(collect, env={**env, "BENCH_COLLECT_KEY": key}, timeout=3600)
        seconds = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = orjson.loads(done.stdout)["sources"][0]
    got = summary["sessions"]["new"]
    if summary["status"] != "ok" or got != data.sessions:
        row.fail(f"collect ended {summary['status']} with {got} of {data.sessions} sessions")
        return
    row.sessions, row.seconds = got, seconds
    row.cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row.sessions_per_s = got / seconds
    # ru_maxrss of the largest child so far, in KiB on Linux: the collect is the largest.
    row.peak_rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if row.server_sessions_per_s:
        row.ratio_to_server = row.sessions_per_s / row.server_sessions_per_s
    print(
        f"  evshare collect: {row.sessions_per_s:,.0f} sessions/s"
        + (
            f" (server alone: {row.server_sessions_per_s:,.0f})"
            if row.server_sessions_per_s
            else ""
        ),
        file=sys.stderr,
        flush=True,
    )


def markdown(rows: list[CollectRow]) -> list[str]:
    if not rows:
        return []
    lines = [
        "",
        "## Collect (sessions, from a local evshare server)",
        "",
        "| store | sessions | seconds | sessions/s | server sessions/s | x server | collect CPU s"
        " | peak RSS MiB | status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.store} | {r.sessions:,} | {_num(r.seconds, '.2f')} |"
            f" {_num(r.sessions_per_s, ',.0f')} | {_num(r.server_sessions_per_s, ',.0f')} |"
            f" {_num(r.ratio_to_server, '.2f')} | {_num(r.cpu_seconds, '.2f')} |"
            f" {_num(r.peak_rss_mib, ',.0f')} | {r.status} |"
        )
    lines += [
        "",
        "*server sessions/s*: wrk over every charger's full-history sessions path (what collect"
        " asks) times sessions per charger; *x server*: collect end to end (start-up included) as"
        " a share of it. Both run beside the server on the same cores. *collect CPU s*: the"
        " collect process's own CPU time, a figure that a busy machine inflates less.",
    ]
    reasons = [f"- {r.store}: {r.status}: {r.reason}" for r in rows if r.reason]
    return lines + (["", *reasons] if reasons else [])


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


__all__ = ["COLLECT_TARGET_SESSIONS_PER_S", "CollectRow", "markdown", "measure"]
