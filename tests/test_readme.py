"""The README holds: its settings table is config.py's settings, every EVSHARE_ variable it names
is a setting (or one of the few documented others), and every `evshare ...` line in its code
blocks names a real command with options that command has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from evshare.cli import app
from evshare.config import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()
NOT_SETTINGS = {"EVSHARE_DEBUG", "EVSHARE_REQUIRE_SERVICES", "EVSHARE_TEST_POSTGRES_URL"}
NOT_SETTINGS |= {"EVSHARE_TEST_REDIS_URL", "EVSHARE_OPTION"}


def _table_variables() -> set[str]:
    start = README.index("| variable | flag | default | what |")
    rows = README[start:].split("\n\n", 1)[0].splitlines()[2:]
    return {v for row in rows for v in re.findall(r"`(EVSHARE_[A-Z_]+)`", row.split("|")[1])}


def test_the_settings_table_is_every_setting() -> None:
    settings = {f"EVSHARE_{name.upper()}" for name in Settings().model_dump()}
    assert _table_variables() == settings, (
        "README.md's settings table and Settings in config.py differ: add or remove rows"
    )


def test_every_variable_the_readme_names_exists() -> None:
    settings = {f"EVSHARE_{name.upper()}" for name in Settings().model_dump()}
    named = set(re.findall(r"EVSHARE_[A-Z][A-Z_]*[A-Z]", README))
    assert named - settings - NOT_SETTINGS == set()


def _command_lines() -> list[str]:
    lines = []
    for language, block in re.findall(r"```(\w*)\n(.*?)```", README, re.S):
        if language not in ("", "sh"):
            continue
        for raw in block.replace("\\\n", " ").splitlines():
            line = raw.split("#", 1)[0].strip()
            for piece in re.split(r"\s*(?:\||&&|;)\s*", line):
                part = piece.replace("$(", "").strip()
                if part.startswith("evshare ") or re.match(r"^\w+=\$?\(?evshare ", part):
                    lines.append(part[part.index("evshare ") :])
    return lines


COMMANDS = _command_lines()


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) > 20


@pytest.mark.parametrize("line", COMMANDS)
def test_each_command_line_in_the_readme_is_a_real_command(line: str) -> None:
    words = [w for w in shlex.split(line.rstrip(")")) if not w.startswith(("<", ">"))][1:]
    command = typer.main.get_command(app)
    ctx = command.make_context("evshare", [], resilient_parsing=True)
    while hasattr(command, "commands") and words and not words[0].startswith("-"):
        name = words.pop(0)
        assert name in command.commands, f"{line}: no command {name!r}"
        command = command.commands[name]
    options = {o for p in command.get_params(ctx) for o in (*p.opts, *p.secondary_opts)}
    for word in words:
        if word.startswith("-") and word != "-":
            flag = word.split("=", 1)[0].strip("[]")
            assert flag in options, f"{line}: `{' '.join(ctx.command_path.split())}` has no {flag}"
