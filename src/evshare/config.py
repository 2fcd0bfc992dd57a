"""Settings: read from EVSHARE_* environment variables (and CLI flags), validated, passed in.

Nothing reads the environment at import time; `load_settings()` is called by the CLI, the Lambda
handler or a test, and the result is handed to whatever needs it.

Written on the standard library rather than pydantic-settings: importing that (and pydantic) cost
a Lambda cold start about 150 ms of its 250 ms budget, to check a dozen scalars. Each field
declares its bounds with `setting(...)`; `load_settings` converts environment strings by the
field's type and names each bad variable in one ConfigError.
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

from evshare.errors import ConfigError

Profile = Literal["1.2.0", "1.0.7"]
AuthMode = Literal["evshare", "gateway"]

_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n"}


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
            raise _Invalid("root_path", "must start with '/', e.g. /default")
        object.__setattr__(self, "root_path", root)
        if not self.database_url.startswith(
            ("sqlite://", "postgresql://", "postgres://", "dynamodb://", "memory://")
        ):
            raise _Invalid(
                "database_url",
                "must start with sqlite:///, postgresql:// or dynamodb:// (or memory:// in tests)",
            )

    @classmethod
    def model_validate(cls, values: dict[str, Any]) -> Settings:
        """Settings from `values` alone, the environment ignored (pydantic's name, kept)."""
        return _build(values, {})

    def model_dump(self) -> dict[str, Any]:
        """Every setting by name (the name pydantic gave this, kept for its callers)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class _Invalid(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@cache
def _types() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


def _convert(name: str, kind: Any, value: Any) -> Any:
    """`value` (a string from the environment, or a typed override) as `kind`, or _Invalid."""
    origin = typing.get_origin(kind)
    if origin is Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise _Invalid(name, f"must be one of {', '.join(map(str, choices))}, not {value!r}")
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
        raise _Invalid(name, f"must be true or false, not {value!r}")
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise _Invalid(name, f"must be a whole number, not {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _Invalid(name, f"must be a whole number, not {value!r}") from None
    if kind is float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _Invalid(name, f"must be a number, not {value!r}") from None
        if not math.isfinite(number):
            raise _Invalid(name, f"must be a finite number, not {value!r}")
        return number
    if not isinstance(value, str):
        raise _Invalid(name, f"must be text, not {value!r}")
    return value


def _bounded(field: dataclasses.Field[Any], value: Any) -> None:
    meta = field.metadata
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    if meta.get("ge") is not None and value < meta["ge"]:
        raise _Invalid(field.name, f"must be at least {meta['ge']:g}, not {value}")
    if meta.get("gt") is not None and value <= meta["gt"]:
        raise _Invalid(field.name, f"must be greater than {meta['gt']:g}, not {value}")
    if meta.get("le") is not None and value > meta["le"]:
        raise _Invalid(field.name, f"must be at most {meta['le']:g}, not {value}")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with `overrides` (CLI flags) taking precedence.

    Raises ConfigError naming each bad setting by its environment variable.
    """
    environment = {k.upper(): v for k, v in os.environ.items() if k[:8].upper() == "EVSHARE_"}
    return _build(overrides, environment)


def _build(overrides: dict[str, Any], environment: dict[str, str]) -> Settings:
    kinds = _types()
    values: dict[str, Any] = {}
    problems: list[str] = []
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
            problems.append(f"EVSHARE_{name.upper()}: {exc}")
    unknown = sorted(k for k, v in overrides.items() if v is not None and k not in kinds)
    problems.extend(f"{name}: not a setting" for name in unknown)
    if not problems:
        try:
            return Settings(**values)
        except _Invalid as exc:
            problems.append(f"EVSHARE_{exc.name.upper()}: {exc}")
    raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
