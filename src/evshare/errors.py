"""One exception tree for evshare. No HTTP here: api/errors.py maps these to responses.

EvshareError
├── InvalidParameter      a request parameter is malformed or out of range
├── Unauthorized          no credential, or an unknown, revoked or expired one
├── NotFound              nothing visible to the caller under that name
├── LimitExceeded         a usage plan refused the call
│   ├── Throttled         the token bucket is empty
│   └── QuotaExceeded     the period's quota is spent
├── Unavailable           a backing service (database, Redis) cannot be reached
├── ConfigError           a setting is missing or malformed
├── SchemaOutOfDate       the database schema is behind the code
├── KeyManagementError    a key-management request cannot be honoured
│   ├── NoSuchKey         no key of that name
│   ├── KeyExists         a key of that name exists already
│   ├── NoSuchPlan        no plan of that name
│   ├── PlanExists        a plan of that name exists already
│   └── PlanInUse         keys are on the plan, so it cannot be deleted
└── ImportFailed          an import was rejected; nothing was written
"""

from __future__ import annotations


class EvshareError(Exception):
    """The root of every error evshare raises on purpose."""

    code = "internal"


class InvalidParameter(EvshareError):
    code = "invalid_parameter"

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class Unauthorized(EvshareError):
    code = "unauthorized"


class NotFound(EvshareError):
    code = "not_found"


class LimitExceeded(EvshareError):
    """A usage plan refused the call; `retry_after` is whole seconds until it could succeed."""

    code = "limited"

    def __init__(self, message: str, retry_after: int, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = headers or {}


class Throttled(LimitExceeded):
    code = "throttled"


class QuotaExceeded(LimitExceeded):
    code = "quota_exceeded"


class Unavailable(EvshareError):
    """A backing service is down or too slow; the caller should retry after `retry_after` s."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigError(EvshareError):
    code = "config"


class SchemaOutOfDate(EvshareError):
    code = "schema_out_of_date"


class KeyManagementError(EvshareError):
    """A key-management request cannot be honoured (unknown name, duplicate name, ...)."""

    code = "key"


class NoSuchKey(KeyManagementError):
    def __init__(self, name: str) -> None:
        super().__init__(f"there is no key named {name!r}; see `evshare keys list`")
        self.name = name


class KeyExists(KeyManagementError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a key named {name!r} already exists")
        self.name = name


class NoSuchPlan(KeyManagementError):
    def __init__(self, name: str) -> None:
        super().__init__(f"there is no plan named {name!r}; see `evshare plans list`")
        self.name = name


class PlanExists(KeyManagementError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a plan named {name!r} already exists")
        self.name = name


class PlanInUse(KeyManagementError):
    """Keys are on the plan: a key must never point at a plan that is gone."""

    def __init__(self, name: str, users: list[str]) -> None:
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        super().__init__(
            f"the plan {name!r} is used by {len(users)} key(s): {shown}; move them to another "
            "plan with `evshare keys set-plan KEY PLAN` first"
        )
        self.name = name
        self.users = users


class ImportFailed(EvshareError):
    code = "import_failed"
