"""Qudit operators: unitarity for every accepted (d, n), recovery, the qubit case, limits."""

from dataclasses import replace

import numpy as np
import pytest

from qclone.analysis.qudit_verify import qubit_correspondence
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol.qudit import (
    MAX_QUDIT_DIMENSION,
    accepted_pairs,
    apply_weyl_sum,
    check_qudit_clones,
    decryption_operator,
    encryption_operator,
    encryption_unitarity_defect,
    max_entangled,
    max_qudit_clones,
    weyl_unitarity_defect,
)
from qclone.sim.exact import fidelity, is_unitary
from qclone.sim.qudit import QuditState

PAIRS = accepted_pairs()


def test_the_accepted_set_is_what_the_docs_say():
    assert (2, 8) in PAIRS and (3, 4) in PAIRS and (5, 3) in PAIRS and (8, 2) in PAIRS
    assert all(d ** (2 * n + 2) <= 2**19 for d, n in PAIRS)
    assert all(d ** (2 * (n + 1) + 2) > 2**19 for d, n in PAIRS if n == max_qudit_clones(d))
    assert {d for d, _ in PAIRS} == set(range(2, MAX_QUDIT_DIMENSION + 1))


@pytest.mark.parametrize("d,n", PAIRS)
def test_unitary_and_recovering_for_every_accepted_pair(d, n):
    """Must-show 4: unitarity (Weyl algebra; dense where small) and recovery of an entangled input (first and last clone)."""
    assert encryption_unitarity_defect(d, n) < 1e-12
    enc, dec = encryption_operator(d, n), decryption_operator(d, n)
    if enc.dimension <= 512:
        assert is_unitary(enc.matrix()) and is_unitary(dec.matrix())
    rng = np.random.default_rng(d * 100 + n)
    psi = rng.normal(size=d * d) + 1j * rng.normal(size=d * d)
    psi /= np.linalg.norm(psi)
    A, R = 0, 2 * n + 1
    S, N = list(range(1, n + 1)), list(range(n + 1, 2 * n + 1))
    st = QuditState.from_input(d, psi, 2 * n + 2, input_qudits=[A, R])
    for s, t in zip(S, N):
        st.prepare_pair(s, t)
    st.apply(enc, [A] + S)
    for j in sorted({1, n}):
        out = st.copy()
        out.apply(dec, [(S[j - 1], N[j - 1])] + [N[k] for k in range(n) if k != j - 1])
        assert fidelity(out.reduced_density_matrix([S[j - 1], R]), psi) == pytest.approx(1, abs=1e-9)


@pytest.mark.parametrize("n", range(1, max_qudit_clones(2) + 1))
def test_qubit_case_is_the_qubit_protocol_run_backwards(n):
    adjoint, local_clifford, dec_adjoint = qubit_correspondence(n)
    assert adjoint and local_clifford and dec_adjoint


def test_unitarity_in_the_weyl_algebra_matches_dense_matrices_and_detects_defects():
    for d, n in [(2, 3), (3, 2), (4, 2), (5, 1), (6, 1)]:
        u = encryption_operator(d, n).matrix()
        assert np.abs(u.conj().T @ u - np.eye(u.shape[0])).max() < 1e-10
        assert encryption_unitarity_defect(d, n) < 1e-12
    # beyond what the dense engine holds, the exact check still runs (O(d^4) whatever n): docs/modules.md
    assert all(encryption_unitarity_defect(d, n) < 1e-12 for d in range(2, 9) for n in range(1, 41))
    # other coefficient tables: the exact check and the dense matrix agree on which are unitary
    rng = np.random.default_rng(1)
    for d, n in [(2, 2), (3, 1), (3, 2)]:
        good = encryption_operator(d, n)
        for _ in range(4):
            table = {(a, b): np.exp(2j * np.pi * rng.random()) / d for a in range(d) for b in range(d)}
            op = replace(good, coeffs=tuple(table[(a, b)] for a in range(d) for b in range(d)))
            assert (weyl_unitarity_defect(d, n, table) < 1e-12) == is_unitary(op.matrix())
        assert weyl_unitarity_defect(d, n, {(a, b): 1 / d for a in range(d) for b in range(d)}) > 1e-3 or \
            is_unitary(replace(good, coeffs=(1 / d,) * d * d).matrix())


def test_fast_paths_equal_plain_tensor_contraction():
    rng = np.random.default_rng(0)
    for d, n in [(3, 2), (4, 1)]:
        t = rng.normal(size=(d,) * (2 * n + 2)) + 1j * rng.normal(size=(d,) * (2 * n + 2))
        for op, axes in ((encryption_operator(d, n), [[2 * n + 1]] + [[q] for q in range(1, n + 1)]),
                         (decryption_operator(d, n), [[1, n + 1]] + [[n + 1 + k] for k in range(1, n)])):
            dense = op.matrix()
            flat = [a for ax in axes for a in ax]
            rest = [q for q in range(t.ndim) if q not in flat]
            want = np.tensordot(dense.reshape((d,) * (2 * len(flat))), t, axes=(list(range(len(flat), 2 * len(flat))), flat))
            want = np.moveaxis(want, list(range(len(flat))), flat)
            assert np.allclose(apply_weyl_sum(t, op, axes), want), (d, n)
            assert np.allclose(apply_weyl_sum(t, replace(op, controlled=False), axes), want)
            del rest


def test_limits_are_clear_errors():
    with pytest.raises(TooLargeError, match="n <= 3"):
        check_qudit_clones(5, 4)
    for bad in (1, 9, 2.5, True):
        with pytest.raises(InvalidArgumentError):
            check_qudit_clones(bad, 1)
    with pytest.raises(InvalidArgumentError):
        check_qudit_clones(3, 0)
    assert np.isclose(np.linalg.norm(max_entangled(5)), 1)
