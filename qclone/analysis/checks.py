"""The one check type and the one report base of every verification (exact, at scale, compositions, qudits).

A :class:`Check` is one computed verdict: the group it belongs to (a
property number of docs/protocol.md, or a kind such as ``"recovery"``), what was
checked, the measured and expected values and whether they agree. A report
is a frozen dataclass deriving from :class:`Report`: it passes when all of
its checks pass. :class:`CheckList` collects checks while they are computed.

Examples:
    >>> checks = CheckList()
    >>> checks.value(4, "fidelity", 1.0 - 1e-12, 1.0)
    >>> checks.truth("schedule", "tableaux equal", False, "they differ")
    >>> [c.passed for c in checks.items]
    [True, False]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Numerical tolerance of a check that compares a computed value with the expected one.
TOL = 1e-8


@dataclass(frozen=True)
class Check:
    """One computed check: its group, what, the measured value, the expected one and the verdict."""

    group: int | str
    name: str
    passed: bool
    value: float | None = None
    expected: float | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    """Base of every verification report: a tuple of checks that pass or fail together, and warnings."""

    checks: tuple[Check, ...]
    warnings: tuple[str, ...] = field(default=(), kw_only=True)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def checks_dict(self) -> dict[str, Any]:
        """The fields every report's JSON shares."""
        return {"passed": self.passed, "warnings": list(self.warnings), "checks": [c.to_dict() for c in self.checks]}


class CheckList:
    """Checks collected while they are computed."""

    def __init__(self) -> None:
        self.items: list[Check] = []

    def value(self, group: int | str, name: str, value: float, expected: float, detail: str = "", *, tol: float = TOL) -> None:
        """A check that ``value`` is within ``tol`` of ``expected``."""
        self.items.append(Check(group, name, bool(abs(value - expected) <= tol), float(value), float(expected), detail))

    def truth(self, group: int | str, name: str, ok: bool, detail: str = "") -> None:
        """A check that is a plain yes or no."""
        self.items.append(Check(group, name, bool(ok), None, None, detail))

    def add(self, check: Check) -> None:
        self.items.append(check)
