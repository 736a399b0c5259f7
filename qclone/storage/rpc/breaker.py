"""A circuit breaker per node: after repeated failures, fail at once for a cool-off, then probe.

States: ``closed`` (calls go through; ``threshold`` consecutive failures open it, and so
does one call that timed out),
``open`` (every call fails at once with :class:`~qclone.storage.errors.UnavailableError`
carrying ``retry_after``, until ``cooloff`` seconds have passed), ``half-open`` (one
call goes through as a probe, the others still fail at once; its success closes the
breaker, its failure opens it again).

Examples:
    >>> b = CircuitBreaker("vault", threshold=2, cooloff=60.0)
    >>> b.failure(); b.failure(); b.state
    'open'
    >>> try:
    ...     b.before()
    ... except Exception as e:
    ...     print(type(e).__name__, round(e.retry_after))
    UnavailableError 60
"""

from __future__ import annotations

import threading
import time

from qclone.storage.errors import UnavailableError

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    def __init__(self, name: str, *, threshold: int = 3, cooloff: float = 5.0) -> None:
        self.name = name
        self.threshold = int(threshold)
        self.cooloff = float(cooloff)
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if time.monotonic() - self._opened_at >= self.cooloff else "open"

    def before(self) -> None:
        """Call before a request: raises at once while the breaker is open (or another call probes)."""
        with self._lock:
            if self._opened_at is None:
                return
            wait = self.cooloff - (time.monotonic() - self._opened_at)
            if wait <= 0 and not self._probing:
                self._probing = True  # this call is the probe
                return
            raise UnavailableError(f"{self.name} is not answering (circuit open after {self._failures} failures); "
                                   "retry later", retry_after=max(1.0, wait))

    def success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._probing = 0, None, False

    def failure(self, *, trip: bool = False) -> None:
        """Count a failure; ``trip``: open at once (a call that timed out: the node is stalled, and
        every further call would wait as long)."""
        with self._lock:
            self._failures += 1
            if trip or self._probing or self._failures >= self.threshold:
                self._opened_at = time.monotonic()
            self._probing = False
