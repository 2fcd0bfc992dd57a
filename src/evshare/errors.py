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


class ImportFailed(EvshareError):
    code = "import_failed"
