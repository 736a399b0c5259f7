"""Renderings, checked by other libraries: Qiskit's loaders and simulator, and stim's tableaux."""

import numpy as np
import pytest
import stim
from hypothesis import given
from hypothesis import strategies as st
from qiskit import qasm2, qasm3
from qiskit.quantum_info import Operator, Statevector, partial_trace

from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, encryption, from_qasm, protocol_circuit, render, to_qasm2, to_qasm3, to_qiskit, to_stim
from qclone.protocol.render import QASM2_REGISTER_NAMES
from qclone.sim.exact import StateVector, circuit_unitary, equal_up_to_global_phase, random_state


def to_qiskit_order(vec: np.ndarray, m: int) -> np.ndarray:
    """Our qubit 0 is the most significant bit; Qiskit's is the least."""
    return np.asarray(vec).reshape((2,) * m).transpose(list(range(m))[::-1]).ravel()


def test_qiskit_registers_are_named_a_s_n():
    qc = to_qiskit(protocol_circuit(Layout(3, references=1), decrypt=2))
    assert [(r.name, r.size) for r in qc.qregs] == [("A", 1), ("S", 3), ("N", 3), ("R", 1)]
    assert qc.num_nonlocal_gates() == 7 * 3 + 1


def test_qasm2_renames_registers_predictably():
    text = to_qasm2(protocol_circuit(Layout(2)))
    for name, new in QASM2_REGISTER_NAMES.items():
        if name != "R":
            assert f"qreg {new}[" in text
    loaded = qasm2.loads(text)
    assert [r.name for r in loaded.qregs] == ["reg_A", "reg_S", "reg_N"]
    assert "qubit[2] S;" in to_qasm3(protocol_circuit(Layout(2)))
    for text in (to_qasm2(protocol_circuit(Layout(2))), to_qasm3(protocol_circuit(Layout(2)))):
        assert [r.name for r in from_qasm(text).qregs] == ["A", "S", "N"]
    with pytest.raises(InvalidArgumentError):
        from_qasm("OPENQASM 2.0; qreg q[1]; frobnicate q[0];")


@given(n=st.integers(1, 5), data=st.data())
def test_exported_qasm_reimported_and_simulated_by_qiskit_agrees_with_exact_engine(n, data):
    lay = Layout(n)
    target = data.draw(st.sampled_from(list(range(1, n + 1)) + (["A"] if n % 2 == 0 else [])))
    depth = data.draw(st.sampled_from(["linear", "log"]))
    psi = random_state(1, np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))))
    circ = protocol_circuit(lay, decrypt=target, depth=depth)

    ours = StateVector.from_input(psi, lay.num_qubits)
    ours.apply_circuit(circ)
    expected = to_qiskit_order(ours.vector, lay.num_qubits)

    initial = Statevector(to_qiskit_order(StateVector.from_input(psi, lay.num_qubits).vector, lay.num_qubits))
    for loaded in (qasm2.loads(to_qasm2(circ)), qasm3.loads(to_qasm3(circ))):
        out = initial.evolve(loaded)
        assert abs(np.vdot(out.data, expected)) == pytest.approx(1, abs=1e-9)
        # and the decrypted state sits where the docs say it does
        keep = lay.output_qubit(target)
        reduced = partial_trace(out, [q for q in range(lay.num_qubits) if q != keep]).data
        assert np.real(np.vdot(psi, reduced @ psi)) == pytest.approx(1, abs=1e-9)


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("depth", ["linear", "log"])
def test_stim_rendering_has_the_same_unitary(n, depth):
    circ = protocol_circuit(Layout(n), decrypt=n, depth=depth)
    m = circ.num_qubits
    # stim computes the unitary from its own tableau (an independent library)
    stim_u = stim.Tableau.from_circuit(to_stim(circ)).to_unitary_matrix(endian="big")
    assert equal_up_to_global_phase(stim_u, circuit_unitary(circ, range(m)))
    qiskit_u = Operator(to_qiskit(circ)).data
    # Qiskit is little-endian: reverse the qubit order before comparing
    perm = to_qiskit_order(np.arange(2**m), m)
    assert equal_up_to_global_phase(qiskit_u[np.ix_(perm, perm)], stim_u)


def test_render_formats():
    circ = encryption(Layout(2))
    assert render(circ, "stim").startswith("CX 0 1 1 2")
    assert render(circ, "qasm3").startswith("OPENQASM 3")
    assert "A:" in render(circ, "text") or "A" in render(circ, "text")
    with pytest.raises(InvalidArgumentError):
        render(circ, "pdf")


def test_stim_text_for_a_large_circuit_is_bulk():
    c = to_stim(protocol_circuit(Layout(20000), decrypt=7))
    assert len(c) < 20
    assert c.num_qubits == 40001
