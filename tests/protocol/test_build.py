"""Gate-level circuits: gate counts, depth, equality with the PRL's dense operators; k-qubit registers as
k copies of the one-qubit protocol side by side, and recovery of entangled registers."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qclone.errors import InvalidArgumentError, UnsupportedError
from qclone.protocol import (
    Layout,
    bell_pairs,
    decryption,
    encryption,
    encryption_exponential,
    protocol_circuit,
    two_qubit_gate_count,
)
from qclone.protocol.build import clone_decryption, input_decryption
from qclone.protocol.operators import (
    clone_decryption_projector,
    input_decryption_exponential,
)
from qclone.sim.exact import (
    StateVector,
    circuit_unitary,
    equal_up_to_global_phase,
    fidelity,
    purification,
    random_density_matrix,
    random_state,
)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 1000])
def test_two_qubit_gate_counts_are_7n_plus_1(n):
    lay = Layout(n)
    assert protocol_circuit(lay).num_two_qubit_gates == 5 * n
    for j in {1, n}:
        c = protocol_circuit(lay, decrypt=j)
        assert c.num_two_qubit_gates == 7 * n + 1 == two_qubit_gate_count(lay, decrypt=j)
        assert clone_decryption(lay, j).num_two_qubit_gates == 2 * n + 1
    for depth in ("linear", "log"):
        assert encryption(lay, depth=depth).num_two_qubit_gates == 4 * n
    if n % 2 == 0:
        assert protocol_circuit(lay, decrypt="A").num_two_qubit_gates == two_qubit_gate_count(lay, decrypt="A") == 9 * n


def test_log_depth_variant_has_logarithmic_depth():
    for n in (3, 15, 100, 1000, 4095):
        lin = encryption(Layout(n), depth="linear").depth
        log = encryption(Layout(n), depth="log").depth
        levels = math.ceil(math.log2(n + 1))
        assert lin >= 4 * n
        # two parity trees (up and down) per Pauli, plus H, S and H layers
        assert log <= 4 * levels + 5
    with pytest.raises(InvalidArgumentError):
        encryption(Layout(2), depth="quadratic")


@pytest.mark.parametrize("n", range(1, 11))
def test_encryption_circuits_equal_dense_exponential(n):
    lay = Layout(n)
    dense = encryption_exponential(n)
    for depth in ("linear", "log"):
        u = circuit_unitary(encryption(lay, depth=depth), dense.qubits)
        assert equal_up_to_global_phase(u, dense.matrix)


@pytest.mark.parametrize("n", range(1, 9))
def test_decryption_circuits_equal_projector_form(n):
    lay = Layout(n)
    for j in range(1, n + 1):
        dense = clone_decryption_projector(n, j)
        u = circuit_unitary(clone_decryption(lay, j), dense.qubits)
        assert equal_up_to_global_phase(u, dense.matrix)
    if n % 2 == 0:
        dense = input_decryption_exponential(n)
        for depth in ("linear", "log"):
            assert equal_up_to_global_phase(circuit_unitary(input_decryption(lay, depth=depth), dense.qubits), dense.matrix)


@pytest.mark.slow
@pytest.mark.parametrize("n", [9, 10])
def test_decryption_circuits_equal_projector_form_large(n):
    lay = Layout(n)
    for j in (1, n // 2, n):
        dense = clone_decryption_projector(n, j)
        assert equal_up_to_global_phase(circuit_unitary(clone_decryption(lay, j), dense.qubits), dense.matrix)
    dense = input_decryption_exponential(n) if n % 2 == 0 else None
    if dense is not None:
        assert equal_up_to_global_phase(circuit_unitary(input_decryption(lay), dense.qubits), dense.matrix)


def test_decrypting_a_needs_even_n():
    with pytest.raises(UnsupportedError):
        input_decryption(Layout(3))
    with pytest.raises(UnsupportedError):
        protocol_circuit(Layout(5), decrypt="A")


@given(n=st.integers(1, 7), data=st.data())
def test_any_clone_recovers_a_random_state(n, data):
    j = data.draw(st.integers(1, n))
    depth = data.draw(st.sampled_from(["linear", "log"]))
    seed = data.draw(st.integers(0, 2**32 - 1))
    psi = random_state(1, np.random.default_rng(seed))
    lay = Layout(n)
    state = StateVector.from_input(psi, lay.num_qubits)
    state.apply_circuit(protocol_circuit(lay, decrypt=j, depth=depth))
    assert fidelity(state.reduced_density_matrix([lay.S(j)]), psi) == pytest.approx(1, abs=1e-9)


@given(n=st.sampled_from([2, 4, 6]), seed=st.integers(0, 2**32 - 1))
def test_even_n_recovers_on_a(n, seed):
    psi = random_state(1, np.random.default_rng(seed))
    lay = Layout(n)
    state = StateVector.from_input(psi, lay.num_qubits)
    state.apply_circuit(protocol_circuit(lay, decrypt="A", depth="log"))
    assert fidelity(state.reduced_density_matrix([lay.A()]), psi) == pytest.approx(1, abs=1e-9)


def test_million_clone_circuit_builds_in_bulk():
    c = protocol_circuit(Layout(10**6), decrypt=123456)
    assert c.num_two_qubit_gates == 7 * 10**6 + 1
    assert len(c.instructions) < 20


@pytest.mark.parametrize("k,n", [(1, 3), (2, 2), (3, 4), (5, 1)])
def test_counts_and_depth_are_those_of_k_parallel_copies(k, n):
    lay = Layout(n, qubits=k)
    single = protocol_circuit(Layout(n), decrypt=1)
    c = protocol_circuit(lay, decrypt=1)
    assert c.num_two_qubit_gates == k * two_qubit_gate_count(Layout(n), decrypt=1) == two_qubit_gate_count(lay, decrypt=1)
    assert c.depth == single.depth and len(c.instructions) == len(single.instructions)
    assert encryption(lay).num_two_qubit_gates == 4 * n * k and bell_pairs(lay).num_two_qubit_gates == n * k


def test_one_qubit_register_is_the_one_qubit_protocol():
    for n in (1, 2, 5):
        assert str(protocol_circuit(Layout(n, qubits=1), decrypt=n)) == str(protocol_circuit(Layout(n), decrypt=n))


def test_register_unitary_is_a_tensor_product_of_copies():
    lay = Layout(1, qubits=2)
    single = circuit_unitary(protocol_circuit(Layout(1), decrypt=1), range(3))
    u = circuit_unitary(protocol_circuit(lay, decrypt=1), range(lay.num_qubits))
    # qubits of copy 0 then copy 1
    order = list(lay.embedding(0)) + list(lay.embedding(1))
    u_copies = circuit_unitary(protocol_circuit(lay, decrypt=1), order)
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
    lay = Layout(n, qubits=k, references=k)
    inputs = {
        "ghz": np.kron(_ghz(k + 1), np.eye(2 ** (k - 1))[0]),
        "random": random_state(2 * k, rng),
        "mixed": purification(random_density_matrix(k, rng)),
    }
    refs = list(lay.reference_qubits)
    for name, psi in inputs.items():
        for j in range(1, n + 1):
            st = StateVector.from_input(psi, lay.num_qubits, input_qubits=list(lay.inputs) + refs)
            st.apply_circuit(protocol_circuit(lay, decrypt=j))
            out = st.reduced_density_matrix(list(lay.clone(j)) + refs)
            assert fidelity(out, psi) == pytest.approx(1, abs=1e-9), (name, j)
            rest = [q for q in range(lay.num_qubits) if q not in lay.clone(j) and q not in refs]
            assert st.mutual_information(refs, rest) == pytest.approx(0, abs=1e-9)


def test_decryption_of_A_of_a_register_for_even_n():
    lay = Layout(2, qubits=2)
    psi = random_state(2, np.random.default_rng(5))
    st = StateVector.from_input(psi, lay.num_qubits, input_qubits=lay.inputs)
    st.apply_circuit(protocol_circuit(lay) + decryption(lay, "A"))
    assert fidelity(st.reduced_density_matrix(list(lay.inputs)), psi) == pytest.approx(1)


def test_builders_append_to_a_given_circuit_for_any_register_size():
    for lay in (Layout(3), Layout(3, qubits=2, references=1)):
        whole = protocol_circuit(lay, decrypt=2)
        stepwise = decryption(lay, 2, circuit=encryption(lay, circuit=bell_pairs(lay)))
        assert str(stepwise) == str(whole) and stepwise.registers == lay.registers
        assert str(clone_decryption(lay, 2)) == str(decryption(lay, 2))
    with pytest.raises(InvalidArgumentError):
        clone_decryption(Layout(2, qubits=2), "A")
    with pytest.raises(UnsupportedError):
        input_decryption(Layout(3, qubits=2))
