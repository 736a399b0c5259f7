"""What every verification report shares: its checks pass or fail together."""

from __future__ import annotations

from typing import Any


class CheckSummary:
    """Mixin for frozen report dataclasses with a ``checks`` tuple of items that have ``passed``."""

    checks: tuple[Any, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[Any, ...]:
        return tuple(c for c in self.checks if not c.passed)
