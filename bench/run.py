"""`make bench`: import and HTTP throughput of evshare beside the limits of its stack.

    .venv/bin/python bench/run.py [--quick] [--chargers N] [--sessions N] [--duration S]
                                  [--only import|http] [--profile]

Measures, on one machine in one run: `evshare import sessions` against each store's raw bulk
load, and the three API endpoints (auth and usage plans on) against a bare ASGI app serving a
body of the same size on the same uvicorn stack. What cannot run yet (no evshare CLI, no usage
plans, no PostgreSQL or Redis) is reported as skipped with the reason. Results go to
bench/results/ as Markdown and JSON; see bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import psycopg

import collect
import dataset
import identity
import loads
import procs
import report
import workload
from procs import LOOPBACK, CommandFailed
from report import HttpRow, ImportRow, Report, Target

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_BIN = REPO / ".venv" / "bin"
EVSHARE = str(VENV_BIN / "evshare")
RESULTS_DIR = BENCH_DIR / "results"
POSTGRES_URL = os.environ.get("EVSHARE_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/14"
PLAN = ["bench", "--rate", "1000000", "--burst", "1000000"]  # never throttles the benchmark
WORKERS = 2
PRECHECK_PATHS = 20
KEEP_RUNS = 3
SESSIONS_TARGET = 0.5  # x bare ASGI
DETAIL_TARGET = 0.6  # x bare ASGI
P99_TARGET_MS = 10.0
PGBENCH_TARGET = 0.3  # PostgreSQL sessions and detail, x `pgbench -S`
REDIS_OVERHEAD_TARGET = 0.15  # throughput lost with the Redis limiter instead of memory
PGBENCH_SCALE = 10
IMPORT_TARGET_ROWS_PER_S = 100_000
IMPORT_TARGET_RAW_RATIO = 0.5  # "within 2x of raw"
CREDITS_TARGET_S = 3.0  # issue #15: credits over the million sessions, SQLite
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True, slots=True)
class Settings:
    chargers: int
    sessions: int
    duration: float
    warmup: float
    connections: int
    threads: int
    quick: bool
    only: str | None
    without_access_log: bool
    report_only: bool = False


@dataclass(frozen=True, slots=True)
class ServerConfig:
    limiter: str
    plan: bool  # the key is on the `bench` plan; otherwise the server's default plan applies
    redis: bool
    access_log: bool
    identity: bool = False  # a bearer JWT from a local issuer instead of an API key


@dataclass(slots=True)
class Access:
    """The API keys made for the benchmark, by whether they are on the bench plan, or why not."""

    keys: dict[bool, str] = field(default_factory=dict)
    problems: dict[bool, str] = field(default_factory=dict)

    def unavailable(self, reason: str) -> Access:
        self.problems = {False: reason, True: reason}
        return self


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> tuple[Settings, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small, short smoke run (CI)")
    parser.add_argument("--chargers", type=int, help="1000; --quick 50")
    parser.add_argument("--sessions", type=int, help="1,000,000; --quick 20,000")
    parser.add_argument("--duration", type=float, help="seconds per measurement: 10; --quick 2")
    parser.add_argument("--warmup", type=float, help="unrecorded seconds before each: 3; --quick 1")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=("import", "http", "collect"))
    parser.add_argument(
        "--without-access-log",
        action="store_true",
        help="also measure every evshare server with EVSHARE_ACCESS_LOG=false",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="exit 0 even when a full run misses a target (the report still says so)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of measuring, profile the sessions endpoint (SQLite) under pyinstrument",
    )
    args = parser.parse_args(argv)
    quick: bool = args.quick
    settings = Settings(
        chargers=args.chargers or (50 if quick else 1000),
        sessions=args.sessions or (20_000 if quick else 1_000_000),
        duration=args.duration or (2.0 if quick else 10.0),
        warmup=args.warmup or (1.0 if quick else 3.0),
        connections=args.connections,
        threads=args.threads,
        quick=quick,
        only=args.only,
        without_access_log=args.without_access_log,
        report_only=args.report_only,
    )
    return settings, args.profile


def product_env(*, access_log: bool = True, redis: bool = False) -> dict[str, str]:
    """The environment of evshare commands: the caller's without its EVSHARE_* settings (they
    would change what is measured), plus the variant's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSHARE_")}
    env["EVSHARE_ACCESS_LOG"] = "true" if access_log else "false"
    if redis:
        env["EVSHARE_REDIS_URL"] = REDIS_URL
    return env


def unavailable(argv: list[str], what: str) -> str | None:
    """None if the command exits 0, else why `what` cannot be measured."""
    try:
        procs.run_command(argv, env=product_env(), timeout=60)
    except CommandFailed as exc:
        return f"{what}: {exc}"
    return None


def service_problem(url: str, default_port: int, name: str) -> str | None:
    """None if `url` is a loopback address that answers, else why it cannot be used."""
    parts = urlsplit(url)
    host, port = parts.hostname or LOOPBACK, parts.port or default_port
    if host not in _LOOPBACK_HOSTS:
        return f"{name} at {host} not used: the benchmark only uses loopback addresses"
    if not procs.reachable(host, port):
        return f"{name} not reachable at {host}:{port}"
    return None


def settle(url: str) -> None:
    """What an operator does after a bulk load, done before measuring rather than left to
    autovacuum, which would otherwise run during the measurements that follow the load (seen:
    `pgbench -S` at 15k tps beside it, 25k without): statistics for the planner, and the
    visibility map that lets the sessions index answer alone."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


class Bench:
    """One run's dataset, what is available to measure, and the measurements."""

    def __init__(self, settings: Settings, run_dir: Path, result: Report) -> None:
        self.settings = settings
        self.run_dir = run_dir
        self.report = result
        say(f"dataset: {settings.chargers:,} chargers x {settings.sessions:,} sessions")
        self.data = dataset.build(settings.chargers, settings.sessions)
        self.endpoints = workload.endpoints(self.data)
        self.path_files = {ep.kind: ep.write_paths(run_dir) for ep in self.endpoints}
        self.cli_problem = unavailable([EVSHARE, "--help"], "evshare CLI not available")
        self.plans_problem = self.cli_problem or unavailable(
            [EVSHARE, "plans", "--help"], "usage plans not available yet"
        )
        self.redis_problem = service_problem(REDIS_URL, 6379, "Redis")
        self.wrk_problem = (
            None if shutil.which("wrk") else "wrk not installed (apt-get install wrk)"
        )
        self._rows: list[loads.Row] | None = None
        result.dataset = {
            "chargers": self.data.chargers,
            "sessions": self.data.sessions,
            "span": f"startTime {dataset.FIRST_DAY} to {dataset.LAST_DAY}",
            "seed": dataset.SEED,
            "directory": str(self.data.directory),
            "cached": self.data.cached,
            "generated_seconds": self.data.generated_seconds,
            "body_bytes": {ep.kind: ep.body_bytes for ep in self.endpoints},
        }

    def session_rows(self) -> list[loads.Row]:
        if self._rows is None:
            self._rows = loads.read_sessions(self.data.sessions_file)
        return self._rows

    def configs(self) -> list[ServerConfig]:
        logs = [True, False] if self.settings.without_access_log else [True]
        return [
            ServerConfig(limiter, plan, redis, log)
            for log in logs
            for limiter, plan, redis in (
                ("default plan", False, False),
                ("bench plan, memory", True, False),
                ("bench plan, Redis", True, True),
            )
        ] + [ServerConfig("bench plan, memory, JWT identity", True, False, True, identity=True)]

    def measure(
        self, row: HttpRow, endpoint: workload.Endpoint, port: int, key: str, pgid: int
    ) -> None:
        """Check a sample of answers, warm up, then measure; record the figures on `row`.

        `pgid` is the server's process group, whose CPU counts as the benchmark's own.
        """
        headers = {"x-api-key": key} if key.startswith("evs_") else {}
        if key and not key.startswith("evs_"):
            headers = {"authorization": f"Bearer {key}"}  # an identity's JWT
        sizes = []
        sample = zip(endpoint.paths, endpoint.expected, strict=True)
        for path, expected in list(sample)[:PRECHECK_PATHS]:
            status, body = procs.http_get(port, path, headers)
            if row.server == "evshare":
                wrong = workload.problem(endpoint.kind, path, status, body, expected)
            else:
                wrong = None if status == 200 else f"GET {path} answered {status}"
            if wrong:
                row.fail(wrong)
                return
            sizes.append(len(body))
        row.body_bytes = round(sum(sizes) / len(sizes))
        s, log = self.settings, self.run_dir / "wrk.log"
        paths = self.path_files[endpoint.kind]
        for seconds in (s.warmup, s.duration):
            before = procs.cpu_sample(pgid)
            result = procs.run_wrk(
                port,
                paths,
                duration=seconds,
                connections=s.connections,
                threads=s.threads,
                headers=headers,
                log=log,
            )
        row.other_cpu = procs.other_cores(before, procs.cpu_sample(pgid))
        row.rps, row.p50_ms, row.p99_ms = result.rps, result.p50_ms, result.p99_ms
        row.requests, row.non_2xx = result.requests, result.non_2xx
        row.socket_errors = result.socket_errors
        if result.non_2xx or result.socket_errors:
            row.fail(
                f"{result.non_2xx} responses >= 400 and {result.socket_errors} socket errors"
                f" in {result.requests} requests (see {log})"
            )
        say(
            f"  {row.server} {row.store} {row.limiter} {row.endpoint}: {row.rps:,.0f} req/s"
            f" (other processes: {row.other_cpu:.2f} cores)"
        )

    def run_server(
        self,
        argv: list[str],
        port: int,
        env: dict[str, str],
        work: list[tuple[workload.Endpoint, HttpRow]],
        key: str,
    ) -> None:
        """Serve, measure each endpoint on its row; rows are skipped if the server never came up."""
        log = self.run_dir / f"server-{port}.log"
        try:
            with procs.server(argv, port=port, env=env, log=log) as proc:
                for endpoint, row in work:
                    try:
                        self.measure(row, endpoint, port, key, proc.pid)
                    except (CommandFailed, OSError) as exc:
                        row.fail(f"{exc} (server log {log})")
        except CommandFailed as exc:
            for _, row in work:
                row.skip(str(exc))

    def bare_limit(self) -> None:
        for endpoint in self.endpoints:
            row = HttpRow("bare ASGI", "-", "-", False, endpoint.kind, endpoint.label)
            self.report.http.append(row)
            if self.settings.only in ("import", "collect") or self.wrk_problem:
                row.skip(self.wrk_problem or f"--only {self.settings.only}")
                continue
            port = procs.free_port()
            argv = [sys.executable, "-m", "uvicorn", "bare_app:create_app", "--factory"]
            argv += ["--app-dir", str(BENCH_DIR), "--host", LOOPBACK, "--port", str(port)]
            argv += ["--workers", str(WORKERS), "--loop", "uvloop", "--http", "httptools"]
            argv += ["--no-proxy-headers"]  # as `evshare serve` runs
            argv += ["--lifespan", "off", "--no-access-log", "--no-server-header"]
            argv += ["--log-level", "warning"]
            env = dict(os.environ, BENCH_BODY_BYTES=str(endpoint.body_bytes))
            self.run_server(argv, port, env, [(endpoint, row)], key="")
            if row.status == "skipped":  # the bare app must always run: not starting is a fault
                row.fail(row.reason)
        for endpoint in self.endpoints:
            # The same app on granian, the server `evshare serve` runs: shown, not the reference.
            row = HttpRow("bare ASGI (granian)", "-", "-", False, endpoint.kind, endpoint.label)
            self.report.http.append(row)
            if self.settings.only == "import" or self.wrk_problem:
                row.skip(self.wrk_problem or "--only import")
                continue
            port = procs.free_port()
            argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory"]
            argv += ["--working-dir", str(BENCH_DIR), "--host", LOOPBACK, "--port", str(port)]
            argv += ["--workers", str(WORKERS), "--loop", "uvloop", "--http", "1", "--no-ws"]
            argv += ["--log-level", "warning", "bare_app:create_app"]
            env = dict(os.environ, BENCH_BODY_BYTES=str(endpoint.body_bytes))
            self.run_server(argv, port, env, [(endpoint, row)], key="")

    def store(self, name: str, problem: str | None) -> None:
        """Everything measured on one store: raw load, evshare import, every server config."""
        raw = ImportRow(name, "raw executemany" if name == "SQLite" else "raw COPY")
        product = ImportRow(name, "evshare import")
        self.report.imports += [raw, product]
        servers = [
            (
                config,
                [
                    HttpRow("evshare", name, config.limiter, config.access_log, ep.kind, ep.label)
                    for ep in self.endpoints
                ],
            )
            for config in self.configs()
            if name == "SQLite" or not config.identity  # identities: one store is enough
        ]
        for _, rows in servers:
            self.report.http += rows
        say(f"{name}: loading")
        with ExitStack() as stack:
            url = ""
            if not problem:
                try:
                    url = stack.enter_context(self.database(name))
                except psycopg.Error as exc:
                    problem = f"no scratch database: {exc}"
            if problem:
                raw.skip(problem)
                product.skip(problem)
                for _, rows in servers:
                    for row in rows:
                        row.skip(problem)
                return
            self.raw_load(raw, name, url)
            access = self.load_product(product, url)
            if name == "PostgreSQL":
                settle(url)
            self.batch_commands(name, url, access)
            if name == "PostgreSQL":
                self.pgbench(url)
            if raw.rows_per_s and product.rows_per_s:
                product.ratio_to_raw = product.rows_per_s / raw.rows_per_s
            self.serve_configs(url, access, servers)
            if name == "SQLite":
                self.collect_figure(url, access)

    def serve_configs(
        self, url: str, access: Access, servers: list[tuple[ServerConfig, list[HttpRow]]]
    ) -> None:
        """Each server configuration over the loaded store, measured on every endpoint."""
        for config, rows in servers:
            problem = (
                (
                    f"--only {self.settings.only}"
                    if self.settings.only in ("import", "collect")
                    else None
                )
                or self.wrk_problem
                or access.problems.get(config.plan)
                or (self.redis_problem if config.redis else None)
            )
            if problem:
                for row in rows:
                    row.skip(problem)
                continue
            port = procs.free_port()
            argv = [EVSHARE, "serve", "--host", LOOPBACK, "--port", str(port)]
            argv += ["--workers", str(WORKERS), "--database-url", url]
            env = product_env(access_log=config.access_log, redis=config.redis)
            work = list(zip(self.endpoints, rows, strict=True))
            if config.identity:
                with identity.issuer(self.run_dir) as issuer:
                    env["EVSHARE_IDENTITY_CONFIG"] = str(issuer.config)
                    self.run_server(argv, port, env, work, issuer.token)
                continue
            self.run_server(argv, port, env, work, access.keys[config.plan])

    def collect_figure(self, url: str, access: Access) -> None:
        """`evshare collect` from a server over this store, beside the server's own rate."""
        row = collect.CollectRow()
        self.report.collect.append(row)
        key = access.keys.get(True) or access.keys.get(False)
        if self.settings.only in ("import", "http") or key is None:
            row.skip(f"--only {self.settings.only}" if key else "no key was made")
            return
        say("SQLite: collect")
        s = self.settings
        try:
            collect.measure(
                row,
                evshare=EVSHARE,
                data=self.data,
                source_url=url,
                key=key,
                run_dir=self.run_dir,
                env=product_env(),
                workers=WORKERS,
                duration=s.duration,
                warmup=s.warmup,
                connections=s.connections,
                threads=s.threads,
                wrk=self.wrk_problem is None,
            )
        except (CommandFailed, OSError) as exc:
            row.fail(str(exc))

    def pgbench(self, url: str) -> None:
        """`pgbench -S` (simple protocol, the same client count as wrk) on the run's database:
        what PostgreSQL itself answers per second here, one indexed read per transaction."""
        row = HttpRow("pgbench -S", "PostgreSQL", "-", False, "pgbench", "SELECT by key (simple)")
        self.report.http.append(row)
        if self.settings.only == "import":
            row.skip("--only import")
            return
        if shutil.which("pgbench") is None:
            row.skip("pgbench not installed (apt-get install postgresql-client)")
            return
        s = self.settings
        try:
            init = ["pgbench", "-i", "-q", "-s", str(PGBENCH_SCALE), url]
            procs.run_command(init, timeout=600)
            for seconds in (s.warmup, s.duration):
                before = procs.cpu_sample(os.getpgid(0))
                argv = ["pgbench", "-S", "-n", "-M", "simple", "-c", str(s.connections)]
                argv += ["-j", str(s.threads), "-T", f"{max(1, round(seconds))}", url]
                done = procs.run_command(argv, timeout=seconds + 120)
            row.other_cpu = procs.other_cores(before, procs.cpu_sample(os.getpgid(0)))
        except CommandFailed as exc:
            row.fail(str(exc))
            return
        for line in done.stdout.splitlines():
            if line.startswith("tps = "):
                row.rps = float(line.split()[2])
            elif line.startswith("latency average = "):
                row.p50_ms = float(line.split()[3])  # pgbench reports the mean, not percentiles
        if row.rps is None:
            row.fail(f"pgbench printed no tps: {procs.tail(done.stdout)}")
            return
        say(f"  pgbench -S: {row.rps:,.0f} tps (other processes: {row.other_cpu:.2f} cores)")

    def database(self, name: str) -> AbstractContextManager[str]:
        """The URL of an empty database of the harness's own for `name`, for the run."""
        if name == "SQLite":
            return nullcontext(f"sqlite:///{self.run_dir / 'evshare.db'}")
        return loads.scratch_database(POSTGRES_URL)

    def raw_load(self, row: ImportRow, name: str, url: str) -> None:
        if self.settings.only in ("http", "collect"):
            row.skip(f"--only {self.settings.only}")
            return
        try:
            if name == "SQLite":
                seconds = loads.raw_sqlite(self.session_rows(), self.run_dir / "raw.db")
            else:
                self.report.machine["versions"]["postgresql"] = loads.server_version(url)
                seconds = loads.raw_postgres(self.session_rows(), url)
        except (sqlite3.Error, psycopg.Error) as exc:
            row.fail(f"raw load: {exc}")
            return
        row.measured(self.data.sessions, seconds)
        say(f"  raw load: {row.rows_per_s:,.0f} sessions/s")

    def load_product(self, row: ImportRow, url: str) -> Access:
        """Load the dataset through evshare (timing the sessions import) and make the keys."""
        access = Access()
        if self.cli_problem:
            row.skip(self.cli_problem)
            return access.unavailable(self.cli_problem)
        db, env = ["--database-url", url], product_env()
        try:
            procs.run_command([EVSHARE, "db", "upgrade", *db], env=env)
            chargers = str(self.data.chargers_file)
            procs.run_command([EVSHARE, "import", "chargers", chargers, *db], env=env, timeout=600)
            sessions = str(self.data.sessions_file)
            began = time.perf_counter()
            procs.run_command([EVSHARE, "import", "sessions", sessions, *db], env=env, timeout=3600)
            row.measured(self.data.sessions, time.perf_counter() - began)
            say(f"  evshare import: {row.rows_per_s:,.0f} sessions/s")
        except CommandFailed as exc:
            row.skip(str(exc))
            return access.unavailable(f"no data loaded: {exc}")
        try:
            access.keys[False] = create_key("bench", [], url)
        except CommandFailed as exc:
            access.problems[False] = str(exc)
        if self.plans_problem:
            access.problems[True] = self.plans_problem
            return access
        try:
            procs.run_command([EVSHARE, "plans", "create", *PLAN, *db], env=env)
            access.keys[True] = create_key("bench-plan", ["--plan", "bench"], url)
        except CommandFailed as exc:
            access.problems[True] = str(exc)
        return access

    def batch_commands(self, name: str, url: str, access: Access) -> None:
        """Credits and audit over every loaded session, each timed end to end (process start,
        reading every charger, placing them, the set-based queries, the output)."""
        year = dataset.FIRST_DAY.year + 1
        commands = [
            ["credits", "--program", "cfr", "--year", str(year), "--format", "json"],
            ["credits", "--program", "bc-lcfs", "--year", str(year), "--format", "json"],
            ["audit", "--json"],
        ]
        for args in commands:
            row = report.CommandRow(name, "evshare " + " ".join(args))
            self.report.commands.append(row)
            problem = self.cli_problem or access.problems.get(False)
            if self.settings.only in ("http", "collect") or problem:
                row.skip(problem or f"--only {self.settings.only}")
                continue
            began = time.perf_counter()
            done = subprocess.run(
                [EVSHARE, *args, "--database-url", url],
                env=product_env(),
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            seconds = time.perf_counter() - began
            # audit exits 1 when it finds error-level defects: random data has some.
            if done.returncode not in (0, 1) or not done.stdout.startswith("{"):
                row.skip(f"exited {done.returncode}: {procs.tail(done.stderr or done.stdout)}")
                continue
            row.seconds = seconds
            say(f"  {row.command}: {seconds:.2f} s")

    def finish(self) -> None:
        """Ratios to the limits, and the targets."""
        http = self.report.http
        bare = {r.kind: r.rps for r in http if r.server == "bare ASGI" and r.status == "ok"}
        pgbench = next((r.rps for r in http if r.server == "pgbench -S" and r.status == "ok"), None)
        for row in http:
            limit = bare.get(row.kind)
            if row.server != "bare ASGI" and row.status == "ok" and row.rps and limit:
                row.ratio_to_bare = row.rps / limit
            if row.server == "evshare" and row.store == "PostgreSQL" and row.rps and pgbench:
                row.ratio_to_pgbench = row.rps / pgbench

        def find(store: str, limiter: str, kind: str) -> HttpRow:
            return next(
                r
                for r in http
                if (r.server, r.store, r.limiter, r.access_log, r.kind)
                == ("evshare", store, limiter, True, kind)
            )

        memory = "bench plan, memory"
        sessions, detail = find("SQLite", memory, "sessions"), find("SQLite", memory, "charger")
        product = next(
            r for r in self.report.imports if (r.store, r.method) == ("SQLite", "evshare import")
        )
        collected = next(iter(self.report.collect), None)
        sqlite_rows = [r for r in http if (r.server, r.store) == ("evshare", "SQLite")]
        p99s = [r.p99_ms for r in sqlite_rows if r.p99_ms is not None and r.status == "ok"]
        pg = [find("PostgreSQL", memory, kind) for kind in ("sessions", "charger")]
        overheads = []
        for kind in ("chargers", "charger", "sessions"):
            fast, slow = find("SQLite", memory, kind), find("SQLite", "bench plan, Redis", kind)
            if fast.rps and slow.rps:
                overheads.append(fast.rps / slow.rps - 1)
        self.report.targets = [
            _target(
                "sessions endpoint, SQLite, auth + limiter (memory), access log on:"
                f" ≥ {SESSIONS_TARGET} x bare ASGI",
                sessions.ratio_to_bare,
                SESSIONS_TARGET,
                sessions.reason,
            ),
            _target(
                f"/chargers/{{id}}, SQLite, same configuration: ≥ {DETAIL_TARGET} x bare ASGI",
                detail.ratio_to_bare,
                DETAIL_TARGET,
                detail.reason,
            ),
            _target(
                f"p99 at {self.settings.connections} connections, every evshare row on SQLite:"
                f" ≤ {P99_TARGET_MS:g} ms (worst shown)",
                max(p99s) if len(p99s) == len(sqlite_rows) else None,
                P99_TARGET_MS,
                "not every SQLite row was measured",
                lower_is_better=True,
            ),
            *(
                _target(
                    f"PostgreSQL {row.endpoint}, memory limiter: ≥ {PGBENCH_TARGET} x pgbench -S",
                    row.ratio_to_pgbench,
                    PGBENCH_TARGET,
                    row.reason or "pgbench was not measured",
                )
                for row in pg
            ),
            _target(
                "Redis limiter instead of memory, SQLite: ≤ 15% fewer req/s"
                " (worst endpoint, memory/Redis - 1)",
                max(overheads) if len(overheads) == 3 else None,
                REDIS_OVERHEAD_TARGET,
                "the Redis rows were not measured",
                lower_is_better=True,
            ),
            _target(
                f"import into SQLite ≥ {IMPORT_TARGET_ROWS_PER_S:,} sessions/s",
                product.rows_per_s,
                IMPORT_TARGET_ROWS_PER_S,
                product.reason,
            ),
            _target(
                "import into SQLite within 2x of raw bulk load (≥ 0.5 x raw)",
                product.ratio_to_raw,
                IMPORT_TARGET_RAW_RATIO,
                product.reason,
            ),
            _target(
                f"collect from a local evshare server ≥ {collect.COLLECT_TARGET_SESSIONS_PER_S:,}"
                " sessions/s",
                collected.sessions_per_s if collected else None,
                collect.COLLECT_TARGET_SESSIONS_PER_S,
                collected.reason if collected else "not run",
            ),
        ]
        credits = next(
            (r for r in self.report.commands if r.store == "SQLite" and "cfr" in r.command), None
        )
        if credits is not None:
            seconds = credits.seconds
            self.report.targets.append(
                Target(
                    f"evshare credits over every session, SQLite: < {CREDITS_TARGET_S:g} s",
                    "not measured" if seconds is None else f"{seconds:.2f} s",
                    None if seconds is None else seconds < CREDITS_TARGET_S,
                    credits.reason,
                )
            )


def _target(
    name: str, value: float | None, goal: float, reason: str, *, lower_is_better: bool = False
) -> Target:
    if value is None:
        return Target(name, "not measured", None, reason or "its baseline was not measured")
    passed = value <= goal if lower_is_better else value >= goal
    return Target(name, f"{value:,.2f}" if value < 100 else f"{value:,.0f}", passed)


def create_key(name: str, extra: list[str], url: str) -> str:
    argv = [EVSHARE, "keys", "create", "--name", name, "--all", *extra, "--database-url", url]
    printed = procs.run_command(argv, env=product_env()).stdout.strip()
    if not printed or len(printed.split()) != 1:
        raise CommandFailed(f"`{procs.display(argv)}` printed {printed[:80]!r}, not a key alone")
    return printed


def profile_sessions(bench: Bench, stamp: str) -> int:
    """Profile one server (pyinstrument follows one process, so one worker) under the sessions
    load; write HTML and text reports to bench/results/."""
    row = ImportRow("SQLite", "evshare import")
    url = f"sqlite:///{bench.run_dir / 'evshare.db'}"
    access = bench.load_product(row, url)
    key = access.keys.get(True) or access.keys.get(False)
    if not key:
        say(f"profile skipped: {access.problems[False]}")
        return 0
    endpoint = next(ep for ep in bench.endpoints if ep.kind == "sessions")
    port = procs.free_port()
    pyinstrument = str(VENV_BIN / "pyinstrument")
    session = bench.run_dir / "profile.pyisession"
    argv = [pyinstrument, "-r", "pyisession", "-o", str(session), EVSHARE, "serve"]
    argv += ["--host", LOOPBACK, "--port", str(port), "--workers", "1", "--database-url", url]
    # SIGINT: uvicorn shuts down gracefully and pyinstrument then writes the profile.
    with procs.server(
        argv,
        port=port,
        env=product_env(),
        log=bench.run_dir / "profile.log",
        stop_signal=signal.SIGINT,
    ) as proc:
        measured = HttpRow(
            "evshare", "SQLite", "profiled, 1 worker", True, "sessions", endpoint.label
        )
        bench.measure(measured, endpoint, port, key, proc.pid)
    out = RESULTS_DIR / f"profile-sessions-{stamp}"
    try:
        for renderer, suffix in (("html", ".html"), ("text", ".txt")):
            load = [pyinstrument, "--load", str(session), "-r", renderer, "-o", f"{out}{suffix}"]
            procs.run_command(load)
    except CommandFailed as exc:
        say(f"profile FAILED: {exc} (server log {bench.run_dir / 'profile.log'})")
        return 1
    say(f"profile ({measured.rps or 0:,.0f} req/s under the profiler): {out}.html, {out}.txt")
    return 1 if measured.status == "failed" else 0


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # An exception, so every `with` block on the way out stops the servers it started.
    raise SystemExit(128 + signum)


def main() -> int:
    settings, profile = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    run_dir = dataset.WORK_DIR / f"run-{stamp}"
    run_dir.mkdir(parents=True)
    # Logs of the last few runs stay for a post-mortem; access logs make them large.
    for old in sorted(dataset.WORK_DIR.glob("run-*"))[:-KEEP_RUNS]:
        shutil.rmtree(old)
    RESULTS_DIR.mkdir(exist_ok=True)
    result = Report(
        started=now.isoformat(timespec="seconds"),
        argv=sys.argv[1:],
        settings=asdict(settings)
        | {"paths_per_endpoint": workload.PATHS_PER_ENDPOINT, "workers": WORKERS},
        machine=report.machine(REPO),
    )
    try:
        bench = Bench(settings, run_dir, result)
        if profile:
            return profile_sessions(bench, stamp)
        say("bare ASGI limit")
        bench.bare_limit()
        bench.store("SQLite", None)
        bench.store("PostgreSQL", service_problem(POSTGRES_URL, 5432, "PostgreSQL"))
        bench.finish()
    finally:
        # The databases are big and rebuilt every run; the logs stay for a post-mortem.
        for database in run_dir.glob("*.db*"):
            database.unlink()
    result.finished = datetime.now(UTC).isoformat(timespec="seconds")
    markdown = result.to_markdown()
    # A quick run is a smoke test: its figures go beside its logs (untracked), never over the
    # recorded results of a full run. A partial run (--only) is recorded, but is not the latest.
    if settings.quick:
        written = [run_dir / "results.md", run_dir / "results.json"]
    else:
        written = [RESULTS_DIR / f"{stamp}.md", RESULTS_DIR / f"{stamp}.json"]
        if settings.only is None:
            written += [RESULTS_DIR / "latest.md", RESULTS_DIR / "latest.json"]
    for path in written:
        if path.suffix == ".md":
            path.write_text(markdown)
        else:
            path.write_bytes(result.to_json())
    print(markdown)
    say(f"results: {', '.join(str(p.relative_to(REPO)) for p in written[:2])}")
    return exit_status(result, settings)


def exit_status(result: Report, settings: Settings) -> int:
    """1 if a variant failed, or if a full run missed a target (unless --report-only)."""
    failed = result.failed()
    if failed:
        say(f"{len(failed)} variant{'s' if len(failed) != 1 else ''} FAILED; see the table above")
    missed = [] if settings.quick else result.missed()
    if missed:
        names = "; ".join(f"{t.name} ({t.value})" for t in missed)
        verdict = "reported only (--report-only)" if settings.report_only else "exit status 1"
        say(f"missed {len(missed)} target{'s' if len(missed) != 1 else ''}: {names}; {verdict}")
    return 1 if failed or (missed and not settings.report_only) else 0


if __name__ == "__main__":
    sys.exit(main())
