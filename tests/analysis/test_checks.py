"""The one check type and report base: verdicts, failures, JSON, the tolerance of value checks."""

from dataclasses import dataclass

import pytest

from qclone.analysis.checks import TOL, Check, CheckList, Report


@dataclass(frozen=True)
class _Report(Report):
    clones: int


def test_passed_and_failures():
    good, bad = Check(1, "a", True), Check("recovery", "b", False)
    assert _Report(checks=(good,), clones=2).passed and not _Report(checks=(good, bad), clones=2).passed
    assert _Report(checks=(good, bad), clones=2).failures == (bad,)
    assert _Report(checks=(), clones=2).passed
    d = _Report(checks=(bad,), clones=2, warnings=("w",)).checks_dict()
    assert d == {"passed": False, "warnings": ["w"], "checks": [{"group": "recovery", "name": "b", "passed": False,
                                                                 "value": None, "expected": None, "detail": ""}]}


@pytest.mark.parametrize(("value", "ok"), [(1.0, True), (1.0 + TOL / 2, True), (1.0 - 2 * TOL, False), (float("nan"), False)])
def test_value_checks_compare_within_the_tolerance(value, ok):
    checks = CheckList()
    checks.value(4, "fidelity", value, 1.0)
    assert checks.items[0].passed is ok and checks.items[0].expected == 1.0
