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
    "ConflictError",
    "NotFoundError",
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

    ``retry_after`` (seconds, optional) becomes the gateway's ``Retry-After`` header;
    ``unsent``: the call that failed certainly never reached the component (its circuit
    breaker was open, or the connection was refused), so it changed nothing there.
    """

    http_status = 503

    def __init__(self, message: str = "", *, retry_after: float | None = None, unsent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unsent = unsent


_ARGUMENT_ERRORS = (InvalidArgumentError, TooLargeError, UnsupportedError)


def http_status(exc: BaseException) -> int:
    """HTTP status for an exception: the storage error's own, 422 for argument errors, 503 for
    an unavailable backend, 400 for any other :class:`QcloneError`, 500 for anything else."""
    status = getattr(type(exc), "http_status", None)
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


def error_body(exc: BaseException) -> dict:
    """The JSON error body ``{"error": {"type": ..., "message": ...}}`` for an exception."""
    return {"error": {"type": type(exc).__name__, "message": str(exc)}}
