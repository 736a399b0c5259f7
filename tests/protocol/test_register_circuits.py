"""Register circuits: k copies of the one-qubit protocol side by side; recovery of entangled registers."""

import numpy as np
import pytest

from qclone.protocol import (
    Layout,
    RegisterLayout,
    protocol_circuit,
    register_decryption,
    register_encryption,
    register_protocol_circuit,
    two_qubit_gate_count,
)
from qclone.sim.exact import StateVector, circuit_unitary, equal_up_to_global_phase, fidelity, purification, random_density_matrix, random_state


@pytest.mark.parametrize("k,n", [(1, 3), (2, 2), (3, 4), (5, 1)])
def test_counts_and_depth_are_those_of_k_parallel_copies(k, n):
    lay = RegisterLayout(k, n)
    single = protocol_circuit(Layout(n), decrypt=1)
    c = register_protocol_circuit(lay, decrypt=1)
    assert c.num_two_qubit_gates == k * two_qubit_gate_count(n, decrypt=1)
    assert c.depth == single.depth and len(c.instructions) == len(single.instructions)
    assert register_encryption(lay, include_bell_pairs=False).num_two_qubit_gates == 4 * n * k


def test_one_qubit_register_is_the_one_qubit_protocol():
    for n in (1, 2, 5):
        assert str(register_protocol_circuit(RegisterLayout(1, n), decrypt=n)) == str(protocol_circuit(Layout(n), decrypt=n))


def test_register_unitary_is_a_tensor_product_of_copies():
    lay = RegisterLayout(2, 1)
    single = circuit_unitary(protocol_circuit(Layout(1), decrypt=1), range(3))
    u = circuit_unitary(register_protocol_circuit(lay, decrypt=1), range(lay.num_qubits))
    # qubits of copy 0 then copy 1
    order = list(lay.embedding(0)) + list(lay.embedding(1))
    u_copies = circuit_unitary(register_protocol_circuit(lay, decrypt=1), order)
    assert equal_up_to_global_phase(u_copies, np.kron(single, single))
    assert u.shape == (64, 64)


def _ghz(k):
    v = np.zeros(2**k, dtype=complex)
    v[0] = v[-1] = 1 / np.sqrt(2)
    return v


@pytest.mark.parametrize("k,n", [(1, 1), (1, 4), (2, 1), (2, 2), (3, 1)])
def test_dense_engine_restores_register_entanglement_for_every_clone(k, n):
    """A register in a GHZ state with R, entangled at random with R, or mixed, is restored on every clone."""
    rng = np.random.default_rng(k * 10 + n)
    lay = RegisterLayout(k, n, references=k)
    inputs = {
        "ghz": np.kron(_ghz(k + 1), np.eye(2 ** (k - 1))[0]),
        "random": random_state(2 * k, rng),
        "mixed": purification(random_density_matrix(k, rng)),
    }
    refs = list(lay.reference_qubits)
    for name, psi in inputs.items():
        for j in range(1, n + 1):
            st = StateVector.from_input(psi, lay.num_qubits, input_qubits=list(lay.inputs) + refs)
            st.apply_circuit(register_protocol_circuit(lay, decrypt=j))
            out = st.reduced_density_matrix(list(lay.clone(j)) + refs)
            assert fidelity(out, psi) == pytest.approx(1, abs=1e-9), (name, j)
            rest = [q for q in range(lay.num_qubits) if q not in lay.clone(j) and q not in refs]
            assert st.mutual_information(refs, rest) == pytest.approx(0, abs=1e-9)


def test_register_decryption_of_A_for_even_n():
    lay = RegisterLayout(2, 2)
    psi = random_state(2, np.random.default_rng(5))
    st = StateVector.from_input(psi, lay.num_qubits, input_qubits=lay.inputs)
    st.apply_circuit(register_encryption(lay) + register_decryption(lay, "A"))
    assert fidelity(st.reduced_density_matrix(list(lay.inputs)), psi) == pytest.approx(1)
