"""The exact engine against Qiskit's quantum_info (an independent implementation)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from qiskit.quantum_info import DensityMatrix as QDensityMatrix
from qiskit.quantum_info import Operator, random_unitary, state_fidelity
from qiskit.quantum_info import Statevector as QStatevector
from qiskit.quantum_info import entropy as q_entropy
from qiskit.quantum_info import partial_trace as q_partial_trace

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Layout, protocol_circuit
from qclone.sim import get_engine
from qclone.sim.exact import (
    DensityMatrix,
    StateVector,
    apply_matrix_to_tensor,
    bloch_vector,
    circuit_unitary,
    density_from_bloch,
    fidelity,
    partial_trace,
    purification,
    random_density_matrix,
    random_state,
    trace_distance,
    von_neumann_entropy,
)


def q_order(vec, m):
    return np.asarray(vec).reshape((2,) * m).transpose(list(range(m))[::-1]).ravel()


def q_order_matrix(rho, m):
    perm = q_order(np.arange(2**m), m)
    return rho[np.ix_(perm, perm)]


@given(seed=st.integers(0, 2**32 - 1), m=st.integers(2, 5), data=st.data())
def test_reduced_states_and_entropies_match_qiskit(seed, m, data):
    rng = np.random.default_rng(seed)
    psi = random_state(m, rng)
    keep = data.draw(st.lists(st.integers(0, m - 1), min_size=1, max_size=m - 1, unique=True))
    sv = StateVector(psi)
    ours = sv.reduced_density_matrix(sorted(keep))
    # after q_order, Qiskit's qubit i is our qubit i; Qiskit keeps the rest little-endian
    q = q_partial_trace(QStatevector(q_order(psi, m)), [i for i in range(m) if i not in keep]).data
    assert np.allclose(ours, q_order_matrix(q, len(keep)), atol=1e-12)
    assert sv.entropy(keep) == pytest.approx(q_entropy(QDensityMatrix(q), base=2), abs=1e-9)
    rho = np.outer(psi, psi.conj())
    assert np.allclose(partial_trace(rho, sorted(keep)), ours, atol=1e-12)


@given(seed=st.integers(0, 2**32 - 1))
def test_fidelity_matches_qiskit(seed):
    rng = np.random.default_rng(seed)
    a, b = random_density_matrix(2, rng), random_density_matrix(2, rng, rank=2)
    assert fidelity(a, b) == pytest.approx(state_fidelity(QDensityMatrix(a), QDensityMatrix(b)), abs=1e-7)
    # rank one: F = <v|a|v> exactly, which square roots of ~1e-17 eigenvalues would spoil
    w = random_state(2, rng)
    assert fidelity(a, np.outer(w, w.conj())) == pytest.approx(np.real(np.vdot(w, a @ w)), abs=1e-12)
    v = random_state(2, rng)
    assert fidelity(v, a) == pytest.approx(state_fidelity(QStatevector(v), QDensityMatrix(a)), abs=1e-9)


def test_apply_matches_qiskit_for_random_unitaries():
    rng = np.random.default_rng(5)
    m = 5
    psi = random_state(m, rng)
    for qubits in ([1], [3, 0], [4, 2, 1]):
        u = random_unitary(2 ** len(qubits), seed=int(rng.integers(1 << 30))).data
        sv = StateVector(psi.copy())
        sv.apply(u, qubits)
        # our first listed qubit is the operator's most significant; Qiskit's first qarg its least
        expected = QStatevector(q_order(psi, m)).evolve(Operator(u), qargs=list(reversed(qubits)))
        assert np.allclose(q_order(sv.vector, m), expected.data, atol=1e-12)


def test_slice_path_equals_tensordot_path():
    rng = np.random.default_rng(2)
    t = random_state(6, rng).reshape((2,) * 6)
    for axes in ([2], [4, 1]):
        u = random_unitary(2 ** len(axes), seed=3).data
        fast = apply_matrix_to_tensor(t, u, axes)
        k = len(axes)
        slow = np.moveaxis(np.tensordot(u.reshape((2,) * 2 * k), t, axes=(list(range(k, 2 * k)), axes)), list(range(k)), axes)
        assert np.allclose(fast, slow)


def test_density_matrix_engine_agrees_with_state_vector_engine():
    lay = Layout(2)
    rng = np.random.default_rng(0)
    psi = random_state(1, rng)
    circ = protocol_circuit(lay, decrypt=2)
    sv = StateVector.from_input(psi, lay.num_qubits)
    sv.apply_circuit(circ)
    dm = DensityMatrix.from_input(np.outer(psi, psi.conj()), lay.num_qubits)
    dm.apply_circuit(circ)
    assert np.allclose(dm.matrix, np.outer(sv.vector, sv.vector.conj()), atol=1e-12)
    assert dm.mutual_information([0], [3]) == pytest.approx(sv.mutual_information([0], [3]), abs=1e-9)


def test_pauli_channel_is_depolarizing():
    dm = DensityMatrix(np.array([[1, 0], [0, 0]], dtype=complex))
    p = 0.3
    dm.apply_pauli_channel({"X": p / 3, "Y": p / 3, "Z": p / 3}, [0])
    assert bloch_vector(dm.matrix) == pytest.approx((0, 0, 1 - 4 * p / 3))
    with pytest.raises(InvalidArgumentError):
        dm.apply_pauli_channel({"X": 0.7, "Z": 0.7}, [0])
    with pytest.raises(InvalidArgumentError):
        dm.apply_pauli_channel({"XX": 0.1}, [0])


def test_entropy_mutual_information_and_helpers():
    bell = np.array([1, 0, 0, 1]) / np.sqrt(2)
    sv = StateVector(bell)
    assert sv.mutual_information([0], [1]) == pytest.approx(2)
    assert von_neumann_entropy(np.eye(4) / 4) == pytest.approx(2)
    assert bloch_vector(density_from_bloch(0.1, -0.2, 0.3)) == pytest.approx((0.1, -0.2, 0.3))
    assert trace_distance(np.eye(2) / 2, np.array([1, 0])) == pytest.approx(0.5)
    rho = random_density_matrix(1, np.random.default_rng(1))
    pur = StateVector(purification(rho))
    assert np.allclose(pur.reduced_density_matrix([0]), rho)


def test_bad_inputs_raise_named_errors():
    with pytest.raises(InvalidArgumentError):
        StateVector(np.array([1, 1, 1]))
    with pytest.raises(InvalidArgumentError):
        StateVector(np.array([1.0, 1.0]))
    with pytest.raises(InvalidArgumentError):
        StateVector(np.array([np.nan, 0]))
    with pytest.raises(InvalidArgumentError):
        DensityMatrix(np.array([[1, 0], [0, 1]]))
    with pytest.raises(InvalidArgumentError):
        DensityMatrix(np.array([[1.5, 0], [0, -0.5]]))
    with pytest.raises(InvalidArgumentError):
        density_from_bloch(1, 1, 0)
    with pytest.raises(TooLargeError):
        StateVector.zeros(40)
    with pytest.raises(InvalidArgumentError):
        StateVector.zeros(2).reduced_density_matrix([0, 0])
    with pytest.raises(InvalidArgumentError):
        circuit_unitary(protocol_circuit(Layout(1)), [0, 1])
    with pytest.raises(InvalidArgumentError):
        get_engine("quantum-annealer")


def test_engine_interface():
    eng = get_engine("dense")
    lay = Layout(2)
    st_ = eng.prepare(lay.num_qubits, np.array([1, 0]), [lay.A()])
    eng.apply(st_, protocol_circuit(lay))
    assert st_.entropy([lay.S(1)]) == pytest.approx(1)
