"""The `evshare` command: help everywhere, keys, db, demo, serve, and clean errors."""

from __future__ import annotations

import re
import subprocess
import time

import httpx
import orjson
import pytest

from tests.cli.conftest import Cli
from tests.servers import EVSHARE, free_port

KEY = re.compile(r"evs_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["demo"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["keys"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "revoke"],
        ["keys", "rotate"],
    ],
)
def test_every_command_has_help(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.code == 0
    assert "Usage: evshare" in result.out


def test_db_current_and_upgrade(cli: Cli) -> None:
    empty = cli("db", "current")
    assert empty.code == 1
    assert "evshare db upgrade" in empty.out
    assert cli("db", "upgrade").out.startswith("schema upgraded from empty to")
    assert cli("db", "upgrade").out.startswith("schema already at")
    assert "up to date" in cli("db", "current").out


def test_keys_create_prints_the_key_alone_on_stdout(cli: Cli) -> None:
    cli("db", "upgrade")
    made = cli("keys", "create", "--name", "rewatt", "--all")
    assert made.code == 0
    assert KEY.fullmatch(made.out.strip())
    assert "not shown again" in made.err
    listed = [orjson.loads(line) for line in cli("keys", "list", "--json").out.splitlines()]
    assert listed[0]["name"] == "rewatt"
    assert listed[0]["status"] == "active"
    assert made.out.strip() not in cli("keys", "list").out


def test_a_scoped_key_lists_its_chargers_and_expiry(cli: Cli) -> None:
    cli("db", "upgrade")
    made = cli(
        "keys", "create", "--name", "site", "--chargers", "B, A,,A", "--expires", "2099-01-01"
    )
    assert made.code == 0, made.err
    (key,) = [orjson.loads(line) for line in cli("keys", "list", "--json").out.splitlines()]
    assert key["chargerIds"] == ["A", "B"]
    assert key["allChargers"] is False
    assert key["expiresAt"].startswith("2099-01-01T00:00:00")


def test_revoke_and_rotate(cli: Cli) -> None:
    cli("db", "upgrade")
    first = cli("keys", "create", "--name", "k", "--all").out.strip()
    rotated = cli("keys", "rotate", "k", "--grace", "0")
    assert rotated.code == 0
    assert KEY.fullmatch(rotated.out.strip())
    assert rotated.out.strip() != first
    assert "stops working now" in rotated.err
    assert cli("keys", "revoke", "k").code == 0
    (key,) = [orjson.loads(line) for line in cli("keys", "list", "--json").out.splitlines()]
    assert key["status"] == "revoked"
    again = cli("keys", "rotate", "k")
    assert again.code == 1
    assert "revoked" in again.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--name", "x"], "either some charger ids or all chargers"),
        (["keys", "create", "--name", "x", "--all", "--chargers", "A"], "not both"),
        (["keys", "create", "--name", "bad name", "--all"], "invalid key name"),
        (["keys", "create", "--name", "x", "--all", "--expires", "soon"], "--expires"),
        (["keys", "create", "--name", "x", "--all", "--expires", "2020-01-01"], "already past"),
        (["keys", "create", "--name", "x", "--all", "--expires", "2030-01-01T10:00"], "time zone"),
        (["keys", "revoke", "nobody"], "no key named 'nobody'"),
        (["keys", "rotate", "nobody"], "no key named 'nobody'"),
        (["keys", "rotate", "nobody", "--grace", "a while"], "--grace"),
    ],
)
def test_key_mistakes_are_one_clear_line(cli: Cli, args: list[str], message: str) -> None:
    cli("db", "upgrade")
    result = cli(*args)
    assert result.code == 1
    assert message in result.err
    assert result.err.startswith("error:")


def test_a_duplicate_key_name_is_refused(cli: Cli) -> None:
    cli("db", "upgrade")
    cli("keys", "create", "--name", "dup", "--all")
    result = cli("keys", "create", "--name", "dup", "--all")
    assert (result.code, result.out) == (1, "")
    assert "already exists" in result.err


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EVSHARE_PORT": "eighty"}, "EVSHARE_PORT"),
        ({"EVSHARE_PROFILE": "2.0"}, "EVSHARE_PROFILE"),
        ({"EVSHARE_DATABASE_URL": "mysql://x"}, "EVSHARE_DATABASE_URL"),
        ({"EVSHARE_DATABASE_URL": "sqlite:////no/such/folder/x.db"}, "does not exist"),
        ({"EVSHARE_ROOT_PATH": "default"}, "EVSHARE_ROOT_PATH"),
    ],
)
def test_bad_settings_name_the_variable(cli: Cli, env: dict[str, str], message: str) -> None:
    result = cli("keys", "list", env=env)
    assert result.code == 1
    assert message in result.err


def test_serve_refuses_an_out_of_date_schema(cli: Cli) -> None:
    result = cli("serve", "--port", "1")
    assert result.code == 1
    assert "run `evshare db upgrade`" in result.err


def test_demo_then_serve_answers_the_printed_curl_line(cli: Cli) -> None:
    first = cli("demo")
    assert first.code == 0
    assert "loaded demo data: 36 chargers" in first.err
    second = cli("demo")
    assert "demo data not loaded" in second.err
    key = KEY.search(second.out)
    assert key is not None
    assert key.group() != KEY.search(first.out).group()  # type: ignore[union-attr]
    assert "curl -s -H 'x-api-key: evs_" in second.out

    port = free_port()
    server = subprocess.Popen(
        [
            EVSHARE,
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--database-url",
            cli.database_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cli.cwd,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
        page = httpx.get(
            f"http://127.0.0.1:{port}/chargers?pageSize=3", headers={"x-api-key": key.group()}
        ).json()
        first_key = KEY.search(first.out)
        assert first_key is not None
        old = httpx.get(
            f"http://127.0.0.1:{port}/chargers", headers={"x-api-key": first_key.group()}
        )
    finally:
        server.terminate()
        _, err = server.communicate(timeout=20)
    assert page["total"] == 36
    assert len(page["chargers"]) == 3
    assert old.status_code == 401  # the demo key is rotated with no grace
    log = err.decode()
    assert "GET /chargers?pageSize=3 200" in log
    assert key.group() not in log
