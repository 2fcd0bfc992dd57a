"""The identity file (`EVSHARE_IDENTITY_CONFIG`): which token issuers evshare trusts, and how the
claims of their tokens map to visible chargers and usage plans.

```toml
leeway = 30                 # seconds of clock skew allowed on exp, nbf and iat
jwks_refresh_interval = 30  # at most one JWKS fetch per issuer per this many seconds
jwks_max_age = 3600         # keys older than this are fetched again
jwks_stale_for = 86400      # how long old keys still verify while the issuer cannot be reached
jwks_timeout = 3.0          # seconds for one JWKS (or discovery) request
cache_size = 10000          # verified tokens kept until they expire

[issuers.partners]                      # the alias: logs and usage name identities by it
url = "https://cognito-idp.ca-central-1.amazonaws.com/ca-central-1_AbCdEf"
kind = "cognito"                        # or "oidc" (the default)
audiences = ["4f1k2example"]            # aud, or client_id for Cognito access tokens
token_use = ["access", "id"]            # Cognito only; both by default
chargers_claim = "custom:chargers"      # a claim listing charger ids
groups_claim = "cognito:groups"         # the default for Cognito
key_claim = "custom:evshare_key"        # a claim naming an evshare key whose scope it borrows
plan = "standard"                       # the usage plan (default: EVSHARE_DEFAULT_PLAN)
limit_by = "subject"                    # or "group": one bucket and quota per group
# jwks_url = "https://.../jwks.json"    # default: from {url}/.well-known/openid-configuration
# ca_file = "private-ca.pem"            # an issuer behind a private CA (relative: to this file)

[issuers.partners.groups.admins]
chargers = "all"
[issuers.partners.groups.site-a]
chargers = ["CA-AB-CAL-0001", "CA-AB-CAL-0002"]
plan = "gold"
```

Every fault is reported as one ConfigError naming the file, the issuer and the field.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evshare.errors import ConfigError

_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PLAN = _ALIAS
COGNITO_GROUPS = "cognito:groups"

TokenUse = Literal["access", "id"]
_TOKEN_USES: tuple[TokenUse, ...] = ("access", "id")
Seconds = Annotated[float, Field(ge=0, le=86_400 * 30)]


class GroupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    chargers: Literal["all"] | list[str] = Field(
        description='"all", or the charger ids members of the group may see'
    )
    plan: str | None = Field(None, description="the usage plan of the group's members")

    @field_validator("chargers", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if value == "all":
            return value
        if not isinstance(value, list) or not all(isinstance(i, str) and i.strip() for i in value):
            raise ValueError('use "all" or a list of charger ids, e.g. ["CH-1", "CH-2"]')
        return value

    @field_validator("plan")
    @classmethod
    def _plan(cls, value: str | None) -> str | None:
        if value is not None and _PLAN.fullmatch(value) is None:
            raise ValueError(f"{value!r} is not a plan name")
        return value


class IssuerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alias: str = ""  # filled from the table name
    url: str = Field(description="the issuer URL, exactly as the tokens' iss claim says it")
    kind: Literal["oidc", "cognito"] = "oidc"
    audiences: list[str] = Field(min_length=1)
    token_use: list[TokenUse] = Field(default_factory=lambda: list(_TOKEN_USES))
    chargers_claim: str | None = None
    groups_claim: str | None = None
    key_claim: str | None = None
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    plan: str | None = None
    limit_by: Literal["subject", "group"] = "subject"
    leeway: Seconds | None = None
    jwks_url: str | None = None
    ca_file: Path | None = None

    @field_validator("url", "jwks_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"{value!r} must be an https:// URL (keys are never fetched in clear)")
        return value

    @field_validator("plan")
    @classmethod
    def _plan(cls, value: str | None) -> str | None:
        return GroupConfig._plan(value)

    @field_validator("ca_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{str(value)!r} is not a readable file")
        return value

    @property
    def groups_claim_name(self) -> str | None:
        if self.groups_claim is None and self.kind == "cognito":
            return COGNITO_GROUPS
        return self.groups_claim

    @property
    def discovery_url(self) -> str:
        return self.url.rstrip("/") + "/.well-known/openid-configuration"


class IdentityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = ""  # the file it was read from, for messages
    leeway: Seconds = 30.0
    jwks_refresh_interval: Seconds = 30.0
    jwks_max_age: Seconds = 3600.0
    jwks_stale_for: Seconds = 86_400.0
    jwks_timeout: float = Field(3.0, gt=0, le=60)
    cache_size: int = Field(10_000, ge=1, le=10_000_000)
    issuers: dict[str, IssuerConfig] = Field(min_length=1)

    def leeway_of(self, issuer: IssuerConfig) -> float:
        return self.leeway if issuer.leeway is None else issuer.leeway

    def plans(self) -> list[tuple[str, str]]:
        """Every plan the file names, with where: to check they exist at start-up."""
        named = []
        for alias, issuer in self.issuers.items():
            if issuer.plan is not None:
                named.append((f"issuer {alias!r}, field 'plan'", issuer.plan))
            for group, config in issuer.groups.items():
                if config.plan is not None:
                    named.append((f"issuer {alias!r}, field 'groups.{group}.plan'", config.plan))
        return named


def _where(loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "issuers":
        field = ".".join(str(part) for part in loc[2:]) or "(the table)"
        return f"issuer {loc[1]!r}, field {field!r}"
    return f"field {'.'.join(str(part) for part in loc) or '(the file)'!r}"


def parse_identity_config(text: str, source: str, base: Path | None = None) -> IdentityConfig:
    """The identity file's content, checked; ConfigError naming `source`, issuer and field.
    A relative `ca_file` is taken relative to `base` (the file's folder)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    issuers = raw.get("issuers")
    if isinstance(issuers, dict):
        for alias, table in issuers.items():
            if _ALIAS.fullmatch(alias) is None:
                raise ConfigError(
                    f"{source}: issuer {alias!r}: the alias (the table name) must be 1-64 "
                    "letters, digits, '.', '_' or '-', starting with a letter or digit"
                )
            if isinstance(table, dict):
                table["alias"] = alias
                ca_file = table.get("ca_file")
                if base is not None and isinstance(ca_file, str):
                    table["ca_file"] = str(base / ca_file)  # an absolute ca_file stays as it is
    try:
        config = IdentityConfig.model_validate({**raw, "source": source})
    except ValidationError as exc:
        problems = [f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors()]
        message = f"{source}: invalid identity configuration:\n  " + "\n  ".join(problems)
        raise ConfigError(message) from None
    seen: dict[str, str] = {}
    for alias, issuer in config.issuers.items():
        if issuer.url in seen:
            raise ConfigError(
                f"{source}: issuer {alias!r}, field 'url': the same URL as issuer "
                f"{seen[issuer.url]!r}; a token's iss must name exactly one issuer"
            )
        seen[issuer.url] = alias
        mapped = (issuer.chargers_claim, issuer.groups_claim_name, issuer.key_claim)
        if not any(mapped):
            raise ConfigError(
                f"{source}: issuer {alias!r}: no claim maps to chargers; set chargers_claim, "
                "groups_claim (with [issuers.ALIAS.groups.NAME] tables) or key_claim"
            )
        if issuer.groups and issuer.groups_claim_name is None:
            raise ConfigError(
                f"{source}: issuer {alias!r}, field 'groups': groups are mapped but no "
                "groups_claim says where the token lists them"
            )
        if issuer.kind == "oidc" and "token_use" in (raw["issuers"][alias] or {}):
            raise ConfigError(
                f"{source}: issuer {alias!r}, field 'token_use': only Cognito tokens carry "
                'token_use; set kind = "cognito" or remove it'
            )
    return config


def load_identity_config(path: str | Path) -> IdentityConfig:
    """Read and check the identity file named by EVSHARE_IDENTITY_CONFIG."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"EVSHARE_IDENTITY_CONFIG: cannot read {str(path)!r}: {exc.strerror or exc}"
        ) from None
    return parse_identity_config(text, str(path), Path(path).parent)
