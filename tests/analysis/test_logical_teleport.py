"""Logical S and T by gate teleportation, checked with the dense engine and stim."""

import numpy as np
import pytest

import qclone.analysis.logical_teleport as tp
from qclone.sim.exact import random_state


@pytest.mark.parametrize("gate", ["S", "S_DAG", "T", pytest.param("T_DAG", marks=pytest.mark.slow)])
def test_dense_teleport_n1(gate):
    rng = np.random.default_rng(len(gate) + 10 * gate.count("D"))
    seen = set()
    for _ in range(5):
        run = tp.teleport_dense(1, gate, random_state(2, rng), rng)
        assert run.fidelity == pytest.approx(1.0, abs=1e-9)
        seen.add(len(run.rounds))
    # T needs a second round (its S correction) exactly when the first outcome has an X part
    assert seen == ({1, 2} if gate.startswith("T") else {1})


@pytest.mark.slow
@pytest.mark.parametrize("gate", ["S", "S_DAG"])
def test_dense_teleport_n2(gate):
    rng = np.random.default_rng(3)
    for _ in range(3):
        assert tp.teleport_dense(2, gate, random_state(2, rng), rng).fidelity == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 21, 50])
def test_stim_teleport_any_n(n):
    rng = np.random.default_rng(n)
    for gate in ("S", "S_DAG", "SQRT_X", "H"):
        for _ in range(4):
            ok, _ = tp.teleport_stim(n, gate, rng)
            assert ok, (n, gate)


def test_check_fails_without_the_correction(monkeypatch):
    monkeypatch.setattr(tp, "correction", lambda gate, pauli: ())
    rng = np.random.default_rng(1)
    results = [tp.teleport_stim(3, "S", rng) for _ in range(20)]
    assert any(not ok for ok, _ in results)
    assert all(ok for ok, out in results if out == (0, 0))


@pytest.mark.parametrize("n", [1, 2])
def test_outcomes_reveal_nothing(n):
    rng = np.random.default_rng(n)
    dists = [tp.outcome_distribution(n, random_state(1, rng)) for _ in range(4)]
    for d in dists[1:]:
        assert np.allclose(d, dists[0], atol=1e-12)
    assert dists[0].sum() == pytest.approx(1.0)


def test_corrections():
    assert tp.correction("S", "X") == ("Y",)
    assert tp.correction("S", "I") == ()
    assert tp.correction("T", "Z") == ("Z",)
    assert tp.correction("T", "X")[0] in ("S", "S_DAG")
    for n in range(1, 7):
        letters = tp.bell_letters(n)
        assert set(letters) == {"X", "Z"}
