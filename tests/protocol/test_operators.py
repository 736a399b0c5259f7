"""The PRL's dense definitions, checked against each other and against scipy's expm."""

import numpy as np
import pytest
from scipy.linalg import expm

from qclone.errors import TooLargeError, UnsupportedError
from qclone.protocol import bell_state, encryption_exponential, encryption_sum
from qclone.protocol.operators import MAX_DENSE_CLONES, alphas, clone_decryption_projector, input_decryption_exponential, pauli_power
from qclone.sim.exact import is_unitary


@pytest.mark.parametrize("n", range(1, 11))
def test_sum_form_equals_exponential_form_and_is_unitary(n):
    e = encryption_exponential(n).matrix
    assert np.allclose(e, encryption_sum(n).matrix, atol=1e-12)
    if n <= 8:
        assert is_unitary(e)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_exponential_form_matches_scipy_expm(n):
    t = np.pi / 4
    ref = expm(-1j * t * pauli_power(1, n + 1)) @ expm(-1j * t * pauli_power(3, n + 1))
    assert np.allclose(encryption_exponential(n).matrix, ref, atol=1e-12)
    t = 0.37
    ref = expm(-1j * t * pauli_power(1, n + 1)) @ expm(-1j * t * pauli_power(3, n + 1))
    assert np.allclose(encryption_exponential(n, t).matrix, ref, atol=1e-12)


@pytest.mark.parametrize("n", range(1, 8))
def test_decryption_projector_is_unitary(n):
    for j in range(1, n + 1):
        d = clone_decryption_projector(n, j)
        assert is_unitary(d.matrix)
        assert sorted(d.qubits) == [j] + list(range(n + 1, 2 * n + 1))
        assert d.qubits[:2] == (j, n + j)


def test_alphas_and_bell_states():
    assert alphas(1) == (1, 1j, 1, 1j)
    assert alphas(2) == (1, 1j, 1j, 1j)
    basis = np.array([bell_state(mu) for mu in range(4)])
    assert np.allclose(basis @ basis.conj().T, np.eye(4))


def test_limits():
    with pytest.raises(TooLargeError):
        encryption_exponential(MAX_DENSE_CLONES + 1)
    with pytest.raises(UnsupportedError):
        input_decryption_exponential(3)
    assert is_unitary(input_decryption_exponential(4).matrix)


@pytest.mark.parametrize("n", [2, 3])
def test_to_qiskit_is_qiskits_operator_of_the_exported_circuit(n):
    """The projector form of U_dec, in Qiskit's order, equals (up to a global phase) the Operator
    Qiskit computes for the exported decryption circuit, placed on the operator's qubits."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator

    from qclone.protocol import Layout
    from qclone.protocol.build import clone_decryption
    from qclone.protocol.render import to_qiskit

    lay = Layout(n)
    for j in range(1, n + 1):
        dense = clone_decryption_projector(n, j)
        exported = to_qiskit(clone_decryption(lay, j))
        ours = QuantumCircuit(exported.num_qubits)
        ours.append(dense.to_qiskit().to_instruction(), list(dense.qubits))
        assert Operator(ours).equiv(Operator(exported))
