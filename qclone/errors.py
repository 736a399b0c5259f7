"""Exceptions raised by qclone.

Every error a user can cause derives from :class:`QcloneError`; the CLI turns
it into one line on stderr with exit status 2 and the HTTP API into a 4xx
response. Anything else escaping is a bug.
"""

from __future__ import annotations


class QcloneError(Exception):
    """Base class of every error a caller can cause and act on."""


class InvalidArgumentError(QcloneError, ValueError):
    """An argument is out of range or malformed (e.g. ``clones < 1``)."""


class TooLargeError(QcloneError):
    """The request is valid but too large for the chosen engine."""


class UnsupportedError(QcloneError):
    """The operation does not exist for these parameters (e.g. decrypting A for odd n)."""


class BackendUnavailableError(QcloneError):
    """A requested quantum backend cannot be used (e.g. no IBM Quantum account is saved)."""


def check_int(value: object, what: str, low: int, high: int) -> int:
    """``value`` as an int in ``low..high``; :class:`InvalidArgumentError` below or for a non-integer,
    :class:`TooLargeError` above."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidArgumentError(f"{what} must be an integer, got {value!r}")
    value = int(value)  # type: ignore[call-overload]
    if value < low:
        raise InvalidArgumentError(f"{what} must be at least {low}, got {value}")
    if value > high:
        raise TooLargeError(f"{what} must be at most {high}, got {value}")
    return value
