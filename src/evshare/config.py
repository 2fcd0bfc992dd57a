"""Settings: read from EVSHARE_* environment variables (and CLI flags), validated, passed in.

Nothing reads the environment at import time; `load_settings()` is called by the CLI, the Lambda
handler or a test, and the result is handed to whatever needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from evshare.errors import ConfigError, SettingProblem

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

Profile = Literal["1.2.0", "1.0.7"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVSHARE_", extra="forbid", frozen=True)

    database_url: str = Field(
        "sqlite:///evshare.db",
        description="sqlite:///PATH (embedded, the default) or postgresql://... (memory://NAME: "
        "in this process only, for tests)",
    )
    profile: Profile = Field("1.2.0", description="EnergSync contract version to serve")
    root_path: str = Field("", description="base path the API is mounted under, e.g. /default")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=256)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True

    # PostgreSQL connection handling.
    db_pool_min: int = Field(1, ge=0, le=1000)
    db_pool_max: int = Field(10, ge=1, le=1000)
    db_connect_timeout: float = Field(3.0, gt=0, le=600, description="seconds")
    db_statement_timeout: float = Field(5.0, gt=0, le=3600, description="seconds")
    db_prepare: bool = Field(
        False, description="use server-side prepared statements (off: safe behind PgBouncer)"
    )

    # Usage plans.
    redis_url: str | None = Field(None, description="redis://... shares limits across processes")
    redis_timeout: float = Field(0.25, gt=0, le=60, description="seconds")
    limiter_failure: Literal["open", "closed"] = Field(
        "open", description="when Redis is unreachable: serve anyway (open) or answer 503 (closed)"
    )
    default_plan: str = Field("unlimited", description="plan of keys that have none")

    # The front door (`evshare serve`): what one client may cost the server before it is dropped.
    header_timeout: float = Field(
        10.0,
        ge=0.1,
        le=60,
        description="seconds a request's headers may take to arrive, and an idle connection "
        "may stay open between requests",
    )
    max_header_bytes: int = Field(
        32768, ge=8192, le=1048576, description="request line and headers, in bytes (else 431)"
    )
    max_connections: int = Field(
        2048,
        ge=16,
        le=1_000_000,
        description="open connections per worker; past it new ones wait in the listen backlog",
    )

    # Identities: bearer JWTs from the operator's OIDC / Cognito issuers (see identity/).
    identity_config: str | None = Field(
        None, description="TOML file of trusted token issuers and their claim mapping"
    )
    identity_trust_gateway: bool = Field(
        False, description="on Lambda: map the claims API Gateway's authorizer verified"
    )

    @field_validator("root_path")
    @classmethod
    def _root_path_shape(cls, value: str) -> str:
        value = value.rstrip("/")
        if value and not value.startswith("/"):
            raise ValueError("must start with '/', e.g. /default")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgres://", "memory://")):
            raise ValueError(
                "not a database URL evshare knows; use sqlite:///PATH (a file, relative), "
                "sqlite:////PATH (absolute) or postgresql://USER@HOST/DB (memory:// in tests)"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("not a Redis URL; use redis://HOST:6379/0 (or rediss://, unix://)")
        return value or None


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with `overrides` (CLI flags) taking precedence.

    Raises ConfigError with one `SettingProblem` per bad setting, in plain words.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = [
            SettingProblem(
                "_".join(str(part) for part in error["loc"]) or "settings",
                error.get("input"),
                plain_reason(error),
            )
            for error in exc.errors()
        ]
        raise ConfigError(problems=problems) from None


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
