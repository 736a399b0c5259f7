"""The same questions answered by the dense reference engine, independently of the F2 method.

For small encodings (``m + k`` qubits up to
:data:`qclone.sim.exact.MAX_STATEVECTOR_QUBITS`), the state of the system with
every input maximally entangled with a reference qubit is simulated as a
dense state vector by :mod:`qclone.sim.exact`, and a set ``C`` is classified
from reduced density matrices alone:

* ``I(R : C)`` from von Neumann entropies;
* a logical Pauli ``P`` leaks iff the reduced state of ``C`` depends on the
  input's ``P`` component, i.e. iff ``Tr_R[(P_R ⊗ 1) ρ_RC] ≠ 0`` (with a
  maximally entangled reference this operator is, up to a factor, the image
  of ``P`` under the encoding channel restricted to ``C``).

Nothing here uses stabilizers or GF(2) algebra, so tests and users can
cross-check :class:`~qclone.analysis.leakage.analyzer.LeakageAnalyzer`
against it.

Examples:
    >>> from qclone.analysis.leakage.stages import protocol_encoding
    >>> ref = DenseLeakage(protocol_encoding(3))
    >>> ref.classify(["S1", "S2", "S3"])
    Classification(kind='partial', leaked=('Y',), mutual_information_bits=1.0, generators=())
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import product

import numpy as np

from qclone.analysis.leakage.analyzer import Classification
from qclone.analysis.leakage.encoding import CliffordEncoding
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Circuit
from qclone.sim.exact import MAX_STATEVECTOR_QUBITS, StateVector, pauli_matrix

#: Numerical tolerance: exact answers are integers (bits) or exactly zero operators.
TOL = 1e-8


class DenseLeakage:
    """Dense-state-vector answers for a small :class:`CliffordEncoding` (qclone circuits only)."""

    def __init__(self, encoding: CliffordEncoding) -> None:
        if not isinstance(encoding.circuit, Circuit):
            raise InvalidArgumentError("the dense reference needs a qclone Circuit")
        m, k = encoding.num_qubits, encoding.num_inputs
        if m + k > MAX_STATEVECTOR_QUBITS:
            raise TooLargeError(f"{m + k} qubits (system and references) exceed the dense engine's limit of "
                                f"{MAX_STATEVECTOR_QUBITS}")
        self.encoding = encoding
        self.references = list(range(m, m + k))
        bell = np.array([1, 0, 0, 1], dtype=complex) / np.sqrt(2)
        pairs = bell
        for _ in range(k - 1):
            pairs = np.kron(pairs, bell)
        placed = [q for i, inp in enumerate(encoding.inputs) for q in (inp, m + i)]
        self.state = StateVector.from_input(pairs, m + k, input_qubits=placed)
        self.state.apply_circuit(encoding.circuit)

    def mutual_information(self, qubits: Iterable[str | int]) -> float:
        chosen = self.encoding.indices(qubits).tolist()
        if not chosen:
            return 0.0
        return self.state.mutual_information(self.references, chosen)

    def entropy(self, qubits: Iterable[str | int]) -> float:
        chosen = self.encoding.indices(qubits).tolist()
        return self.state.entropy(chosen) if chosen else 0.0

    def leaked(self, qubits: Iterable[str | int]) -> tuple[str, ...]:
        """Every logical Pauli (one letter per input) the reduced state of ``qubits`` depends on."""
        chosen = self.encoding.indices(qubits).tolist()
        k = self.encoding.num_inputs
        if not chosen:
            return ()
        rest = [q for q in range(self.state.num_qubits) if q not in chosen and q not in self.references]
        # ψ as (R, C, rest); Δ_P = Tr_{R,rest}[(P_R ⊗ 1)|ψ⟩⟨ψ|] = A Bᴴ with A = (P_R ψ) and B = ψ as (C, R·rest)
        psi = np.transpose(self.state.tensor, self.references + chosen + rest).reshape(2**k, 2 ** len(chosen), -1)
        b = np.ascontiguousarray(psi.transpose(1, 0, 2)).reshape(2 ** len(chosen), -1)
        gram_b = None if b.shape[0] <= b.shape[1] else b.conj().T @ b
        out = []
        for letters in product("IXYZ", repeat=k):
            name = "".join(letters)
            if set(name) == {"I"}:
                continue
            chi = np.tensordot(pauli_matrix(name), psi, axes=(1, 0))
            a = np.ascontiguousarray(chi.transpose(1, 0, 2)).reshape(b.shape)
            if gram_b is None:
                norm2 = float(np.sum(np.abs(a @ b.conj().T) ** 2))
            else:  # ‖A Bᴴ‖² = tr(AᴴA · BᴴB): work on the smaller side of the cut
                norm2 = float(np.real(np.sum((a.conj().T @ a) * gram_b.T)))
            if norm2 > TOL**2:
                out.append(name)
        return tuple(sorted(out, key=lambda s: (sum(ch != "I" for ch in s), s)))

    def classify(self, qubits: Iterable[str | int]) -> Classification:
        chosen = self.encoding.indices(qubits)
        k = self.encoding.num_inputs
        bits = self.mutual_information(chosen)
        rounded = round(bits)
        if abs(bits - rounded) > 1e-6:
            raise RuntimeError(f"mutual information {bits} of a stabilizer state is not an integer")
        kind = "none" if rounded == 0 else ("authorized" if rounded == 2 * k else "partial")
        return Classification(kind, self.leaked(chosen), float(rounded))
