"""Settings: read from EVSHARE_* environment variables (and CLI flags), validated, passed in.

Nothing reads the environment at import time; `load_settings()` is called by the CLI, the Lambda
handler or a test, and the result is handed to whatever needs it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from evshare.errors import ConfigError

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
            raise ValueError("must start with sqlite:/// or postgresql:// (or memory:// in tests)")
        return value


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with `overrides` (CLI flags) taking precedence.

    Raises ConfigError naming each bad setting by its environment variable.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"EVSHARE_{name.upper()}: {error['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None
