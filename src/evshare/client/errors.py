"""What the EnergSync client raises. Every error names the request that caused it.

EvshareError
└── ProviderError          a provider's answer could not be used
    ├── AuthRejected       401 or 403: the key is missing, wrong, revoked or not allowed
    ├── ChargerNotFound    404 for a charger id
    ├── BadResponse        the answer is not what the contract says (JSON, shape, status)
    └── GaveUp             retries exhausted, or the time budget spent, on a transient failure
"""

from __future__ import annotations

from evshare.errors import EvshareError


class ProviderError(EvshareError):
    code = "provider"

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class AuthRejected(ProviderError):
    code = "provider_unauthorized"


class ChargerNotFound(ProviderError):
    code = "provider_not_found"


class BadResponse(ProviderError):
    code = "provider_bad_response"


class GaveUp(ProviderError):
    """Transient failures went on past the attempt limit or the time budget."""

    code = "provider_gave_up"

    def __init__(
        self, message: str, *, url: str = "", status: int | None = None, attempts: int = 0
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.attempts = attempts
