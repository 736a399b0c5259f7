"""Gate-level circuits: gate counts, depth, and equality with the PRL's dense operators."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qclone.errors import InvalidArgumentError, UnsupportedError
from qclone.protocol import (
    Layout,
    clone_decryption,
    clone_decryption_projector,
    encryption,
    encryption_exponential,
    input_decryption,
    input_decryption_exponential,
    protocol_circuit,
    two_qubit_gate_count,
)
from qclone.sim.exact import StateVector, circuit_unitary, equal_up_to_global_phase, fidelity, random_state


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 1000])
def test_two_qubit_gate_counts_are_7n_plus_1(n):
    lay = Layout(n)
    assert protocol_circuit(lay).num_two_qubit_gates == 5 * n
    for j in {1, n}:
        c = protocol_circuit(lay, decrypt=j)
        assert c.num_two_qubit_gates == 7 * n + 1 == two_qubit_gate_count(n, decrypt=j)
        assert clone_decryption(lay, j).num_two_qubit_gates == 2 * n + 1
    for depth in ("linear", "log"):
        assert encryption(lay, depth=depth).num_two_qubit_gates == 4 * n
    if n % 2 == 0:
        assert protocol_circuit(lay, decrypt="A").num_two_qubit_gates == two_qubit_gate_count(n, decrypt="A") == 9 * n


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
    assert fidelity(state.reduced_density_matrix([lay.A]), psi) == pytest.approx(1, abs=1e-9)


def test_million_clone_circuit_builds_in_bulk():
    c = protocol_circuit(Layout(10**6), decrypt=123456)
    assert c.num_two_qubit_gates == 7 * 10**6 + 1
    assert len(c.instructions) < 20
