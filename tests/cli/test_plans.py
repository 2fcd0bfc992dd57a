"""`evshare plans`, `keys create --plan`, `keys set-plan` and `evshare usage`, run as a user would:
what they print, and a one-line error (exit 1, no traceback) for every mistake."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest

from evshare.config import load_settings
from evshare.limits import UsageRow
from evshare.store import open_store
from tests.cli.conftest import Cli


@pytest.fixture
def db(cli: Cli) -> Cli:
    assert cli("db", "upgrade").code == 0
    return cli


def json_lines(text: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in text.splitlines()]


def fails(cli: Cli, *args: str, env: dict[str, str] | None = None) -> str:
    """The one error line of a command that must fail."""
    result = cli(*args, env=env)
    assert result.code == 1, result
    assert result.err.startswith("error: "), result.err
    return " ".join(result.err.split())  # unwrapped, whatever the terminal width


@pytest.mark.parametrize(
    "command",
    [
        ["plans"],
        ["plans", "create"],
        ["plans", "list"],
        ["plans", "delete"],
        ["usage"],
        ["keys", "set-plan"],
    ],
)
def test_the_new_commands_have_help(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.code == 0
    assert "Usage: evshare" in result.out


def test_plans_create_and_list(db: Cli) -> None:
    made = db("plans", "create", "basic", "--rate", "2.5", "--burst", "10")
    assert made.code == 0
    assert "created plan basic (throttle: 2.5/s, burst 10; quota: none)" in made.err
    db("plans", "create", "monthly", "--quota", "1000", "--period", "month")
    db(
        "plans",
        "create",
        "std",
        "--rate",
        "10",
        "--burst",
        "20",
        "--quota",
        "50",
        "--period",
        "day",
    )
    db("keys", "create", "--name", "a", "--all", "--plan", "basic")
    db("keys", "create", "--name", "b", "--all")
    listed = json_lines(db("plans", "list", "--json", env={"EVSHARE_DEFAULT_PLAN": "std"}).out)
    assert listed == [
        {"name": "basic", "rate": 2.5, "burst": 10, "quota": None, "period": None, "keys": 1,
         "default": False, "builtIn": False},
        {"name": "monthly", "rate": None, "burst": None, "quota": 1000, "period": "month",
         "keys": 0, "default": False, "builtIn": False},
        {"name": "std", "rate": 10.0, "burst": 20, "quota": 50, "period": "day", "keys": 1,
         "default": True, "builtIn": False},
        {"name": "unlimited", "rate": None, "burst": None, "quota": None, "period": None,
         "keys": 0, "default": False, "builtIn": True},
    ]  # fmt: skip
    table = db("plans", "list").out
    for text in ("2.5/s, burst 10", "1000 per month", "50 per day", "unlimited (default, built"):
        assert text in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0", "--burst", "1"], "plan 'p': rate must be > 0, got 0.0"),
        (["--rate", "-1", "--burst", "1"], "plan 'p': rate must be > 0, got -1.0"),
        (["--rate", "1", "--burst", "0"], "plan 'p': burst must be >= 1, got 0"),
        (["--rate", "1"], "--rate and --burst go together: a throttle needs both"),
        (["--quota", "5"], "--quota and --period go together, e.g. --quota 10000 --period month"),
        (["--period", "day"], "--quota and --period go together"),
        (["--quota", "0", "--period", "day"], "plan 'p': quota must be >= 1, got 0"),
        ([], "plan 'p' limits nothing: give it a rate and a burst, a quota and a period, or both"),
    ],
)
def test_plan_mistakes_are_one_clear_line(db: Cli, args: list[str], message: str) -> None:
    assert message in fails(db, "plans", "create", "p", *args)
    assert json_lines(db("plans", "list", "--json").out)[0]["name"] == "unlimited"


def test_plan_names_are_checked(db: Cli) -> None:
    assert "the plan 'unlimited' is built in: choose another name" in fails(
        db, "plans", "create", "unlimited", "--rate", "1", "--burst", "1"
    )
    assert "invalid plan name 'a b'" in fails(
        db, "plans", "create", "a b", "--rate", "1", "--burst", "1"
    )
    db("plans", "create", "p", "--rate", "1", "--burst", "1")
    assert "a plan named 'p' already exists" in fails(
        db, "plans", "create", "p", "--rate", "2", "--burst", "2"
    )


def test_an_unknown_period_is_a_usage_error(db: Cli) -> None:
    result = db("plans", "create", "p", "--quota", "5", "--period", "year")
    assert result.code == 2
    assert "'year' is not one of 'day', 'week', 'month'" in " ".join(result.err.split())


def test_keys_get_plans_at_creation_and_later(db: Cli) -> None:
    db("plans", "create", "basic", "--rate", "1", "--burst", "5")
    db("plans", "create", "gold", "--rate", "100", "--burst", "500")
    assert db("keys", "create", "--name", "k", "--all", "--plan", "basic").code == 0
    assert "there is no plan named 'silver'; see `evshare plans list`" in fails(
        db, "keys", "create", "--name", "k2", "--all", "--plan", "silver"
    )
    assert "k2" not in db("keys", "list").out  # nothing created

    def plan_of_k() -> object:
        return json_lines(db("keys", "list", "--json").out)[0]["plan"]

    assert plan_of_k() == "basic"
    assert "key k is now on gold" in db("keys", "set-plan", "k", "gold").err
    assert plan_of_k() == "gold"
    assert "key k is now on unlimited" in db("keys", "set-plan", "k", "unlimited").err
    moved = db("keys", "set-plan", "k", "--default", env={"EVSHARE_DEFAULT_PLAN": "basic"})
    assert "key k is now on the default plan (basic)" in moved.err
    assert plan_of_k() is None
    assert "there is no plan named 'silver'" in fails(db, "keys", "set-plan", "k", "silver")
    assert "there is no key named 'ghost'" in fails(db, "keys", "set-plan", "ghost", "gold")
    assert "give either a PLAN" in fails(db, "keys", "set-plan", "k")
    assert "give either a PLAN" in fails(db, "keys", "set-plan", "k", "gold", "--default")
    assert plan_of_k() is None


def test_a_plan_keys_use_cannot_be_deleted(db: Cli) -> None:
    db("plans", "create", "basic", "--rate", "1", "--burst", "5")
    for name in ("k2", "k1"):
        db("keys", "create", "--name", name, "--all", "--plan", "basic")
    assert (
        "the plan 'basic' is used by 2 key(s): k1, k2; move them to another plan with "
        "`evshare keys set-plan KEY PLAN` first"
    ) in fails(db, "plans", "delete", "basic")
    db("keys", "set-plan", "k1", "--default")
    db("keys", "set-plan", "k2", "unlimited")
    assert "the plan 'basic' is the default plan (EVSHARE_DEFAULT_PLAN)" in fails(
        db, "plans", "delete", "basic", env={"EVSHARE_DEFAULT_PLAN": "basic"}
    )
    deleted = db("plans", "delete", "basic")
    assert (deleted.code, deleted.err.strip()) == (0, "deleted plan basic")
    assert "there is no plan named 'basic'" in fails(db, "plans", "delete", "basic")
    assert "the plan 'unlimited' is built in and cannot be deleted" in fails(
        db, "plans", "delete", "unlimited"
    )


def test_usage_as_a_table_and_as_json_lines(db: Cli) -> None:
    for name in ("alpha", "beta"):
        db("keys", "create", "--name", name, "--all")
    empty = db("usage")
    assert (empty.code, empty.out, empty.err.strip()) == (
        0,
        "",
        "no usage recorded for that selection",
    )

    async def record() -> None:
        store = await open_store(load_settings(database_url=db.database_url))
        try:
            await store.add_usage(
                [
                    UsageRow("alpha", date(2026, 1, 1), 10, 2),
                    UsageRow("alpha", date(2026, 1, 2), 5, 0),
                    UsageRow("beta", date(2026, 1, 2), 7, 7),
                ]
            )
        finally:
            await store.close()

    asyncio.run(record())
    assert json_lines(db("usage", "--json").out) == [
        {"key": "alpha", "day": "2026-01-01", "requests": 10, "throttled": 2},
        {"key": "alpha", "day": "2026-01-02", "requests": 5, "throttled": 0},
        {"key": "beta", "day": "2026-01-02", "requests": 7, "throttled": 7},
    ]
    assert json_lines(db("usage", "--json", "--key", "alpha", "--from", "2026-01-02").out) == [
        {"key": "alpha", "day": "2026-01-02", "requests": 5, "throttled": 0}
    ]
    assert [r["key"] for r in json_lines(db("usage", "--json", "--to", "2026-01-01").out)] == [
        "alpha"
    ]
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in db("usage").out.splitlines()
        if line.startswith("│")
    ]
    assert rows == [
        ["alpha", "2026-01-01", "10", "2"],
        ["alpha", "2026-01-02", "5", "0"],
        ["beta", "2026-01-02", "7", "7"],
        ["total", "", "22", "9"],
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--key", "nobody"], "there is no key named 'nobody'"),
        (["--from", "2026-13-01"], "--from: '2026-13-01' is not a date; use YYYY-MM-DD"),
        (["--to", "yesterday"], "--to: 'yesterday' is not a date; use YYYY-MM-DD"),
        (
            ["--from", "2026-02-01", "--to", "2026-01-01"],
            "--from 2026-02-01 is after --to 2026-01-01",
        ),
    ],
)
def test_usage_mistakes_are_one_clear_line(db: Cli, args: list[str], message: str) -> None:
    assert message in fails(db, "usage", *args)
