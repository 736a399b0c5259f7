"""The PRL's dense definitions of U_enc and U_dec, as numpy matrices.

These are written from the formulas, not from the circuits, so that the
gate-level circuits can be checked against them. Each operator acts on the
qubits it lists; the first listed qubit is the most significant bit of the
matrix index (``np.kron`` order); :meth:`DenseOperator.to_qiskit` gives the operator in
Qiskit's order. Available for n <= ``MAX_DENSE_CLONES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np

from qclone.errors import TooLargeError, UnsupportedError
from qclone.protocol.layout import Layout, check_clones

#: Largest n for which the dense operators (2^(n+1) square matrices) are built.
MAX_DENSE_CLONES = 10

I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
Z = np.array([[1, 0], [0, -1]], dtype=complex)
#: σ_0..σ_3 = I, X, Y, Z
PAULIS = (I2, X, Y, Z)


@dataclass(frozen=True, eq=False)
class DenseOperator:
    """A matrix and the layout qubits it acts on (first = most significant)."""

    matrix: np.ndarray
    qubits: tuple[int, ...]

    def to_qiskit(self) -> Any:
        """The operator as a :class:`qiskit.quantum_info.Operator` in Qiskit's order: its qubit i
        is ``qubits[i]`` (so it composes with a ``QuantumCircuit`` by ``qargs=list(qubits)``).

        Examples:
            >>> op = DenseOperator(np.kron(X, Z), (4, 7))        # X on layout qubit 4, Z on 7
            >>> from qiskit.quantum_info import Operator, Pauli
            >>> op.to_qiskit() == Operator(Pauli("ZX"))          # Qiskit's label: qubit 0 rightmost
            True
        """
        from qiskit.quantum_info import Operator

        return Operator(self.matrix).reverse_qargs()


def kron_all(*ops: np.ndarray) -> np.ndarray:
    return reduce(np.kron, ops, np.ones((1, 1), dtype=complex))


def pauli_power(mu: int, m: int) -> np.ndarray:
    """σ_μ^{⊗m}."""
    return kron_all(*([PAULIS[mu]] * m))


def _check_dense(clones: int) -> int:
    n = check_clones(clones)
    if n > MAX_DENSE_CLONES:
        raise TooLargeError(
            f"dense operators are built for n <= {MAX_DENSE_CLONES} clones (got {n}); "
            "use the stabilizer engine for larger n"
        )
    return n


def alphas(clones: int) -> tuple[complex, complex, complex, complex]:
    """α_0..α_3 = 1, i, −i^{n+1}, i."""
    return (1, 1j, -(1j ** (clones + 1)), 1j)


def encryption_exponential(clones: int, t: float = np.pi / 4) -> DenseOperator:
    """exp(−it X^{⊗(n+1)}) · exp(−it Z^{⊗(n+1)}) on (A, S_1..S_n).

    Uses exp(−itP) = cos t · I − i sin t · P, exact for any P with P² = I.
    """
    n = _check_dense(clones)
    m = n + 1
    eye = np.eye(2**m, dtype=complex)
    uz = np.cos(t) * eye - 1j * np.sin(t) * pauli_power(3, m)
    ux = np.cos(t) * eye - 1j * np.sin(t) * pauli_power(1, m)
    lay = Layout(n)
    return DenseOperator(ux @ uz, (lay.A(), *lay.signals))


def encryption_sum(clones: int) -> DenseOperator:
    """½ Σ_μ α_μ⁻¹ σ_μ^{⊗(n+1)} on (A, S_1..S_n)."""
    n = _check_dense(clones)
    a = alphas(n)
    u = 0.5 * np.sum([(1 / a[mu]) * pauli_power(mu, n + 1) for mu in range(4)], axis=0)
    lay = Layout(n)
    return DenseOperator(u, (lay.A(), *lay.signals))


def bell_state(mu: int = 0) -> np.ndarray:
    """|φ_μ⟩ = (σ_μ ⊗ I)|Φ+⟩ as a 4-vector."""
    phi = np.array([1, 0, 0, 1], dtype=complex) / np.sqrt(2)
    return np.kron(PAULIS[mu], I2) @ phi


def clone_decryption_projector(clones: int, j: int) -> DenseOperator:
    """U_dec(j) = Σ_μ α_μ |φ_μ⟩⟨φ_μ|_{S_j N_j} ⊗ ⊗_{k≠j} σ_μᵀ_{N_k}.

    Acts on (S_j, N_j, N_k for k ≠ j in increasing k).
    """
    n = _check_dense(clones)
    lay = Layout(n)
    lay.S(j)
    a = alphas(n)
    u = np.zeros((2 ** (n + 1), 2 ** (n + 1)), dtype=complex)
    for mu in range(4):
        phi = bell_state(mu)
        u = u + a[mu] * np.kron(np.outer(phi, phi.conj()), pauli_power(mu, n - 1).T)
    others = tuple(lay.N(k) for k in range(1, n + 1) if k != j)
    return DenseOperator(np.asarray(u), (lay.S(j), lay.N(j), *others))


def input_decryption_exponential(clones: int) -> DenseOperator:
    """exp(+iπ/4 Z_A Z_N…) · exp(+iπ/4 X_A X_N…) on (A, N_1..N_n); X factor first."""
    n = _check_dense(clones)
    if n % 2:
        raise UnsupportedError(f"A can be decrypted only for even n (got {n})")
    m = n + 1
    eye = np.eye(2**m, dtype=complex)
    s = np.sin(np.pi / 4)
    uz = s * eye + 1j * s * pauli_power(3, m)
    ux = s * eye + 1j * s * pauli_power(1, m)
    lay = Layout(n)
    return DenseOperator(uz @ ux, (lay.A(), *lay.keys))
