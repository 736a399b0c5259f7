"""Exceptions raised by qclone.

Every error a user can cause derives from :class:`QcloneError`; the CLI turns
it into one line on stderr with exit status 2 and the HTTP API into a 4xx
response. Anything else escaping is a bug.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, TypeGuard


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


# --- the argument validators (the only place that tells integers from booleans) ------------


def is_int(value: object) -> TypeGuard[Any]:
    """Whether ``value`` is an integer (``int`` or a numpy integer); ``True``/``False`` are not.

    Examples:
        >>> is_int(3), is_int(True), is_int(3.0)
        (True, False, False)
    """
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value: object) -> TypeGuard[Any]:
    """Whether ``value`` is a real number (int, float or a numpy one; booleans are not).

    Examples:
        >>> is_real(0.5), is_real(2), is_real(False), is_real("1")
        (True, True, False, False)
    """
    return isinstance(value, Real) and not isinstance(value, bool)


def check_int(value: object, what: str, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``low..high``; :class:`InvalidArgumentError` below or for a non-integer,
    :class:`TooLargeError` above (``high=None``: no upper limit).

    Examples:
        >>> check_int(5, "clones", 1, 10)
        5
        >>> check_int(True, "clones", 1)
        Traceback (most recent call last):
        ...
        qclone.errors.InvalidArgumentError: clones must be an integer, got True
    """
    if not is_int(value):
        raise InvalidArgumentError(f"{what} must be an integer, got {value!r}")
    number = int(value)
    if number < low:
        raise InvalidArgumentError(f"{what} must be at least {low}, got {number}")
    if high is not None and number > high:
        raise TooLargeError(f"{what} must be at most {high}, got {number}")
    return number


def check_real(value: object, what: str, low: float, high: float) -> float:
    """``value`` as a finite float in ``[low, high]``, else :class:`InvalidArgumentError`.

    Examples:
        >>> check_real(0.25, "p", 0, 1)
        0.25
    """
    if not is_real(value) or not math.isfinite(value) or not low <= value <= high:
        raise InvalidArgumentError(f"{what} must be a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)
