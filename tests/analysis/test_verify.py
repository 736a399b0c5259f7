import numpy as np
import pytest

from qclone.analysis.verify import (
    MAX_VERIFY_CLONES,
    PROPERTY_TITLES,
    coherent_information_formula,
    verify_protocol,
)
from qclone.errors import TooLargeError
from qclone.sim.engine import CORE


@pytest.mark.parametrize("n", range(1, 8))
def test_all_properties_hold(n):
    report = verify_protocol(n, seed=n)
    assert report.passed, [c for c in report.failures]
    assert {c.group for c in report.checks} == set(PROPERTY_TITLES)


@pytest.mark.slow
def test_all_properties_hold_at_n8():
    assert verify_protocol(8, seed=11).passed


def test_single_clone_exception_is_reported():
    report = verify_protocol(1, seed=3)
    assert report.warnings and "Y component" in report.warnings[0]
    names = [c.name for c in report.checks]
    assert any("n = 1 exception" in name for name in names)
    assert not verify_protocol(2, seed=3).warnings


def test_coherent_information_formula_limits():
    assert coherent_information_formula(np.pi / 4) == pytest.approx(1)
    assert coherent_information_formula(0) == pytest.approx(-1)


def test_a_broken_circuit_is_caught(monkeypatch):
    """The checks can fail: swap the decryption for a wrong one and they do."""
    import qclone.analysis.verify as v
    from qclone.protocol.build import clone_decryption

    def wrong(layout, j, circuit=None):
        return clone_decryption(layout, j, circuit=circuit).append("S", [layout.S(j)])

    monkeypatch.setattr(v, "clone_decryption", wrong)
    report = verify_protocol(3, seed=0)
    assert not report.passed
    assert {c.group for c in report.failures} >= {1, 4}


@pytest.mark.parametrize("n", [1, 2, 5])
def test_the_core_engine_gives_the_same_verdicts_and_values(n):
    dense, core = verify_protocol(n, seed=4), verify_protocol(n, seed=4, engine=CORE)
    assert core.passed and core.engine == "core" and dense.engine == "dense"
    assert [c.name for c in core.checks] == [c.name for c in dense.checks]
    for a, b in zip(dense.checks, core.checks):
        assert a.passed == b.passed and (a.value is None or a.value == pytest.approx(b.value, abs=1e-9)), a.name


def test_a_broken_circuit_is_caught_on_the_core_engine_too(monkeypatch):
    import qclone.analysis.verify as v
    from qclone.protocol.build import clone_decryption

    monkeypatch.setattr(v, "clone_decryption", lambda lay, j, circuit=None: clone_decryption(lay, j, circuit=circuit).append("S", [lay.S(j)]))
    report = verify_protocol(3, seed=0, engine=CORE)
    assert 4 in {c.group for c in report.failures}


def test_too_large():
    with pytest.raises(TooLargeError):
        verify_protocol(MAX_VERIFY_CLONES + 1)
