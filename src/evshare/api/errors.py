"""The one table from evshare errors to HTTP responses.

Messages for the statuses API Gateway also produces are the ones its clients already read;
`invalid_parameter` messages say which parameter is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from evshare.errors import (
    EvshareError,
    InvalidParameter,
    LimitExceeded,
    NotFound,
    QuotaExceeded,
    Throttled,
    Unauthorized,
    Unavailable,
)


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()


def _body(message: str, code: str) -> bytes:
    return orjson.dumps({"message": message, "code": code})


_FIXED: dict[type[EvshareError], tuple[int, str]] = {
    Unauthorized: (401, "Unauthorized"),
    NotFound: (404, "Not Found"),
    Throttled: (429, "Too Many Requests"),
    QuotaExceeded: (429, "Limit Exceeded"),
    Unavailable: (503, "Service Unavailable"),
}
_CHALLENGE = ((b"www-authenticate", b'Bearer realm="energsync"'),)

NOT_FOUND = ErrorResponse(404, _body("Not Found", "not_found"))
METHOD_NOT_ALLOWED = ErrorResponse(
    405, _body("Method Not Allowed", "method_not_allowed"), ((b"allow", b"GET, HEAD"),)
)
INTERNAL = ErrorResponse(500, _body("Internal server error", "internal"))


def to_response(exc: EvshareError) -> ErrorResponse:
    if isinstance(exc, InvalidParameter):
        return ErrorResponse(400, _body(str(exc), exc.code))
    status, message = _FIXED.get(type(exc), (500, "Internal server error"))
    if status == 500:
        return INTERNAL
    headers: tuple[tuple[bytes, bytes], ...] = ()
    if isinstance(exc, Unauthorized):
        headers = _CHALLENGE
    elif isinstance(exc, LimitExceeded):
        headers = (
            (b"retry-after", str(exc.retry_after).encode()),
            *((k.lower().encode(), v.encode()) for k, v in exc.headers.items()),
        )
    elif isinstance(exc, Unavailable):
        headers = ((b"retry-after", str(exc.retry_after).encode()),)
    return ErrorResponse(status, _body(message, exc.code), headers)
