"""The one place where whatever a command raises becomes one line on stderr and an exit status.

Every command registered on the root `evshare` app runs inside `EvshareGroup.invoke`, so a new
command needs nothing special: raise an `EvshareError` with a message that says what is wrong and
how to fix it, or let an OS, file, database or URL error escape, and it is reported as

    error: --output /tmp: is a folder, not a file

naming the flag (or the environment variable, or the argument) the user gave and its value.
`ConfigError(problems=...)` about settings is reported the same way, under the name the user
used: `--port 70000: must be at most 65535` or `EVSHARE_PORT=70000: ...`.

Exit statuses: 0 success, 1 a user error or a failure reported in one line, 2 a usage error
(click's: unknown option, missing argument, bad value), 70 an unexpected error (a bug: the line
says so; `EVSHARE_DEBUG=1` shows the traceback instead), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from typer import _click
from typer._click.core import ParameterSource
from typer.core import TyperGroup

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

from evshare.errors import (
    ConfigError,
    EvshareError,
    SchemaOutOfDate,
    SettingProblem,
    Unavailable,
)

UNEXPECTED = 70  # EX_SOFTWARE: an error evshare did not expect is a bug
DEBUG_VARIABLE = "EVSHARE_DEBUG"

_stderr = Console(stderr=True, soft_wrap=True, highlight=False)


@dataclass(frozen=True, slots=True)
class Given:
    """One parameter of the command that ran: how the user would name it, and its value."""

    name: str  # the Python name, which is also the Settings field for settings options
    flag: str | None  # `--output`, or None for an argument
    metavar: str  # `FILE` for an argument
    value: Any
    source: ParameterSource | None
    envvar: str | None

    def label(self) -> str:
        """How to show this parameter with its value, as the user gave it."""
        if self.source is ParameterSource.ENVIRONMENT and self.envvar:
            return f"{self.envvar}={self.value}"
        if self.flag is None:
            return str(self.value)
        return f"{self.flag} {self.value}"


@dataclass(frozen=True, slots=True)
class Invocation:
    """The command that ran (`evshare keys create`) and its parameters, parsed again from argv."""

    command: str
    params: tuple[Given, ...]

    @classmethod
    def parse(cls, root: _click.Command, root_ctx: _click.Context, args: list[str]) -> Invocation:
        """Resolve `args` (what followed the root command) down to the command that ran."""
        command, ctx = root, root_ctx
        try:
            while isinstance(command, TyperGroup) and args:
                name, sub, args = command.resolve_command(ctx, args)
                if sub is None or name is None:
                    break
                ctx = sub.make_context(name, list(args), parent=ctx, resilient_parsing=True)
                command, args = sub, [*ctx._protected_args, *ctx.args]
        except (_click.exceptions.ClickException, typer.Exit):
            pass
        params = []
        for param in command.get_params(ctx):
            if param.name is None or not param.expose_value:
                continue
            longs = [o for o in param.opts if o.startswith("--")]
            is_option = param.param_type_name == "option"
            envvar = getattr(param, "envvar", None)
            params.append(
                Given(
                    name=param.name,
                    flag=(longs or param.opts)[0] if is_option and param.opts else None,
                    metavar=param.metavar or param.name.upper(),
                    value=ctx.params.get(param.name),
                    source=ctx.get_parameter_source(param.name),
                    envvar=envvar if isinstance(envvar, str) else None,
                )
            )
        return cls(ctx.command_path, tuple(params))

    def find(self, name: str) -> Given | None:
        return next((p for p in self.params if p.name == name), None)

    def setting(self, setting: str, value: object = None) -> str:
        """How the user gave the setting `setting` (a Settings field), with its value."""
        given = self.find(setting)
        variable = f"EVSHARE_{setting.upper()}"
        if given is not None and given.source in (
            ParameterSource.COMMANDLINE,
            ParameterSource.ENVIRONMENT,
        ):
            return given.label()
        if variable in os.environ:
            return f"{variable}={os.environ[variable] if value is None else value}"
        if value is None:
            from evshare.config import default_of

            try:
                value = default_of(setting)
            except KeyError:
                value = None
        if given is not None and given.flag is not None:
            return f"{given.flag} {value} (the default)"
        return f"{variable} (default: {value})"

    def path(self, filename: str) -> str | None:
        """The parameter (with its value) that names the file `filename`, if one does."""
        for given in self.params:
            for value in _values(given.value):
                text = str(value)
                if text and (text == filename or os.path.abspath(text) == filename):
                    return given.label() if given.flag else text
        for given in self.params:
            for value in _values(given.value):
                # A database URL names its file at its end: sqlite:///dir/x.db
                if given.flag and str(value).endswith(filename) and "://" in str(value):
                    return given.label()
        return None

    def url(self, url: str) -> str | None:
        """The parameter (with its value) that gave the URL `url`, or a prefix of it."""
        for given in self.params:
            for value in _values(given.value):
                text = str(value).rstrip("/")
                if text and url.startswith(text) and "://" in text:
                    return given.label()
        return None


def _values(value: Any) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        yield from (v for v in value if v is not None)
    elif value is not None:
        yield value


_OS_REASONS = {
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "on a read-only file system",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ECONNREFUSED: "connection refused (is the server running on that host and port?)",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
}


def _os_reason(exc: OSError, filename: str | None) -> str:
    if exc.errno == errno.ENOENT and filename:
        parent = Path(filename).parent
        if not parent.exists():
            return f"the folder {parent} does not exist"
        return "no such file"
    if exc.errno in _OS_REASONS:
        return _OS_REASONS[exc.errno]
    return (exc.strerror or str(exc)).lower() or type(exc).__name__


def one_line(text: str) -> str:
    """Many drivers' messages run over several lines; a reported error is one."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _problem(problem: SettingProblem, invocation: Invocation | None) -> str:
    if invocation is None:
        return str(problem)
    return f"{invocation.setting(problem.setting, problem.value)}: {problem.reason}"


def _database(invocation: Invocation | None) -> str:
    return "the database" if invocation is None else invocation.setting("database_url")


def explain(  # noqa: PLR0911 - one return per kind of error, in the order they are tried
    exc: BaseException, invocation: Invocation | None
) -> tuple[str, int] | None:
    """The one-line message and exit status for `exc`; None when it is not one evshare expects."""
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return explain(exc.exceptions[0], invocation)
    if isinstance(exc, ConfigError) and exc.problems:
        return "; ".join(_problem(p, invocation) for p in exc.problems), 1
    if isinstance(exc, Unavailable | SchemaOutOfDate):
        return f"{_database(invocation)}: {one_line(str(exc))}", 1
    if isinstance(exc, EvshareError):  # its own words; a list of bad rows keeps its lines
        return str(exc), 1
    if isinstance(exc, OSError) and not _is_connection(exc):
        filename = exc.filename if isinstance(exc.filename, str) else None
        named = None if filename is None or invocation is None else invocation.path(filename)
        where = named or filename
        reason = _os_reason(exc, filename)
        return (f"{where}: {reason}" if where else reason), 1
    module = type(exc).__module__.split(".")[0]
    if module in ("sqlite3", "psycopg", "psycopg_pool", "sqlalchemy"):
        reason = one_line(str(getattr(exc, "orig", None) or exc)) or type(exc).__name__
        if module == "sqlite3" and "not a database" in reason:
            reason = f"not an SQLite database ({reason})"
        return f"{_database(invocation)}: {reason}", 1
    if module == "httpx" or isinstance(exc, OSError):
        return _network(exc, invocation), 1
    if module == "redis":
        return f"{invocation.setting('redis_url') if invocation else 'Redis'}: {exc}", 1
    return None


def _is_connection(exc: OSError) -> bool:
    return isinstance(exc, ConnectionError | TimeoutError) and exc.filename is None


def _network(exc: BaseException, invocation: Invocation | None) -> str:
    url = None
    with contextlib.suppress(AttributeError, RuntimeError):  # httpx: no request attached
        url = str(exc.request.url)  # type: ignore[attr-defined]
    named = None if url is None or invocation is None else invocation.url(url)
    if url is None and invocation is not None:  # a URL refused before any request: the user's
        named = next(
            (g.label() for g in invocation.params if "://" in str(g.value) and g.source), None
        )
    reason = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in _OS_REASONS:
        reason = _OS_REASONS[exc.errno]
    where = named or url
    return f"{where}: {reason}" if where else reason


def report(message: str) -> None:
    """Print `error: MESSAGE` on stderr, on one line whatever the terminal's width."""
    _stderr.print(f"[bold red]error:[/] {_escape(message)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _plain_click_error(exc: _click.exceptions.UsageError) -> None:
    """Typer validates option values with pydantic; say what it found wrong in plain words, and
    name the environment variable only when the value came from it."""
    from pydantic import ValidationError

    if not isinstance(exc, _click.exceptions.BadParameter):
        return
    cause = exc.__cause__
    if isinstance(cause, ValidationError) and cause.errors():
        error = cause.errors()[0]
        value = error.get("input")
        reason = plain_reason(error)
        exc.message = f"{value!r}: {reason}" if isinstance(value, str) else reason
    param = exc.param
    envvar = getattr(param, "envvar", None)
    if param is not None and exc.param_hint is None and isinstance(envvar, str):
        if envvar not in os.environ:
            longs = [o for o in param.opts if o.startswith("--")] or param.opts
            exc.param_hint = f"'{longs[0]}'" if longs else None
        else:
            exc.param_hint = f"'{envvar}'"


def _report_usage(exc: _click.exceptions.UsageError) -> None:
    """Click's usage error, as plain lines: the usage, where to find help, and `error: ...`."""
    ctx = exc.ctx
    if ctx is not None:
        print(ctx.get_usage(), file=sys.stderr)
        if ctx.command.get_help_option(ctx) is not None:
            print(f"Try '{ctx.command_path} -h' for help.", file=sys.stderr)
    report(one_line(exc.format_message()))


class EvshareGroup(TyperGroup):
    """The root command: runs every sub-command and turns what it raises into one line.

    It also renders every command's help as Markdown (lines of a docstring join up, `code`
    shows as code, and a [bracketed] note is not swallowed as a Rich style tag)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _markdown_help(self)

    def invoke(self, ctx: _click.Context) -> Any:
        args = [*ctx._protected_args, *ctx.args]
        try:
            return super().invoke(ctx)
        except _click.exceptions.NoArgsIsHelpError:
            raise  # `evshare keys`: the group's help, as Typer shows it
        except _click.exceptions.UsageError as exc:
            _plain_click_error(exc)
            _report_usage(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, BrokenPipeError):
            raise  # Typer ends quietly on a closed pipe (`evshare export sessions | head`)
        except Exception as exc:
            invocation = _safely_parse(self, ctx, args)
            explained = explain(exc, invocation)
            if explained is None:
                if os.environ.get(DEBUG_VARIABLE):
                    raise
                where = invocation.command if invocation else "evshare"
                explained = (
                    f"unexpected {type(exc).__name__} in `{where}`: {one_line(str(exc))}. "
                    f"This is a bug in evshare; please report it (set {DEBUG_VARIABLE}=1 to see "
                    "where it happened)",
                    UNEXPECTED,
                )
            message, status = explained
            _flush_quietly()
            report(message)
            raise typer.Exit(status) from None


def _markdown_help(command: _click.Command) -> None:
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = "markdown"
    for sub in getattr(command, "commands", {}).values():
        _markdown_help(sub)


def _safely_parse(root: EvshareGroup, ctx: _click.Context, args: list[str]) -> Invocation | None:
    try:
        return Invocation.parse(root, ctx, args)
    except Exception:  # naming the flag is a courtesy; never let it hide the real error
        return None


def _flush_quietly() -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()


_PLAIN = {
    "int_parsing": "not a whole number",
    "int_from_float": "not a whole number",
    "int_type": "not a whole number",
    "float_parsing": "not a number",
    "float_type": "not a number",
    "finite_number": "not a finite number",
    "bool_parsing": "not true or false (use true/false, yes/no, on/off or 1/0)",
    "bool_type": "not true or false",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
    "missing": "is required",
    "extra_forbidden": "is not a setting evshare knows",
    "string_type": "must be text",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "date_from_datetime_parsing": "not a date; use YYYY-MM-DD",
    "date_parsing": "not a date; use YYYY-MM-DD",
    "datetime_from_date_parsing": "not a date-time; use e.g. 2027-01-31T12:00:00Z",
    "datetime_parsing": "not a date-time; use e.g. 2027-01-31T12:00:00Z",
}


def plain_reason(error: ErrorDetails) -> str:
    """A validation error in plain words, without the validation library's phrasing
    ("Input should be ...", "Value error, ...")."""
    context = dict(error.get("ctx") or {})
    if error["type"] in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])
    template = _PLAIN.get(error["type"])
    if template is not None:
        try:
            return template.format(**context)
        except (KeyError, IndexError):
            pass
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message.replace("Input should be", "must be").replace("input", "value")
