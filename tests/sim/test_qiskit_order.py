"""Qiskit objects at the engines' surface: every engine takes a ``Statevector`` / ``DensityMatrix``
with its qubit i on the i-th listed input qubit, and :func:`reduced_state` answers in Qiskit's
order; checked against Qiskit's own simulation of the exported protocol circuit."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import StatePreparation
from qiskit.quantum_info import DensityMatrix, Statevector, partial_trace, random_density_matrix, random_statevector

from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, protocol_circuit
from qclone.protocol.render import to_qiskit
from qclone.sim.engine import ENGINES, reduced_state
from qclone.sim.exact import listed_order, reverse_qubits

#: A stabilizer input the stabilizer engine takes, different on each qubit: qubit 0 |+i>, qubit 1 |1>.
STABILIZER_INPUT = Statevector.from_label("1r")


def _inputs(engine_name: str) -> list:
    if engine_name == "stabilizer":
        return [STABILIZER_INPUT]
    pure = random_statevector(4, seed=21)
    return [pure] if engine_name == "dense" else [pure, random_density_matrix(4, seed=22)]


def _qiskit_reduced(state: Statevector, lay: Layout, j: int) -> DensityMatrix:
    """Qiskit alone: the input prepared on the register's qubits, the exported protocol circuit,
    the partial trace onto clone j (ascending qubit order: the lowest index is qubit 0)."""
    circuit = to_qiskit(protocol_circuit(lay, decrypt=j))
    m = circuit.num_qubits
    prep = QuantumCircuit(m)
    prep.append(StatePreparation(state), list(lay.inputs))  # its qubit i on lay.inputs[i]
    out = Statevector(prep).evolve(circuit)
    keep = sorted(lay.clone(j))
    return partial_trace(out, [q for q in range(m) if q not in keep])


@pytest.mark.parametrize("engine_name", sorted(ENGINES))
def test_a_qiskit_input_comes_back_in_qiskits_order(engine_name: str) -> None:
    engine = ENGINES[engine_name]
    lay = Layout(2, qubits=2)  # 10 qubits
    for state in _inputs(engine_name):
        st = engine.prepare(lay.num_qubits, state, lay.inputs)
        np.testing.assert_allclose(reduced_state(st, lay.inputs).data, DensityMatrix(state).data, atol=1e-9)
        engine.apply(st, protocol_circuit(lay, decrypt=2))
        clone = sorted(lay.clone(2))
        ours = reduced_state(st, clone)
        np.testing.assert_allclose(ours.data, DensityMatrix(state).data, atol=1e-9)  # the decrypted clone is the input
        if isinstance(state, Statevector):
            np.testing.assert_allclose(ours.data, _qiskit_reduced(state, lay, 2).data, atol=1e-9)
        # the listed order is the order of the answer: reversing the list reverses Qiskit's qubits
        np.testing.assert_allclose(reduced_state(st, clone[::-1]).data, reverse_qubits(ours.data), atol=1e-9)


def test_listed_order_converts_qiskit_objects_only() -> None:
    sv = Statevector.from_label("01")
    np.testing.assert_array_equal(listed_order(sv), [0, 0, 1, 0])
    np.testing.assert_array_equal(listed_order(DensityMatrix(sv)), np.diag([0, 0, 1, 0]))
    np.testing.assert_array_equal(listed_order([0, 1, 0, 0]), [0, 1, 0, 0])  # an array is already in the listed order
    with pytest.raises(InvalidArgumentError, match="qubits"):
        listed_order(Statevector(np.array([1, 0, 0])))


def test_from_input_reads_qiskit_objects_in_qiskits_order() -> None:
    """``np.asarray(Statevector)`` would silently read Qiskit's order as the listed order; the
    engines' constructors convert instead."""
    from qclone.sim.core import CoreState
    from qclone.sim.exact import DensityMatrix as DenseDM
    from qclone.sim.exact import StateVector

    sv = Statevector.from_label("1r")  # qubit 0 |+i>, qubit 1 |1>
    listed = listed_order(sv)
    np.testing.assert_allclose(StateVector.from_input(sv, 3, input_qubits=[0, 2]).vector,
                               StateVector.from_input(listed, 3, input_qubits=[0, 2]).vector)
    np.testing.assert_allclose(CoreState.from_input(3, sv, [0, 2]).reduced_density_matrix([0, 2]),
                               np.outer(listed, listed.conj()), atol=1e-12)
    np.testing.assert_allclose(DenseDM.from_input(DensityMatrix(sv), 3).matrix,
                               DenseDM.from_input(np.outer(listed, listed.conj()), 3).matrix)
