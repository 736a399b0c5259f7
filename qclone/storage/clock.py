"""Clocks: the system clock, or a settable clock for tests and demos.

Memory noise is driven by elapsed *clock* time, never by sleeping, so a test
moves a :class:`SettableClock` forward an hour and the stored clones age an hour.
A settable clock with a path keeps its time in that file (written atomically),
so it survives process restarts and every process that opens the same file
sees the same time.

Examples:
    >>> clock = SettableClock(None, start=100.0)
    >>> clock.advance(3600)
    3700.0
    >>> clock.now()
    3700.0
"""

from __future__ import annotations

import fcntl
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

from qclone.errors import InvalidArgumentError, is_real
from qclone.storage.files import atomic_write_bytes

__all__ = ["Clock", "SettableClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now() -> float`` (seconds since the epoch, or since a test's start)."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time, :func:`time.time`."""

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


def _check_time(value: object, what: str) -> float:
    if not is_real(value) or not math.isfinite(value):
        raise InvalidArgumentError(f"{what} must be a finite number, got {value!r}")
    return float(value)


class SettableClock:
    """A clock that only moves when told to; it never goes backwards.

    Args:
        path: file holding the time (created if missing); ``None`` keeps it in memory.
        start: the time of a new clock (default: the current system time, so timestamps read
            naturally); ignored when the file already exists.
    """

    def __init__(self, path: str | Path | None, *, start: float | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._lock = threading.Lock()
        self._time = _check_time(time.time() if start is None else start, "start")
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked():
                if not self.path.exists():
                    self._write(self._time)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self.path is None:
                yield
                return
            # an advisory lock shared by every process that uses this clock file
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _read(self) -> float:
        if self.path is None:
            return self._time
        try:
            text = self.path.read_text().strip()
        except OSError as e:
            raise InvalidArgumentError(f"cannot read the clock file {str(self.path)!r}: {e}") from None
        try:
            return _check_time(float(text), "the stored clock time")
        except ValueError:
            raise InvalidArgumentError(f"the clock file {str(self.path)!r} does not hold a time: {text[:40]!r}") from None

    def _write(self, t: float) -> None:
        self._time = t
        if self.path is not None:
            atomic_write_bytes(self.path, repr(t).encode())

    def now(self) -> float:
        """The current time."""
        if self.path is None:
            with self._lock:
                return self._time
        return self._read()

    def set(self, t: float) -> float:
        """Move the clock to ``t`` (not earlier than now); returns the new time."""
        t = _check_time(t, "time")
        with self._locked():
            current = self._read()
            if t < current:
                raise InvalidArgumentError(f"a clock never goes backwards: it is {current!r}, asked for {t!r}")
            self._write(t)
            return t

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (>= 0); returns the new time."""
        s = _check_time(seconds, "seconds")
        if s < 0:
            raise InvalidArgumentError(f"a clock only advances: seconds must be >= 0, got {seconds!r}")
        with self._locked():
            t = self._read() + s
            self._write(t)
            return t

    def __repr__(self) -> str:
        where = "" if self.path is None else f"{os.fspath(self.path)!r}, "
        return f"SettableClock({where}now={self.now()!r})"
