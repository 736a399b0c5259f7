"""Every kind of input parses to the right state; bad inputs are refused with a clear message."""

import json
import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.quantum_info import DensityMatrix as QiskitDensity
from qiskit.quantum_info import random_statevector

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.sim.exact import StateVector, bloch_vector, random_density_matrix, random_state
from qclone.storage.inputs import InputState, load_state_file, parse_state
from qclone.storage.wire import encode_array

RNG = np.random.default_rng(8)


@pytest.mark.parametrize("r", [(0, 0, 1), (1, 0, 0), (0, -1, 0), (0.3, -0.4, 0.5), (0, 0, 0), (0.6, 0, -0.8)])
def test_bloch(r):
    st = parse_state("bloch", list(r))
    assert st.qubits == 1 and st.kind == "bloch"
    np.testing.assert_allclose(bloch_vector(st.density), r, atol=1e-12)
    assert st.pure == math.isclose(np.linalg.norm(r), 1)
    if st.pure:
        np.testing.assert_allclose(np.outer(st.vector, st.vector.conj()), st.density, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 8])
def test_statevector(k):
    vec = random_state(k, RNG)
    st = parse_state("statevector", encode_array(vec))
    assert st.qubits == k and st.pure
    np.testing.assert_allclose(st.vector, vec, atol=1e-12)
    np.testing.assert_allclose(st.density, np.outer(vec, vec.conj()), atol=1e-12)
    with pytest.raises(ValueError):
        st.vector[0] = 1  # read-only


@pytest.mark.parametrize("k", [1, 3])
def test_density(k):
    rho = random_density_matrix(k, RNG)
    st = parse_state("density", encode_array(rho))
    assert st.qubits == k and not st.pure
    np.testing.assert_allclose(st.density, rho, atol=1e-12)
    assert st.to_wire()["kind"] == "density"
    np.testing.assert_allclose(parse_state(**st.to_wire()).density, rho, atol=1e-12)


def test_density_rounding_is_cleaned():
    rho = np.diag([1.0, 0.0]) + np.array([[0, 0], [0, -5e-7]]) + np.array([[5e-7, 0], [0, 0]])
    st = parse_state("density", rho.tolist())
    assert np.linalg.eigvalsh(st.density).min() >= 0
    assert abs(np.trace(st.density) - 1) < 1e-12


def _dense_prepared(qc: QuantumCircuit) -> np.ndarray:
    """The prepared state in Qiskit's order (q[0] least significant), from Qiskit's density matrix."""
    return QiskitDensity(qc).data


@pytest.mark.parametrize("version", [2, 3])
def test_qasm_ghz_with_phase(version):
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    qc.s(0)
    qc.ry(0.3, 2)
    text = qasm2.dumps(qc) if version == 2 else qasm3.dumps(qc)
    st = parse_state("qasm", text)
    assert st.qubits == 3 and st.pure and st.kind == "qasm"
    np.testing.assert_allclose(st.density, _dense_prepared(qc), atol=1e-12)


def test_qasm_qubit_order_is_qiskits():
    st = parse_state("qasm", 'OPENQASM 3.0; include "stdgates.inc"; qubit[2] q; x q[1];')
    # Qiskit's order: q[1] = A1 is bit 1 of the index, so |1>_q1 |0>_q0 is index 2
    np.testing.assert_allclose(st.vector, [0, 0, 1, 0], atol=1e-12)
    sv = StateVector.zeros(2)  # the engines' order: A1 is the second (less significant) qubit
    sv.apply(np.array([[0, 1], [1, 0]]), [1])
    np.testing.assert_allclose(st.engine_state, sv.vector, atol=1e-12)


def test_qasm_random_state_round_trip():
    target = random_statevector(4, seed=3)
    qc = QuantumCircuit(2)
    qc.prepare_state(target, [0, 1])
    from qiskit import transpile

    text = qasm2.dumps(transpile(qc, basis_gates=["u", "cx"], optimization_level=0))
    st = parse_state("qasm", text)
    assert abs(np.vdot(st.vector, target.data)) ** 2 == pytest.approx(1, abs=1e-9)


@pytest.mark.parametrize(
    ("kind", "data", "error", "message"),
    [
        ("color", [1], InvalidArgumentError, "unknown state kind"),
        ("bloch", [0, 0], InvalidArgumentError, r"\[x, y, z\]"),
        ("bloch", [0, 0, 1.1], InvalidArgumentError, "length <= 1"),
        ("bloch", [0, math.nan, 0], InvalidArgumentError, "NaN"),
        ("bloch", {"real": [0, 0, 1], "imag": [0, 1, 0]}, InvalidArgumentError, "real"),
        ("statevector", [1, 1], InvalidArgumentError, "normalised"),
        ("statevector", [1, 0, 0], InvalidArgumentError, "power-of-two"),
        ("statevector", [1], InvalidArgumentError, "power-of-two"),
        ("statevector", [[1, 0]], InvalidArgumentError, "flat list"),
        ("statevector", [1.0, math.inf], InvalidArgumentError, "NaN or infinity"),
        ("statevector", [1] + [0] * 511, TooLargeError, "at most 8 qubits"),
        ("statevector", "0101", InvalidArgumentError, "list of numbers"),
        ("density", [[1, 0], [0, 0], [0, 0]], InvalidArgumentError, "square"),
        ("density", np.eye(3).tolist(), InvalidArgumentError, "power-of-two"),
        ("density", [[0.5, 0.5], [0, 0.5]], InvalidArgumentError, "Hermitian"),
        ("density", [[1, 0], [0, 1]], InvalidArgumentError, "trace 1"),
        ("density", [[1.5, 0], [0, -0.5]], InvalidArgumentError, "positive semidefinite"),
        ("density", np.eye(512).tolist(), TooLargeError, "at most 8 qubits"),
        ("qasm", 42, InvalidArgumentError, "text of an OpenQASM"),
        ("qasm", "OPENQASM 2.0; qreg q[1]; hadamard q[0];", InvalidArgumentError, "not a valid OpenQASM"),
        ("qasm", "this is not qasm", InvalidArgumentError, "not a valid OpenQASM"),
        ("qasm", 'OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; creg c[1]; h q[0]; measure q[0] -> c[0];',
         InvalidArgumentError, "'measure'"),
        ("qasm", 'OPENQASM 3.0; include "stdgates.inc"; qubit[1] q; reset q[0];', InvalidArgumentError, "'reset'"),
        ("qasm", 'OPENQASM 3.0; include "stdgates.inc"; qubit[1] q; bit c; if (c) x q[0];',
         InvalidArgumentError, "classical"),
        ("qasm", 'OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; creg c[1]; if (c==1) x q[0];',
         InvalidArgumentError, "classical"),
        ("qasm", 'OPENQASM 3.0; include "stdgates.inc"; input float theta; qubit q; rx(theta) q;',
         InvalidArgumentError, "unbound parameters"),
        ("qasm", 'OPENQASM 3.0; include "stdgates.inc"; qubit[9] q;', TooLargeError, "at most 8 qubits"),
        ("qasm", 'OPENQASM 3.0; include "stdgates.inc";', InvalidArgumentError, "no qubits"),
    ],
)
def test_bad_inputs(kind, data, error, message):
    with pytest.raises(error, match=message):
        parse_state(kind, data)


def test_qasm_with_unused_classical_register_and_barrier_is_fine():
    st = parse_state("qasm", 'OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; creg c[1]; h q[0]; barrier q;')
    np.testing.assert_allclose(st.vector, np.array([1, 1]) / np.sqrt(2), atol=1e-12)


def test_load_state_file(tmp_path):
    vec = random_state(2, RNG)
    np.save(tmp_path / "v.npy", vec)
    st = load_state_file(tmp_path / "v.npy")
    assert st.kind == "statevector"
    np.testing.assert_allclose(st.vector, vec, atol=1e-12)

    rho = random_density_matrix(1, RNG)
    np.save(tmp_path / "rho.npy", rho)
    assert load_state_file(tmp_path / "rho.npy").kind == "density"

    (tmp_path / "b.json").write_text(json.dumps([0, 1, 0]))
    assert load_state_file(tmp_path / "b.json").kind == "bloch"
    (tmp_path / "w.json").write_text(json.dumps({"kind": "statevector", "data": encode_array(vec)}))
    np.testing.assert_allclose(load_state_file(tmp_path / "w.json", "statevector").vector, vec, atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="not 'density'"):
        load_state_file(tmp_path / "w.json", "density")

    (tmp_path / "p.qasm").write_text('OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; x q[0];')
    np.testing.assert_allclose(load_state_file(tmp_path / "p.qasm").vector, [0, 1], atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="OpenQASM text"):
        load_state_file(tmp_path / "v.npy", "qasm")
    with pytest.raises(InvalidArgumentError, match="cannot read"):
        load_state_file(tmp_path / "missing.npy")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InvalidArgumentError, match="cannot read"):
        load_state_file(tmp_path / "bad.json")


def test_input_state_is_frozen():
    st = parse_state("bloch", [0, 0, 1])
    assert isinstance(st, InputState)
    with pytest.raises(AttributeError):
        st.qubits = 2  # type: ignore[misc]  # frozen: the assignment must fail
