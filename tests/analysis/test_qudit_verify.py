"""The qudit property report."""

import pytest

from qclone.analysis.qudit_verify import QUDIT_PROPERTY_TITLES, verify_qudit
from qclone.errors import TooLargeError


@pytest.mark.parametrize("d,n", [(2, 3), (3, 2), (3, 3), (4, 2), (5, 2)])
def test_every_property_passes(d, n):
    r = verify_qudit(d, n, seed=4)
    assert r.passed, r.failures
    assert {c.group for c in r.checks} == set(QUDIT_PROPERTY_TITLES)
    if d == 2:
        assert sum("d = 2" in c.name for c in r.checks) == 4
    d_rule = [c for c in r.checks if "gcd" in c.name]
    assert d_rule and d_rule[0].detail == f"{2 ** n}/{2 ** n} sets agree"


def test_single_clone_exception_and_limits():
    r = verify_qudit(3, 1)
    assert r.passed and r.warnings
    assert any("n = 1 exception" in c.name for c in r.checks)
    assert r.to_dict()["dimension"] == 3
    with pytest.raises(TooLargeError):
        verify_qudit(8, 3)
