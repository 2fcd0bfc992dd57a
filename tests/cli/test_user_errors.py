"""Every command, run as a new user would run it wrongly: wrong paths, wrong files, wrong URLs,
wrong values. Each row is one mistake; a new command is covered by adding rows.

Every row must end with a non-zero status and one `error:` line (after the usage for status 2;
first, for status 1, before any list of bad rows) that contains the row's `says` text; with no
traceback, none of the validation library's phrasing, and no internal name (a Settings field or
a Python variable, or an EVSHARE_ variable the user did not set) where the user typed a flag.

Rows run in-process through Typer's CliRunner (fast); `SUBPROCESS` rows need a real process
(stdin, a server that must refuse to start) and run `evshare` as a child process.
`EVSHARE_DEBUG=1` is set, so an error evshare did not expect raises and fails the row.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evshare.cli import app
from evshare.config import Settings
from evshare.store import schema
from tests.servers import EVSHARE

FORBIDDEN = (
    "Traceback",
    "Input should be",
    "Value error,",
    "validation error",
    "pydantic",
    "[Errno",
    "NoneType",
    "database_url",
    "root_path",
    "log_level",
    "redis_url",
    "all_chargers",
    "charger_ids",
    "utf-8-sig",
)
LAZY_PLURAL = re.compile(r"[a-z]\(s\)(?!:)")  # "1 row(s)"; not "http(s)://"


@dataclass(frozen=True)
class Mistake:
    args: tuple[str, ...]
    says: str  # the message must contain this (after {placeholders} are filled in)
    status: int = 1
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    subprocess: bool = False
    migrated: bool = True  # run against a database that has the schema

    def __str__(self) -> str:
        return " ".join(self.args)[:80]


def m(*args: str, says: str, **kw: object) -> Mistake:
    return Mistake(args, says, **kw)  # type: ignore[arg-type]


CHARGERS = '[{"id": "CH-1", "name": "one", "timeZone": "America/Edmonton"}]'

MISTAKES = [
    # --- files that are folders, or in folders that do not exist
    m("export", "sessions", "-o", "{tmp}", says="--output {tmp}: is a folder, not a file"),
    m(
        "export",
        "chargers",
        "-o",
        "/nonexistent/x.ndjson",
        says="--output /nonexistent/x.ndjson: the folder /nonexistent does not exist",
    ),
    m(
        "import",
        "chargers",
        "{tmp}/chargers.json",
        "--skip-invalid",
        "--rejects",
        "{tmp}",
        says="--rejects {tmp}: is a folder, not a file",
    ),
    m(
        "import",
        "chargers",
        "{tmp}/chargers.json",
        "--skip-invalid",
        "--rejects",
        "/nonexistent/dir/r.ndjson",
        says="--rejects /nonexistent/dir/r.ndjson: the folder /nonexistent/dir does not exist",
    ),
    m("import", "chargers", "{tmp}/nosuch.csv", says="{tmp}/nosuch.csv: no such file"),
    m("import", "chargers", "{tmp}", says="{tmp}: is a folder, not a file"),
    # --- databases that are not databases, or not there
    m(
        "keys",
        "list",
        "--database-url",
        "sqlite:///{tmp}/chargers.json",
        says="--database-url sqlite:///{tmp}/chargers.json: not an SQLite database",
    ),
    m(
        "keys",
        "list",
        "--database-url",
        "sqlite:////nonexistent/x.db",
        says="--database-url sqlite:////nonexistent/x.db: the folder /nonexistent does not exist",
    ),
    m(
        "keys",
        "list",
        "--database-url",
        "mysql://db/x",
        says="--database-url mysql://db/x: not a database URL evshare knows",
    ),
    m(
        "keys",
        "list",
        "--database-url",
        "postgresql://nobody@127.0.0.1:9/x",
        says="--database-url postgresql://nobody@127.0.0.1:9/x: cannot reach the database",
    ),
    m(
        "plans",
        "list",
        says="EVSHARE_DATABASE_URL=mysql://x: not a database URL",
        env={"EVSHARE_DATABASE_URL": "mysql://x"},
    ),
    m(
        "keys",
        "list",
        "--database-url",
        "sqlite:///{tmp}/new.db",
        says="--database-url sqlite:///{tmp}/new.db: the database has no evshare schema yet",
    ),
    m("usage", says="no evshare schema yet", migrated=False),
    # --- values
    m("serve", "--port", "70000", says="--port 70000: must be at most 65535"),
    m("serve", "--port", "abc", says="'abc': not a whole number", status=2),
    m("serve", says="EVSHARE_PORT=99999: must be at most 65535", env={"EVSHARE_PORT": "99999"}),
    m("serve", "--workers", "0", says="--workers 0: must be at least 1"),
    m("serve", "--host", "999.1.1.1", says="--host 999.1.1.1: not an address or host name found"),
    m("serve", "--host", "nosuch.invalid", says="--host nosuch.invalid: not an address"),
    m("serve", "--profile", "1.1", says="--profile 1.1: must be '1.2.0' or '1.0.7'"),
    m("serve", "--root-path", "stage", says="--root-path stage: must start with '/'"),
    m("serve", "--log-level", "loud", says="--log-level loud: must be"),
    m(
        "serve",
        says="EVSHARE_REDIS_URL=notaurl: not a Redis URL",
        env={"EVSHARE_REDIS_URL": "notaurl"},
    ),
    m("keys", "rotate", "nobody", "--grace", "soon", says="--grace: 'soon' is not a duration"),
    m(
        "keys",
        "create",
        "--name",
        "x",
        "--all",
        "--expires",
        "tomorrow",
        says="--expires: 'tomorrow' is not a date",
    ),
    m("keys", "create", "--name", "x", "--all", "--plan", "gold", says="no plan named 'gold'"),
    m(
        "keys",
        "create",
        "--name",
        "x",
        says="say which chargers the key may see: --chargers ID,ID,... or --all",
    ),
    m(
        "keys",
        "create",
        "--name",
        "x",
        "--chargers",
        ",,",
        says="the charger ids given are all empty",
    ),
    m("keys", "create", "--name", "x", "--all", "--chargers", "A", says="not both"),
    m("keys", "create", "--name", "bad name", "--all", says="invalid key name 'bad name'"),
    m("keys", "create", "--name", "x", "--all", "--expires", "2020-01-01", says="already past"),
    m("keys", "create", "--name", "x", "--all", "--expires", "2030-01-01T10:00", says="time zone"),
    m("keys", "rotate", "nobody", says="no key named 'nobody'"),
    m("keys", "set-plan", "nobody", "gold", "--default", says="not both or neither"),
    m("keys", "revoke", "nobody", says="'nobody'"),
    m("keys", "set-plan", "nobody", says="give either a PLAN"),
    m("plans", "create", "p", "--rate", "0", "--burst", "1", says="rate"),
    m("plans", "create", "p", "--period", "year", "--quota", "1", says="'year'", status=2),
    m("plans", "delete", "unlimited", says="built in"),
    m(
        "usage",
        "--from",
        "2027-02-01",
        "--to",
        "2027-01-01",
        says="--from 2027-02-01 is after --to 2027-01-01",
    ),
    m("usage", "--from", "yesterday", says="--from: 'yesterday' is not a date"),
    m("export", "sessions", "--format", "xml", says="--format: 'xml' is not csv or ndjson"),
    m(
        "import",
        "chargers",
        "{tmp}/chargers.json",
        "--format",
        "xml",
        says="--format: 'xml' is not csv, json or ndjson",
    ),
    m(
        "import",
        "ocpi-locations",
        "{tmp}/chargers.json",
        says="{tmp}/chargers.json: no record has a field of OCPI Locations",
    ),
    m("import", "ocpi-cdrs", "{tmp}/chargers.json", says="no record has a field of OCPI CDRs"),
    m(
        "import",
        "ocpi-cdrs",
        "{tmp}/chargers.json",
        "--format",
        "csv",
        says="--format: 'csv' is not json or ndjson",
    ),
    m(
        "import",
        "ocpi-cdrs",
        "{tmp}/chargers.json",
        "--mapping",
        "x",
        says="No such option: --mapping",
        status=2,
    ),
    m(
        "import",
        "sessions",
        "{tmp}/chargers.json",
        "--mapping",
        "nosuch",
        says="shipped: chargepoint-sessions, spreadsheet-chargers, spreadsheet-sessions",
    ),
    m(
        "import",
        "sessions",
        "{tmp}/chargers.json",
        "--mapping",
        "{tmp}",
        says="{tmp}: is a folder, not a mapping file",
    ),
    m(
        "import",
        "chargers",
        "{tmp}/binary.csv",
        says="{tmp}/binary.csv:1: the header is not valid UTF-8",
    ),
    m(
        "import",
        "chargers",
        "{tmp}/chargers.json",
        "--rejects",
        "r.ndjson",
        says="--rejects only applies with --skip-invalid",
    ),
    m("import", "sessions", "-", says="<stdin>:1: chargerId", stdin=CHARGERS),
    m(
        "import",
        "chargers",
        "-",
        says="<stdin>: no record has a field of chargers",
        stdin='{"x": 1}\n',
    ),
    m("check", "notaurl", "--key", "k", says="'notaurl': give the provider's base URL"),
    m("check", "http://[::1", "--key", "k", says="http://[::1: Invalid port"),
    m("check", "http://127.0.0.1:9", says="no key: pass --key-env NAME"),
    m(
        "audit",
        "--database-url",
        "sqlite:///{tmp}/chargers.json",
        says="--database-url sqlite:///{tmp}/chargers.json: not an SQLite database",
    ),
    m("audit", says="no evshare schema yet", migrated=False),
    m(
        "credits",
        "estimate",
        "--program",
        "cfr",
        "--year",
        "2025",
        "--province",
        "ON",
        "--kwh",
        "lots",
        says="--kwh: 'lots' is not a number",
    ),
    m("nosuch", says="No such command 'nosuch'", status=2),
    m("keys", "create", says="Missing option '--name'", status=2),
]

SUBPROCESS_MISTAKES = [
    m("serve", "--port", "70000", says="--port 70000: must be at most 65535", subprocess=True),
    m(
        "serve",
        "--database-url",
        "sqlite:///{tmp}/missing.db",
        says="no evshare schema yet",
        subprocess=True,
        migrated=False,
    ),
    m(
        "serve",
        says="EVSHARE_REDIS_URL=notaurl: not a Redis URL",
        env={"EVSHARE_REDIS_URL": "notaurl"},
        subprocess=True,
    ),
    m(
        "export",
        "sessions",
        "-o",
        "{tmp}",
        says="--output {tmp}: is a folder, not a file",
        subprocess=True,
    ),
]


@dataclass(frozen=True)
class Outcome:
    status: int
    out: str
    err: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("mistakes")
    (tmp / "chargers.json").write_text(CHARGERS)
    (tmp / "binary.csv").write_bytes(b"\xff\xfe\x00\x01garbage")
    schema.upgrade(f"sqlite:///{tmp / 'good.db'}")
    return tmp


def _fill(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp))


def _env(mistake: Mistake, tmp: Path) -> dict[str, str]:
    database = tmp / ("good.db" if mistake.migrated else "empty.db")
    env = {"EVSHARE_DATABASE_URL": f"sqlite:///{database}", "EVSHARE_DEBUG": "1"}
    env.update({k: _fill(v, tmp) for k, v in mistake.env.items()})
    return env


def run(mistake: Mistake, tmp: Path) -> Outcome:
    args = [_fill(a, tmp) for a in mistake.args]
    env = _env(mistake, tmp)
    if mistake.subprocess:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("EVSHARE_")}
        done = subprocess.run(
            [EVSHARE, *args],
            input=mistake.stdin or "",
            capture_output=True,
            text=True,
            timeout=60,
            env={**clean, **env},
            cwd=tmp,
            check=False,
        )
        return Outcome(done.returncode, done.stdout, done.stderr)
    unset = {k: None for k in os.environ if k.startswith("EVSHARE_") and k not in env}
    result = CliRunner().invoke(app, args, input=mistake.stdin, env={**unset, **env})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def check(mistake: Mistake, outcome: Outcome, tmp: Path) -> None:
    said = " ".join(outcome.err.split())  # click's usage box wraps; compare the words
    assert outcome.status == mistake.status, f"exit {outcome.status}: {outcome.err}"
    assert _fill(mistake.says, tmp) in said, outcome.err
    for word in FORBIDDEN:
        assert word not in outcome.err, f"{word!r} in: {outcome.err}"
    assert not LAZY_PLURAL.search(outcome.err), outcome.err
    used = set(_env(mistake, tmp)) if "--database-url" not in mistake.args else set(mistake.env)
    for variable in {w.strip(":=,;") for w in said.split() if w.startswith("EVSHARE_")}:
        name = variable.split("=")[0]
        assert name in used or name == "EVSHARE_DEBUG", f"names {name}, not the flag: {said}"
    errors = [line for line in outcome.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, outcome.err
    if mistake.status == 1:  # the error comes first (a list of bad rows may follow it)
        assert outcome.err.startswith("error: "), outcome.err


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_a_mistake_gets_one_line_naming_what_the_user_gave(
    mistake: Mistake, workspace: Path
) -> None:
    check(mistake, run(mistake, workspace), workspace)


@pytest.mark.process
@pytest.mark.parametrize("mistake", SUBPROCESS_MISTAKES, ids=str)
def test_a_mistake_in_a_real_process(mistake: Mistake, workspace: Path) -> None:
    check(mistake, run(mistake, workspace), workspace)
    assert not (workspace / "missing.db").exists()  # a refused start leaves no file behind


def test_an_unexpected_error_is_one_line_that_says_it_is_a_bug(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evshare.cli import keys

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(keys, "with_store", broken)
    env = _env(m("keys", "list", says=""), workspace)
    env.pop("EVSHARE_DEBUG")
    result = CliRunner().invoke(app, ["keys", "list"], env={**env, "EVSHARE_DEBUG": None})
    assert result.exit_code == 70
    assert result.stderr.startswith("error: unexpected ZeroDivisionError in `evshare keys list`")
    assert "This is a bug in evshare" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.process
def test_the_readme_pipeline_export_to_import_works(workspace: Path) -> None:
    env = {**os.environ, "EVSHARE_DATABASE_URL": f"sqlite:///{workspace / 'good.db'}"}
    for kind in ("chargers", "sessions"):
        for fmt in ("ndjson", "csv"):
            export = subprocess.Popen(
                [EVSHARE, "export", kind, "--format", fmt], stdout=subprocess.PIPE, env=env
            )
            done = subprocess.run(
                [EVSHARE, "import", kind, "-"],
                stdin=export.stdout,
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )
            assert export.wait(timeout=60) == 0
            assert done.returncode == 0, done.stderr
            assert "rejected" in done.stderr


def test_demo_refuses_a_database_with_real_chargers_unless_told(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'real.db'}"
    (tmp_path / "real.ndjson").write_text('{"id": "REAL-1", "name": "ours"}\n')
    env = {"EVSHARE_DATABASE_URL": database, "EVSHARE_DEBUG": "1"}
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    imported = runner.invoke(app, ["import", "chargers", str(tmp_path / "real.ndjson")], env=env)
    assert imported.exit_code == 0, imported.stderr

    refused = runner.invoke(app, ["demo"], env=env)
    assert refused.exit_code == 1
    assert "holds 1 charger that is not demo data (REAL-1)" in refused.stderr
    assert "--allow-real-data" in refused.stderr
    assert refused.stdout == ""

    allowed = runner.invoke(app, ["demo", "--allow-real-data"], env=env)
    assert allowed.exit_code == 0, allowed.stderr
    assert allowed.stdout.startswith("demo API key (all chargers): evs_")
    assert len(allowed.stdout.splitlines()[0].split()) == 6  # the key is on its label's line


@pytest.mark.parametrize(
    ("workers", "redis", "warned"),
    [(2, None, True), (2, "redis://h:6379/0", False), (1, None, False)],
)
def test_serve_warns_that_workers_without_redis_each_allow_the_whole_plan(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, workers: int, redis: str | None, warned: bool
) -> None:
    from evshare.api import server

    started: list[Settings] = []
    monkeypatch.setattr(server, "run", lambda settings, _: started.append(settings))
    monkeypatch.setattr(os, "environ", dict(os.environ))  # serve hands settings on through it
    env = {"EVSHARE_DATABASE_URL": f"sqlite:///{workspace / 'good.db'}", "EVSHARE_REDIS_URL": redis}
    result = CliRunner().invoke(app, ["serve", "--workers", str(workers)], env=env)
    assert result.exit_code == 0, result.stderr
    assert len(started) == 1
    assert started[0].workers == workers
    said = "warning: 2 worker processes without EVSHARE_REDIS_URL" in result.stderr
    assert said == warned, result.stderr
    assert "(1 worker)" in result.stderr or "(2 workers)" in result.stderr


def test_serve_on_a_port_in_use_is_refused_naming_it(workspace: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        mistake = m("serve", "--port", port, says=f"--port {port}: already in use")
        check(mistake, run(mistake, workspace), workspace)


@pytest.mark.parametrize("group", ["keys", "plans", "db", "import", "export"])
def test_a_group_alone_shows_its_help(group: str) -> None:
    result = CliRunner().invoke(app, [group], env={"EVSHARE_DEBUG": "1"})
    assert f"Usage: evshare {group}" in result.stdout
    assert "error:" not in result.stderr
