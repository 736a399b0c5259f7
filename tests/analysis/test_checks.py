"""The shared pass/fail summary of reports."""

from dataclasses import dataclass

from qclone.analysis.checks import CheckSummary
from qclone.analysis.verify import Check


@dataclass(frozen=True)
class _Report(CheckSummary):
    checks: tuple


def test_passed_and_failures():
    good, bad = Check(1, "a", True), Check(2, "b", False)
    assert _Report((good,)).passed and not _Report((good, bad)).passed
    assert _Report((good, bad)).failures == (bad,)
    assert _Report(()).passed
