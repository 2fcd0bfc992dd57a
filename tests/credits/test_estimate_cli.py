"""`evshare credits estimate` as a prospect would run it."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from tests.cli.conftest import Cli


def test_estimate_json_lists_each_period_and_the_total(cli: Cli) -> None:
    result = cli(
        "credits",
        "estimate",
        "--program",
        "cfr",
        "--province",
        "ON",
        "--kwh",
        "100000",
        "--years",
        "2023-2024",
        "--json",
    )
    assert result.code == 0, result.err
    data = orjson.loads(result.out)
    assert [p["period"] for p in data["periods"]] == ["2023-H1", "2023-H2", "2024"]
    assert data["periods"][2] == data["periods"][2] | {
        "kwh": "100000.000",
        "eer": "2.5",
        "target_ci": "87.9",
        "ci_e": "14",
        "rounded": "74",
    }
    assert Decimal(data["periods"][2]["exact"]) == Decimal("74.07")
    assert data["total"] == str(sum(int(p["rounded"]) for p in data["periods"]))
    assert {p["name"] for p in data["parameters"]} >= {"CI_ref 2024", "CI_e ON", "EER light-duty"}


def test_estimate_bc_table(cli: Cli) -> None:
    result = cli(
        "credits",
        "estimate",
        "--program",
        "bc-lcfs",
        "--province",
        "BC",
        "--kwh",
        "100000",
        "--year",
        "2024",
    )
    assert result.code == 0, result.err
    assert "94.76640" in result.out
    assert "total: 95" in result.out


def test_negative_credits_are_shown_with_a_warning(cli: Cli) -> None:
    result = cli(
        "credits",
        "estimate",
        "--program",
        "cfr",
        "--province",
        "NU",
        "--kwh",
        "10000",
        "--year",
        "2024",
        "--json",
    )
    assert result.code == 0
    data = orjson.loads(result.out)
    assert data["total"] == "-3"
    assert any("negative" in w for w in data["warnings"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--program", "cfr", "--province", "ON", "--kwh", "1"], "--year"),
        (["--program", "xyz", "--province", "ON", "--kwh", "1", "--year", "2024"], "--program"),
        (["--program", "cfr", "--province", "ON", "--kwh", "lots", "--year", "2024"], "--kwh"),
        (["--program", "cfr", "--province", "ON", "--kwh", "1", "--years", "2026-2024"], "ends"),
        (
            [
                "--program",
                "cfr",
                "--province",
                "ON",
                "--kwh",
                "1",
                "--year",
                "2024",
                "--role",
                "network",
                "--eer",
                "4",
            ],
            "s. 102",
        ),
        (["--program", "bc-lcfs", "--province", "BC", "--kwh", "1", "--year", "2023"], "--eer"),
    ],
)
def test_estimate_errors_name_the_flag(cli: Cli, args: list[str], message: str) -> None:
    result = cli("credits", "estimate", *args)
    assert result.code != 0
    assert message in result.err


@pytest.mark.parametrize(
    "command",
    [
        ["credits"],
        ["credits", "estimate"],
        ["credits", "report"],
        ["credits", "export"],
        ["audit"],
    ],
)
def test_every_credits_command_has_help(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.code == 0
    assert "Usage: evshare" in result.out
