"""Settings: read from EVSHARE_* environment variables (and CLI flags), validated, passed in.

Nothing reads the environment at import time; `load_settings()` is called by the CLI, the Lambda
handler or a test, and the result is handed to whatever needs it.

Written on the standard library rather than pydantic-settings: importing that (and pydantic) cost
a Lambda cold start about 150 ms of its 250 ms budget, to check a couple of dozen scalars. Each
field declares its bounds with `setting(...)`; `load_settings` converts environment strings by the
field's type and reports every bad setting at once, in plain words, as `SettingProblem`s, which
the CLI names as its user gave them (flag or variable) and the Lambda names by variable.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from evshare.errors import ConfigError, SettingProblem

Profile = Literal["1.2.0", "1.0.7"]
AuthMode = Literal["evshare", "gateway"]

_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n"}
_DATABASE_SCHEMES = ("sqlite://", "postgresql://", "postgres://", "dynamodb://", "memory://")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def setting(
    default: Any,
    description: str = "",
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """A field with its default, what it means, and its numeric bounds."""
    return dataclasses.field(
        default=default, metadata={"description": description, "ge": ge, "gt": gt, "le": le}
    )


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = setting(
        "sqlite:///evshare.db",
        "sqlite:///PATH (embedded, the default), postgresql://..., dynamodb://TABLE?region=R "
        "(memory://NAME: in this process only, for tests)",
    )
    profile: Profile = setting("1.2.0", "EnergSync contract version to serve")
    root_path: str = setting("", "base path the API is mounted under, e.g. /default")
    host: str = "127.0.0.1"
    port: int = setting(8000, ge=0, le=65535)
    workers: int = setting(1, ge=1, le=256)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True

    # The front door of `evshare serve` (see api/server.py and docs/deployment.md).
    header_timeout: float = setting(
        10.0,
        "seconds a request's headers may take to arrive, and an idle connection may stay open "
        "between requests",
        ge=0.1,
        le=60,
    )
    max_header_bytes: int = setting(
        32768, "request line and headers, in bytes (else 431)", ge=8192, le=1048576
    )
    max_connections: int = setting(
        2048,
        "open connections per worker; past it new ones wait in the listen backlog",
        ge=16,
        le=1_000_000,
    )

    # PostgreSQL connection handling.
    db_pool_min: int = setting(1, ge=0, le=1000)
    db_pool_max: int = setting(10, ge=1, le=1000)
    db_connect_timeout: float = setting(3.0, "seconds", gt=0, le=600)
    db_statement_timeout: float = setting(5.0, "seconds", gt=0, le=3600)
    db_prepare: bool = setting(
        False, "use server-side prepared statements (off: safe behind PgBouncer)"
    )

    # Usage plans.
    redis_url: str | None = setting(None, "redis://... shares limits across processes")
    redis_timeout: float = setting(0.25, "seconds", gt=0, le=60)
    limiter_failure: Literal["open", "closed"] = setting(
        "open", "when Redis is unreachable: serve anyway (open) or answer 503 (closed)"
    )
    default_plan: str = setting("unlimited", "plan of keys that have none")

    # Identities: bearer JWTs from the operator's OIDC / Cognito issuers (see identity/).
    identity_config: str | None = setting(
        None, "TOML file of trusted token issuers and their claim mapping"
    )
    identity_trust_gateway: bool = setting(
        False, "on Lambda: map the claims API Gateway's authorizer verified"
    )

    # Who checks keys and plans behind API Gateway (see docs/aws.md).
    auth: AuthMode = setting(
        "evshare",
        "evshare: evshare checks keys and plans; gateway: API Gateway does (REST API key id)",
    )

    def __post_init__(self) -> None:
        root = self.root_path.rstrip("/")
        if root and not root.startswith("/"):
            raise _Invalid("root_path", self.root_path, "must start with '/', e.g. /default")
        object.__setattr__(self, "root_path", root)
        if not self.database_url.startswith(_DATABASE_SCHEMES):
            raise _Invalid(
                "database_url",
                self.database_url,
                "not a database URL evshare knows; use sqlite:///PATH (a file, relative), "
                "sqlite:////PATH (absolute), postgresql://USER@HOST/DB or "
                "dynamodb://TABLE?region=REGION (memory:// in tests)",
            )
        if not self.redis_url:
            object.__setattr__(self, "redis_url", None)
        elif not self.redis_url.startswith(_REDIS_SCHEMES):
            raise _Invalid(
                "redis_url",
                self.redis_url,
                "not a Redis URL; use redis://HOST:6379/0 (or rediss://, unix://)",
            )

    @classmethod
    def model_validate(cls, values: dict[str, Any]) -> Settings:
        """Settings from `values` alone, the environment ignored (pydantic's name, kept)."""
        return _build(values, {})

    def model_dump(self) -> dict[str, Any]:
        """Every setting by name (the name pydantic gave this, kept for its callers)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def default_of(name: str) -> Any:
    """The default of the setting `name`; KeyError if there is no such setting."""
    return _fields()[name].default


class _Invalid(ValueError):
    def __init__(self, name: str, value: object, reason: str) -> None:
        super().__init__(reason)
        self.problem = SettingProblem(name, value, reason)


@cache
def _types() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


@cache
def _fields() -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(Settings)}


def _choices(values: tuple[Any, ...]) -> str:
    quoted = [repr(str(v)) for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _convert(name: str, kind: Any, value: Any) -> Any:
    """`value` (a string from the environment, or a typed override) as `kind`, or _Invalid."""
    origin = typing.get_origin(kind)
    if origin is Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise _Invalid(name, value, f"must be {_choices(choices)}")
        return value
    if origin in (types.UnionType, typing.Union):
        (inner,) = [k for k in typing.get_args(kind) if k is not type(None)]
        return None if value is None else _convert(name, inner, value)
    return _scalar(name, kind, value)


def _scalar(name: str, kind: Any, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise _Invalid(name, value, "not true or false (use true/false, yes/no, on/off or 1/0)")
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise _Invalid(name, value, "not a whole number")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _Invalid(name, value, "not a whole number") from None
    if kind is float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _Invalid(name, value, "not a number") from None
        if not math.isfinite(number):
            raise _Invalid(name, value, "not a finite number")
        return number
    if not isinstance(value, str):
        raise _Invalid(name, value, "must be text")
    return value


def _bounded(field: dataclasses.Field[Any], value: Any) -> None:
    meta = field.metadata
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    if meta.get("ge") is not None and value < meta["ge"]:
        raise _Invalid(field.name, value, f"must be at least {meta['ge']:g}")
    if meta.get("gt") is not None and value <= meta["gt"]:
        raise _Invalid(field.name, value, f"must be more than {meta['gt']:g}")
    if meta.get("le") is not None and value > meta["le"]:
        raise _Invalid(field.name, value, f"must be at most {meta['le']:g}")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with `overrides` (CLI flags) taking precedence.

    Raises ConfigError with one `SettingProblem` per bad setting, in plain words.
    """
    environment = {k.upper(): v for k, v in os.environ.items() if k[:8].upper() == "EVSHARE_"}
    return _build(overrides, environment)


def _build(overrides: dict[str, Any], environment: dict[str, str]) -> Settings:
    kinds = _types()
    values: dict[str, Any] = {}
    problems: list[SettingProblem] = []
    for field in dataclasses.fields(Settings):
        name = field.name
        raw = overrides.get(name)
        if raw is None:
            raw = environment.get(f"EVSHARE_{name.upper()}")
        if raw is None:
            continue
        try:
            values[name] = converted = _convert(name, kinds[name], raw)
            _bounded(field, converted)
        except _Invalid as exc:
            problems.append(exc.problem)
    problems.extend(
        SettingProblem(name, value, "is not a setting evshare knows")
        for name, value in sorted(overrides.items())
        if value is not None and name not in kinds
    )
    if not problems:
        try:
            return Settings(**values)
        except _Invalid as exc:
            problems.append(exc.problem)
    raise ConfigError(problems=problems)
