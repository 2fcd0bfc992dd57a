"""The sources file of `evshare collect`: one `[[source]]` table per provider.

```toml
[[source]]
name = "acme"                       # part of every collected id: acme:CH-1
url = "https://api.acme.example/default"
key_env = "ACME_KEY"                # the key is read from this environment variable
profile = "auto"                    # optional: auto, 1.2.0 or 1.0.7
concurrency = 4                     # optional: requests in flight to this provider
since = "2024-01-01"                # optional: the first UTC day to collect (default: all)
overlap = "7d"                      # optional: re-read window (default: --overlap)
```

Keys this version does not read are kept in `Source.extra` (a later feature may give a source's
chargers a province, say) rather than refused; a misspelt known key's value is still checked.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from evshare.client.http import ClientProfile
from evshare.errors import ConfigError

SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
"""No ':' in a name: it separates the source from the provider's id in collected ids."""

PROFILES = ("auto", "1.2.0", "1.0.7")
_KNOWN = {"name", "url", "key_env", "key", "profile", "concurrency", "since", "overlap"}


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    url: str
    key_env: str | None
    profile: ClientProfile = "auto"
    concurrency: int = 4
    since: date | None = None
    overlap: timedelta | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def check_name(name: str, where: str) -> str:
    if not SOURCE_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: source name {name!r} must be 1-63 letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit; no ':', which separates it from ids)"
        )
    return name


def check_url(url: str, where: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: url {url!r} must start with http:// or https://")
    return url.rstrip("/")


def check_profile(profile: str, where: str) -> ClientProfile:
    if profile not in PROFILES:
        raise ConfigError(f"{where}: profile {profile!r}: use auto, 1.2.0 or 1.0.7")
    return cast(ClientProfile, profile)


def check_concurrency(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 256:
        raise ConfigError(f"{where}: concurrency {value!r}: give a whole number from 1 to 256")
    return value


def check_since(value: object, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: since {value!r}: give a UTC day as YYYY-MM-DD")


def load_sources(path: Path, parse_overlap: Any) -> list[Source]:
    """Read and check a sources file; every problem is a ConfigError naming the file, the
    source and the field."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--sources {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--sources {path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--sources {path}: not valid TOML: {exc}") from None
    tables = document.get("source")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"--sources {path}: no [[source]] table; add one per provider")
    sources: list[Source] = []
    for number, table in enumerate(tables, 1):
        where = f"{path} source #{number}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: use [[source]] tables")
        for required in ("name", "url"):
            if not isinstance(table.get(required), str):
                raise ConfigError(f"{where}: {required} is required (a string)")
        name = check_name(table["name"], where)
        where = f"{path} source {name!r}"
        if "key" in table:
            raise ConfigError(
                f"{where}: keys do not belong in the sources file; "
                "put the key in an environment variable and name it with key_env"
            )
        key_env = table.get("key_env")
        if key_env is not None and not isinstance(key_env, str):
            raise ConfigError(f"{where}: key_env must be the name of an environment variable")
        overlap = table.get("overlap")
        sources.append(
            Source(
                name=name,
                url=check_url(table["url"], where),
                key_env=key_env,
                profile=check_profile(str(table.get("profile", "auto")), where),
                concurrency=check_concurrency(table.get("concurrency", 4), where),
                since=check_since(table.get("since"), where),
                overlap=None
                if overlap is None
                else parse_overlap(str(overlap), f"{where}: overlap"),
                extra={k: v for k, v in table.items() if k not in _KNOWN},
            )
        )
    names = [s.name for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"--sources {path}: source names must differ; repeated: {twice}")
    return sources
