"""Reference values computed by ``qiskit.quantum_info`` alone (independent of qclone's engines)."""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit.quantum_info import DensityMatrix, Pauli, partial_trace


def qiskit_bloch(state: Any) -> list[list[float]]:
    """Item i: the Bloch vector (x, y, z) of qubit i of ``state`` (a Statevector, DensityMatrix,
    QuantumCircuit or array in Qiskit's order), by Qiskit's partial trace and Pauli expectations."""
    rho = DensityMatrix(state)
    k = rho.num_qubits
    out = []
    for q in range(k):
        one = partial_trace(rho, [p for p in range(k) if p != q]) if k > 1 else rho
        out.append([float(np.real(one.expectation_value(Pauli(p)))) for p in "XYZ"])
    return out
