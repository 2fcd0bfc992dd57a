"""`--help` as man pages write it, for every command without each one doing anything.

The Typer release this project runs renders every value as a Python type (`<str>`, `<bool>`, even
for flags and for `--help` itself) and required arguments in braces (`{name}`). `install()`
changes only how parameters are *shown*: flags show no value, values show their metavar (or
TEXT, INTEGER, NUMBER, PATH), required arguments show as NAME and optional ones as [NAME].
Each change is skipped if a later Typer no longer has the method it adjusts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typer import _click, core

_TYPE_NAMES = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "NUMBER",
    "bool": "BOOLEAN",
    "path": "PATH",
    "Path": "PATH",
    "datetime": "DATETIME",
    "date": "DATE",
}


def plain_type(shown: str | None) -> str | None:
    """`<str>` -> TEXT, `<list[str]>` -> TEXT, `<day|week|month>` -> [day|week|month]."""
    if shown is None:
        return None
    inner = shown.removeprefix("<").removesuffix(">")
    if inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    if "|" in inner:
        return f"[{inner}]"
    return _TYPE_NAMES.get(inner, inner.upper())


def _option_type(original: Callable[..., str | None]) -> Callable[..., str | None]:
    def display_type_rich(self: core.TyperOption, ctx: _click.Context) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is not None:
            return self.metavar
        return plain_type(original(self, ctx))

    return display_type_rich


def _argument_type(original: Callable[..., str | None]) -> Callable[..., str | None]:
    def display_type_rich(self: core.TyperArgument, ctx: _click.Context) -> str | None:
        if self.metavar is not None:  # the name column shows it already
            return None
        return plain_type(original(self, ctx))

    return display_type_rich


def _usage_name(self: core.TyperArgument) -> str:
    name = self.metavar or (self.name or "").upper()
    if not self.required:
        name = f"[{name}]"
    return name + ("..." if self.nargs != 1 and not name.endswith("...") else "")


def _rich_name(self: core.TyperArgument) -> str:
    name = self.metavar or (self.name or "").upper()
    return name + ("..." if self.metavar is None and self.nargs != 1 else "")


def _replace(owner: type[Any], name: str, make: Callable[[Any], Any]) -> None:
    original = getattr(owner, name, None)
    if original is not None and not getattr(original, "_evshare", False):
        replacement = make(original)
        replacement._evshare = True
        setattr(owner, name, replacement)


def install() -> None:
    """Adjust Typer's help rendering (idempotent)."""
    _replace(core.TyperOption, "display_type_rich", _option_type)
    _replace(core.TyperArgument, "display_type_rich", _argument_type)
    _replace(core.TyperArgument, "_usage_display_name", lambda _: _usage_name)
    _replace(core.TyperArgument, "_rich_display_name", lambda _: _rich_name)
    _install_default_string()


def _default_string(original: Callable[..., str]) -> Callable[..., str]:
    def default_string(
        obj: Any, *, ctx: _click.Context, show_default_is_str: bool, **kw: Any
    ) -> str:
        if show_default_is_str:  # a default described in words is shown as written, unbracketed
            return str(obj.show_default)
        return original(obj, ctx=ctx, show_default_is_str=show_default_is_str, **kw)

    return default_string


def _install_default_string() -> None:
    original = getattr(core, "_get_default_string", None)
    if original is not None and not getattr(original, "_evshare", False):
        replacement = _default_string(original)
        replacement._evshare = True  # type: ignore[attr-defined]
        core._get_default_string = replacement
