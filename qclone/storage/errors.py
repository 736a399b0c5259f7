"""Errors of the storage service and their HTTP status codes.

The storage errors derive from :class:`qclone.errors.QcloneError` (so the CLI
prints them as one line with exit status 2) and carry the HTTP status the
gateway answers with in the class attribute ``http_status``. The argument
errors of :mod:`qclone.errors` map to 422 through :func:`http_status`.
"""

from __future__ import annotations

import math

from qclone.errors import (
    BackendUnavailableError,
    InvalidArgumentError,
    QcloneError,
    TooLargeError,
    UnsupportedError,
)

__all__ = [
    "BodyTooLargeError",
    "ConflictError",
    "NotFoundError",
    "RefusedError",
    "StorageError",
    "UnauthorizedError",
    "UnavailableError",
    "error_body",
    "error_headers",
    "http_status",
]


class StorageError(QcloneError):
    """Base class of the storage service's own errors."""

    http_status: int = 400


class NotFoundError(StorageError):
    """Unknown object or provider (also an object that belongs to another tenant)."""

    http_status = 404


class ConflictError(StorageError):
    """The request conflicts with the object's state (name exists, already retrieved, ...)."""

    http_status = 409


class UnauthorizedError(StorageError):
    """Missing or bad token."""

    http_status = 401


class UnavailableError(StorageError):
    """A needed component is down (no healthy provider with a live clone, vault, substrate).

    ``retry_after`` (seconds, optional) becomes the gateway's ``Retry-After`` header.
    """

    http_status = 503

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RefusedError(StorageError):
    """A refusal (4xx) whose error type this client does not know, e.g. a newer server's; it
    carries the status it came with in ``http_status`` and the server's type name in ``kind``."""

    def __init__(self, message: str = "", *, http_status: int = 400, kind: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.kind = kind


class BodyTooLargeError(StorageError):
    """The request body is larger than the gateway accepts (``qclone serve --max-body-bytes``)."""

    http_status = 413


_ARGUMENT_ERRORS = (InvalidArgumentError, TooLargeError, UnsupportedError)


def http_status(exc: BaseException) -> int:
    """HTTP status for an exception: the storage error's own, 422 for argument errors, 503 for
    an unavailable backend, 400 for any other :class:`QcloneError`, 500 for anything else."""
    status = getattr(exc, "http_status", None)
    if isinstance(exc, StorageError) and isinstance(status, int):
        return status
    if isinstance(exc, _ARGUMENT_ERRORS):
        return 422
    if isinstance(exc, BackendUnavailableError):
        return 503
    if isinstance(exc, QcloneError):
        return 400
    return 500


def error_headers(exc: BaseException) -> dict[str, str]:
    """Extra response headers for an error: ``Retry-After`` (whole seconds) for a 503."""
    if http_status(exc) != 503:
        return {}
    retry_after = getattr(exc, "retry_after", None)
    return {"retry-after": str(max(1, math.ceil(retry_after if retry_after is not None else 1)))}


#: What a 5xx body says: never the exception's type or message (they may describe the
#: server's internals); the request id points to the server's log line with the details.
GENERIC_MESSAGES = {
    500: "internal error",
    503: "a component this request needs is unavailable; retry later",
}


def error_body(exc: BaseException, request_id: str | None = None) -> dict:
    """The JSON error body ``{"error": {"type", "message", "request_id"}}`` for an exception.

    A client error (4xx) names its type and message (the message describes the client's own
    request); a server error (5xx) says only :data:`GENERIC_MESSAGES` and is typed
    ``UnavailableError`` (503, so a client knows to retry) or ``InternalError``.

    Examples:
        >>> error_body(OverflowError("int too large to convert"), "r1")
        {'error': {'type': 'InternalError', 'message': 'internal error', 'request_id': 'r1'}}
    """
    status = http_status(exc)
    if status >= 500:
        kind = "UnavailableError" if status == 503 else "InternalError"
        err = {"type": kind, "message": GENERIC_MESSAGES.get(status, "internal error")}
    else:
        err = {"type": type(exc).__name__, "message": str(exc)}
    if request_id is not None:
        err["request_id"] = request_id
    return {"error": err}
