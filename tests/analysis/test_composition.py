"""Verification of compositions: passes on correct compositions, fails when decryption is wrong, scales."""

import itertools

import numpy as np
import pytest

import qclone.protocol.composition as composition
from qclone.analysis.composition import verify_composition
from qclone.analysis.leakage import CliffordEncoding, LeakageAnalyzer
from qclone.errors import TooLargeError
from qclone.protocol import parallel_composition, series_composition
from qclone.sim.core import CoreState
from qclone.sim.engine import CORE, DENSE, HEISENBERG
from qclone.sim.exact import StateVector


@pytest.mark.parametrize("comp,engine", [
    (series_composition(1, 2, 2), DENSE),
    (parallel_composition([1], 2), HEISENBERG),
    (series_composition(1, 2, 2, target="key"), DENSE),
    (series_composition(1, 3, 2), CORE),
    (series_composition(2, 2, 3), CORE),
    (series_composition(1, 2, 3, target="key"), CORE),
    (parallel_composition([1, 2], [3, 2]), CORE),
    (parallel_composition([3], 4), CORE),
])
def test_correct_compositions_pass_every_check(comp, engine):
    report = verify_composition(comp, engine=engine, seed=2)
    assert report.passed, report.failures
    kinds = {c.group for c in report.checks}
    assert kinds == {"schedule", "recovery", "marginal", "leakage"}
    recovery = next(c for c in report.checks if c.group == "recovery")
    assert recovery.detail.startswith("all")
    assert report.to_dict()["passed"] is True


def test_a_wrong_decryption_is_caught(monkeypatch):
    real = composition.decryption

    def wrong(layout, j, **kw):  # decrypts another clone than the plan says
        return real(layout, j % layout.clones + 1, **kw)

    monkeypatch.setattr(composition, "decryption", wrong)
    report = verify_composition(series_composition(1, 3, 2), seed=0)
    assert not report.passed
    assert any(c.group == "recovery" for c in report.failures)


def test_n1_modules_report_the_leaking_clone():
    report = verify_composition(parallel_composition([2], 1), engine=DENSE)
    assert report.passed and report.warnings
    assert any("n = 1 exception" in c.name for c in report.checks)


def test_large_compositions_sample_and_skip_what_is_too_large():
    report = verify_composition(parallel_composition([2], 3000), seed=1, max_paths=4, max_marginals=6)
    assert report.passed
    assert "sampled" in next(c for c in report.checks if c.group == "recovery").detail
    assert any("exceed" in s for s in report.skipped)


def test_engine_limits():
    with pytest.raises(TooLargeError, match="dense engine"):
        verify_composition(series_composition(1, 5, 2), engine=DENSE)
    with pytest.raises(TooLargeError, match="at most 6 data qubits"):
        verify_composition(parallel_composition([7], 2))
    with pytest.raises(TooLargeError, match="at most 6 qubits"):  # the Heisenberg engine answers small sets only
        verify_composition(parallel_composition([1], 8), engine=HEISENBERG)


def test_two_leakage_engines_and_dense_information_agree_on_every_subset_of_a_series():
    """the LeakageAnalyzer, CoreState.information and dense mutual information: every subset."""
    comp = series_composition(1, 2, 2)
    circ = comp.encryption_circuit()
    analyzer = LeakageAnalyzer(CliffordEncoding(circ, inputs=comp.data_qubits, labels=comp.labels))
    core = CoreState.from_input(comp.num_qubits, np.array([1, 0]), comp.data_qubits)
    core.apply(circ)
    m = comp.num_qubits
    dense = StateVector.from_input(np.array([1, 0, 0, 1]) / np.sqrt(2), m + 1, input_qubits=[0, m])
    dense.apply_circuit(circ.__class__((*circ.registers, ("R", 1)), circ.instructions))
    for size in range(1, m + 1):
        for subset in itertools.combinations(range(m), size):
            a = analyzer.classify(list(subset))
            b = core.information(subset)
            assert a.mutual_information_bits == b.bits == pytest.approx(dense.mutual_information([m], list(subset)), abs=1e-9)
            assert a.kind == b.kind
