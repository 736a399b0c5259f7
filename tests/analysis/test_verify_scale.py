"""Exact verification at scale: passes on the real circuits, fails on broken ones, samples as documented."""

import numpy as np
import pytest

import qclone.analysis.verify_scale as vs
from qclone.analysis.verify import verify_protocol
from qclone.errors import InvalidArgumentError
from qclone.protocol import encryption
from qclone.protocol.build import clone_decryption
from qclone.protocol.circuit import Circuit, Instruction


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8])
def test_small_n_passes_and_agrees_with_the_exact_engine(n):
    report = vs.verify_at_scale(n, method="gates")
    assert report.passed and report.engine == "heisenberg" and report.checked_clones is None
    if n <= 5:
        assert verify_protocol(n).passed
    # the same properties are covered, plus property 8 only for even n
    assert {c.group for c in report.checks} == ({2, 3, 4, 5, 6, 8} if n % 2 == 0 else {2, 3, 4, 5, 6})
    # the structured method computes the very same checks, plus the cross-check of the gates (property 1)
    fast = vs.verify_at_scale(n)
    assert fast.passed and fast.engine == "structured" and fast.checks[0].group == 1
    assert fast.checks[1:] == report.checks
    if n == 1:
        assert any("n = 1 exception" in c.name and c.passed for c in report.checks)
        assert report.warnings


@pytest.mark.parametrize("method", ["structured", "gates"])
@pytest.mark.parametrize("depth", ["linear", "log"])
def test_every_clone_up_to_the_limit_and_a_sample_beyond(depth, method):
    report = vs.verify_at_scale(1000, depth=depth, method=method)
    assert report.passed and report.checked_clones is None
    assert any(c.detail == "1000/1000 clones" for c in report.checks)
    big = vs.verify_at_scale(vs.CHECK_ALL_UP_TO + 1, sample=7, seed=4, depth=depth, method=method)
    assert big.passed and len(big.checked_clones) == 7
    assert big.checked_clones == vs.clones_to_check(vs.CHECK_ALL_UP_TO + 1, sample=7, seed=4)
    assert list(big.checked_clones) == sorted(set(big.checked_clones))
    assert all(1 <= j <= vs.CHECK_ALL_UP_TO + 1 for j in big.checked_clones)


def test_sample_rules():
    assert vs.clones_to_check(50, sample=3) is None
    assert vs.clones_to_check(20_000, sample=20_000) is None
    assert len(vs.clones_to_check(20_000)) == vs.DEFAULT_SAMPLE
    assert vs.clones_to_check(20_000, seed=1) != vs.clones_to_check(20_000, seed=2)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(InvalidArgumentError):
            vs.clones_to_check(20_000, sample=bad)


def _replace_gate(circ: Circuit, old: str, new: str) -> Circuit:
    return Circuit(circ.registers, tuple(Instruction(new, i.targets) if i.name == old else i for i in circ.instructions))


#: what each method reports failed for a broken circuit: the gate-by-gate checks fail on the physics;
#: the structured method computes the physics from the stages, so its cross-check of the gates fails
FAILS = {"gates": {4}, "structured": {1}}


@pytest.mark.parametrize("method", ["structured", "gates"])
def test_a_broken_decryption_is_caught(monkeypatch, method):
    def broken(layout, j, circuit=None):
        c = clone_decryption(layout, j, circuit=circuit)
        return _replace_gate(c, "S", "S_DAG")

    monkeypatch.setattr(vs, "clone_decryption", broken)
    report = vs.verify_at_scale(5, method=method)
    assert not report.passed
    assert FAILS[method] <= {c.group for c in report.failures}


@pytest.mark.parametrize("method", ["structured", "gates"])
def test_a_broken_encryption_is_caught(monkeypatch, method):
    def no_z_phase(layout, *, depth="linear", circuit=None):
        c = encryption(layout, depth=depth, circuit=circuit)
        return Circuit(c.registers, tuple(i for i in c.instructions if i.name != "S"))

    monkeypatch.setattr(vs, "encryption", no_z_phase)
    report = vs.verify_at_scale(4, method=method)
    assert not report.passed
    assert ({5, 4} if method == "gates" else {1}) <= {c.group for c in report.failures}


def test_a_decryption_that_leaves_a_clone_correlated_is_caught(monkeypatch):
    """Decrypting with only half the key leaves the clone wrong: the Bell-pair check must fail."""
    def half_key(layout, j, circuit=None):
        c = clone_decryption(layout, j, circuit=circuit)
        keep = set(range(layout.clones + 1, layout.clones + 1 + layout.clones // 2)) | {layout.S(j), layout.N(j)}
        out = []
        for ins in c.instructions:
            pairs = ins.targets.reshape(-1, ins.arity)
            mask = np.all(np.isin(pairs, list(keep)), axis=1)
            if mask.any():
                out.append(Instruction(ins.name, pairs[mask].ravel()))
        return Circuit(c.registers, tuple(out))

    monkeypatch.setattr(vs, "clone_decryption", half_key)
    assert not vs.verify_at_scale(6, method="gates").passed
    assert not vs.verify_at_scale(6).passed


@pytest.mark.parametrize("method", ["structured", "gates"])
@pytest.mark.parametrize("depth", ["linear", "log"])
def test_a_missing_cx_is_caught(monkeypatch, method, depth):
    """One CX dropped from the middle of the encryption's first ladder (or tree level)."""
    def missing_cx(layout, *, depth="linear", circuit=None):
        c = encryption(layout, depth=depth, circuit=circuit)
        out, done = [], False
        for ins in c.instructions:
            if not done and ins.name == "CX" and ins.size > 2 and ins.bounds[0] == 0:
                pairs = ins.targets.reshape(-1, 2)
                ins = Instruction("CX", np.delete(pairs, ins.size // 2, axis=0).ravel())
                done = True
            out.append(ins)
        assert done
        return Circuit(c.registers, tuple(out))

    monkeypatch.setattr(vs, "encryption", missing_cx)
    report = vs.verify_at_scale(7, depth=depth, method=method)
    assert not report.passed
    if method == "structured":
        assert 1 in {c.group for c in report.failures}


def test_the_structured_method_cross_checks_at_a_smaller_n_beyond_its_limit(monkeypatch):
    monkeypatch.setattr(vs, "CROSS_CHECK_UP_TO", 40)
    report = vs.verify_at_scale(1001, depth="log")
    assert report.passed and "at n = 39 (n = 1001: stages only)" in report.checks[0].name + report.checks[0].detail
    # a fault the builders make at every n is caught at the smaller n too
    monkeypatch.setattr(vs, "clone_decryption", lambda layout, j, circuit=None: _replace_gate(
        clone_decryption(layout, j, circuit=circuit), "H", "SQRT_X"))
    assert not vs.verify_at_scale(1000).checks[0].passed


def test_every_clone_of_a_large_n_structured():
    report = vs.verify_at_scale(200_000, sample=200_000)
    assert report.passed and report.checked_clones is None
    assert any(c.detail == "200000/200000 clones" for c in report.checks)


def test_unknown_method():
    with pytest.raises(InvalidArgumentError):
        vs.verify_at_scale(3, method="magic")
