"""Exact reference engine: dense state vectors and density matrices in numpy.

Written for clarity, independent of Qiskit's simulators. A state of ``m``
qubits is kept as a tensor with one axis of size 2 per qubit (axis ``i`` is
qubit ``i``), so applying a gate is one ``tensordot`` and a partial trace is
one ``einsum``. Matrices passed to :meth:`StateVector.apply` act on the listed
qubits with the first listed qubit as the most significant bit (``np.kron``
order), the convention of :mod:`qclone.protocol.operators`.

Examples:
    >>> import numpy as np
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> lay = Layout(3)
    >>> psi = StateVector.from_input(np.array([0.6, 0.8j]), lay.num_qubits)
    >>> psi.apply_circuit(protocol_circuit(lay, decrypt=2))
    >>> round(fidelity(psi.reduced_density_matrix([lay.S(2)]), np.array([0.6, 0.8j])), 12)
    1.0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from qclone.errors import InvalidArgumentError, TooLargeError, UnsupportedError
from qclone.protocol.circuit import Circuit, Instruction

#: Largest number of qubits a dense state vector may have (2^26 amplitudes = 1 GiB).
MAX_STATEVECTOR_QUBITS = 26
#: Largest number of qubits a dense density matrix may have (4^13 entries = 1 GiB).
MAX_DENSITY_QUBITS = 13

_S2 = 1 / np.sqrt(2)
GATE_MATRICES: dict[str, np.ndarray] = {
    "I": np.eye(2, dtype=complex),
    "H": np.array([[_S2, _S2], [_S2, -_S2]], dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
    "S": np.array([[1, 0], [0, 1j]], dtype=complex),
    "S_DAG": np.array([[1, 0], [0, -1j]], dtype=complex),
    "SQRT_X": 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]], dtype=complex),
    "SQRT_X_DAG": 0.5 * np.array([[1 - 1j, 1 + 1j], [1 + 1j, 1 - 1j]], dtype=complex),
    "CX": np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex),
    "CZ": np.diag([1, 1, 1, -1]).astype(complex),
    "SWAP": np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex),
}


def _check_qubits(qubits: Sequence[int], m: int) -> list[int]:
    qs = [int(q) for q in qubits]
    if len(set(qs)) != len(qs):
        raise InvalidArgumentError(f"repeated qubit in {qs}")
    if any(q < 0 or q >= m for q in qs):
        raise InvalidArgumentError(f"qubit out of range 0..{m - 1}: {qs}")
    return qs


def _index(ndim: int, fixed: dict[int, int]) -> tuple[int | slice, ...]:
    return tuple(fixed.get(ax, slice(None)) for ax in range(ndim))


def _apply_small(tensor: np.ndarray, u: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Apply a one- or two-qubit matrix with slices: out[k] = Σ_i u[k, i] · in[i].

    Each basis value ``i`` of the acted-on axes selects one slice of the
    tensor; zero matrix entries are skipped, so CX and CZ cost one pass.
    """
    k = len(axes)
    values = [tuple((i >> (k - 1 - b)) & 1 for b in range(k)) for i in range(2**k)]
    blocks = [tensor[_index(tensor.ndim, dict(zip(axes, v)))] for v in values]
    out = np.empty_like(tensor)
    for row, v in enumerate(values):
        acc = None
        for col in range(2**k):
            c = u[row, col]
            if c == 0:
                continue
            term = blocks[col] if c == 1 else c * blocks[col]
            acc = term.copy() if acc is None else acc + term
        out[_index(tensor.ndim, dict(zip(axes, v)))] = 0 if acc is None else acc
    return out


def apply_matrix_to_tensor(tensor: np.ndarray, matrix: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Contract ``matrix`` (2^k x 2^k) into the given axes of a qubit tensor."""
    k = len(axes)
    if k <= 2 and tensor.ndim > k + 2:
        return _apply_small(tensor, np.asarray(matrix, dtype=complex), list(axes))
    u = np.asarray(matrix, dtype=complex).reshape((2,) * (2 * k))
    out = np.tensordot(u, tensor, axes=(list(range(k, 2 * k)), list(axes)))
    # tensordot puts the new axes first; move them back where they belong
    return np.moveaxis(out, list(range(k)), list(axes))


class StateVector:
    """A pure state of ``num_qubits`` qubits, changed in place by gates."""

    def __init__(self, amplitudes: np.ndarray) -> None:
        a = np.asarray(amplitudes, dtype=complex)
        m = int(round(np.log2(a.size))) if a.size else -1
        if m < 0 or 2**m != a.size:
            raise InvalidArgumentError(f"a state vector needs 2^m amplitudes, got {a.size}")
        if m > MAX_STATEVECTOR_QUBITS:
            raise TooLargeError(f"{m} qubits exceed the dense engine's limit of {MAX_STATEVECTOR_QUBITS}")
        norm = np.linalg.norm(a)
        if not np.isfinite(norm) or abs(norm - 1) > 1e-8:
            raise InvalidArgumentError(f"a state vector must have norm 1, got {norm}")
        self.num_qubits = m
        self.tensor = a.reshape((2,) * m) if m else a.reshape(())

    @classmethod
    def zeros(cls, num_qubits: int) -> StateVector:
        if num_qubits > MAX_STATEVECTOR_QUBITS:
            raise TooLargeError(f"{num_qubits} qubits exceed the dense engine's limit of {MAX_STATEVECTOR_QUBITS}")
        v = np.zeros(2**num_qubits, dtype=complex)
        v[0] = 1
        return cls(v)

    @classmethod
    def from_input(cls, input_state: np.ndarray, num_qubits: int, *, input_qubits: Sequence[int] | None = None) -> StateVector:
        """``input_state`` on ``input_qubits`` (default: the first ones), |0⟩ elsewhere: a numpy
        vector with the first input qubit the most significant bit, or a Qiskit ``Statevector``
        whose qubit i goes on the i-th input qubit (see :func:`listed_order`)."""
        v = listed_order(input_state)
        k = int(round(np.log2(v.size)))
        qs = list(range(k)) if input_qubits is None else _check_qubits(input_qubits, num_qubits)
        if len(qs) != k or 2**k != v.size:
            raise InvalidArgumentError("input state size does not match its qubits")
        rest = np.zeros(2 ** (num_qubits - k), dtype=complex)
        rest[0] = 1
        full = np.kron(v, rest).reshape((2,) * num_qubits)
        # the input occupies axes 0..k-1; move them to input_qubits
        return cls(np.moveaxis(full, list(range(k)), qs).ravel())

    def copy(self) -> StateVector:
        return StateVector(self.tensor.ravel().copy())

    @property
    def vector(self) -> np.ndarray:
        return self.tensor.ravel()

    def apply(self, matrix: np.ndarray, qubits: Sequence[int]) -> None:
        qs = _check_qubits(qubits, self.num_qubits)
        self.tensor = apply_matrix_to_tensor(self.tensor, matrix, qs)

    def apply_circuit(self, circuit: Circuit | Iterable[Instruction]) -> None:
        for name, qubits in _gates_of(circuit):
            self.apply(GATE_MATRICES[name], qubits)

    def reduced_density_matrix(self, qubits: Sequence[int]) -> np.ndarray:
        """ρ of ``qubits`` (in the given order) with every other qubit traced out."""
        qs = _check_qubits(qubits, self.num_qubits)
        rest = [q for q in range(self.num_qubits) if q not in qs]
        t = np.transpose(self.tensor, qs + rest).reshape(2 ** len(qs), -1)
        return t @ t.conj().T

    def entropy(self, qubits: Sequence[int]) -> float:
        """Von Neumann entropy (bits) of ``qubits``; uses the smaller side of the cut."""
        qs = _check_qubits(qubits, self.num_qubits)
        rest = [q for q in range(self.num_qubits) if q not in qs]
        side = qs if len(qs) <= len(rest) else rest
        return von_neumann_entropy(self.reduced_density_matrix(side)) if side else 0.0

    def mutual_information(self, a: Sequence[int], b: Sequence[int]) -> float:
        """I(a : b) = S(a) + S(b) − S(ab) in bits."""
        return self.entropy(a) + self.entropy(b) - self.entropy(list(a) + list(b))


class DensityMatrix:
    """A mixed state of ``num_qubits`` qubits, changed in place by gates and channels."""

    def __init__(self, matrix: np.ndarray) -> None:
        r = np.asarray(matrix, dtype=complex)
        if r.ndim != 2 or r.shape[0] != r.shape[1]:
            raise InvalidArgumentError("a density matrix must be square")
        m = int(round(np.log2(r.shape[0])))
        if 2**m != r.shape[0]:
            raise InvalidArgumentError(f"a density matrix needs dimension 2^m, got {r.shape[0]}")
        if m > MAX_DENSITY_QUBITS:
            raise TooLargeError(f"{m} qubits exceed the density-matrix limit of {MAX_DENSITY_QUBITS}")
        check_density_matrix(r)
        self.num_qubits = m
        self.tensor = r.reshape((2,) * (2 * m))

    @classmethod
    def from_statevector(cls, state: StateVector | np.ndarray) -> DensityMatrix:
        v = state.vector if isinstance(state, StateVector) else np.asarray(state, dtype=complex)
        return cls(np.outer(v, v.conj()))

    @classmethod
    def from_input(cls, rho: np.ndarray, num_qubits: int) -> DensityMatrix:
        """``rho`` on the first qubits, |0⟩⟨0| on the others (a Qiskit ``DensityMatrix``: its qubit i
        on qubit i; a numpy matrix: the first qubit the most significant bit)."""
        rho = listed_order(rho)
        rest = np.zeros((2 ** (num_qubits - int(round(np.log2(len(rho))))),) * 2, dtype=complex)
        rest[0, 0] = 1
        return cls(np.kron(rho, rest))

    @property
    def matrix(self) -> np.ndarray:
        d = 2**self.num_qubits
        return self.tensor.reshape(d, d)

    def copy(self) -> DensityMatrix:
        return DensityMatrix(self.matrix.copy())

    def apply(self, matrix: np.ndarray, qubits: Sequence[int]) -> None:
        """ρ → U ρ U† on ``qubits``."""
        qs = _check_qubits(qubits, self.num_qubits)
        m = self.num_qubits
        t = apply_matrix_to_tensor(self.tensor, matrix, qs)
        self.tensor = apply_matrix_to_tensor(t, np.conj(matrix), [q + m for q in qs])

    def apply_circuit(self, circuit: Circuit | Iterable[Instruction]) -> None:
        for name, qubits in _gates_of(circuit):
            self.apply(GATE_MATRICES[name], qubits)

    def apply_kraus(self, kraus: Sequence[np.ndarray], qubits: Sequence[int]) -> None:
        """ρ → Σ_i K_i ρ K_i† on ``qubits``."""
        qs = _check_qubits(qubits, self.num_qubits)
        m = self.num_qubits
        total = np.zeros_like(self.tensor)
        for k in kraus:
            t = apply_matrix_to_tensor(self.tensor, k, qs)
            total += apply_matrix_to_tensor(t, np.conj(k), [q + m for q in qs])
        self.tensor = total

    def apply_pauli_channel(self, probabilities: dict[str, float], qubits: Sequence[int]) -> None:
        """Apply Pauli string ``P`` (e.g. ``"XZ"``) with probability ``probabilities[P]``.

        The identity gets the remaining probability.
        """
        total = sum(probabilities.values())
        if total > 1 + 1e-12 or any(p < 0 for p in probabilities.values()):
            raise InvalidArgumentError("Pauli channel probabilities must be >= 0 and sum to <= 1")
        kraus = [np.sqrt(max(0.0, 1 - total)) * np.eye(2 ** len(qubits), dtype=complex)]
        for label, p in probabilities.items():
            if len(label) != len(qubits):
                raise InvalidArgumentError(f"Pauli string {label!r} does not match {len(qubits)} qubits")
            kraus.append(np.sqrt(p) * pauli_matrix(label))
        self.apply_kraus(kraus, qubits)

    def reduced_density_matrix(self, qubits: Sequence[int]) -> np.ndarray:
        return partial_trace(self.matrix, qubits)

    def entropy(self, qubits: Sequence[int]) -> float:
        return von_neumann_entropy(self.reduced_density_matrix(qubits)) if len(qubits) else 0.0

    def mutual_information(self, a: Sequence[int], b: Sequence[int]) -> float:
        return self.entropy(a) + self.entropy(b) - self.entropy(list(a) + list(b))


def _gates_of(circuit: Circuit | Iterable[Instruction]) -> Iterable[tuple[str, tuple[int, ...]]]:
    instructions = circuit.instructions if isinstance(circuit, Circuit) else circuit
    for ins in instructions:
        for group in ins.groups:
            yield ins.name, group


def pauli_matrix(label: str) -> np.ndarray:
    """Matrix of a Pauli string such as ``"XIZ"`` (first letter = most significant)."""
    out = np.ones((1, 1), dtype=complex)
    for ch in label:
        if ch not in "IXYZ":
            raise InvalidArgumentError(f"not a Pauli string: {label!r}")
        out = np.kron(out, GATE_MATRICES[ch])
    return out


def check_density_matrix(rho: np.ndarray, *, atol: float = 1e-8) -> None:
    """Raise unless ``rho`` is Hermitian, positive semidefinite, trace one and finite."""
    if not np.all(np.isfinite(rho)):
        raise InvalidArgumentError("density matrix has non-finite entries")
    if not np.allclose(rho, rho.conj().T, atol=atol):
        raise InvalidArgumentError("density matrix is not Hermitian")
    if abs(np.trace(rho) - 1) > atol:
        raise InvalidArgumentError(f"density matrix trace is {np.trace(rho).real:.6g}, not 1")
    if np.linalg.eigvalsh(rho).min() < -atol:
        raise InvalidArgumentError("density matrix is not positive semidefinite")


def partial_trace(rho: np.ndarray, keep: Sequence[int]) -> np.ndarray:
    """Reduced density matrix of qubits ``keep`` (in that order) of an m-qubit ρ."""
    r = np.asarray(rho, dtype=complex)
    m = int(round(np.log2(r.shape[0])))
    keep = _check_qubits(keep, m)
    rest = [q for q in range(m) if q not in keep]
    t = r.reshape((2,) * (2 * m))
    t = np.transpose(t, keep + rest + [m + q for q in keep] + [m + q for q in rest])
    dk, dr = 2 ** len(keep), 2 ** len(rest)
    return np.einsum("ajbj->ab", t.reshape(dk, dr, dk, dr))


def reverse_qubits(state: np.ndarray) -> np.ndarray:
    """A state vector (2^m,) or density matrix (2^m, 2^m) with the order of its qubits reversed.

    It converts between this module's order (the first qubit is the most significant bit of an
    index) and Qiskit's (qubit 0 is the least significant bit), in either direction: it is its
    own inverse.

    Examples:
        >>> reverse_qubits(np.array([0, 1, 0, 0])).real    # |01> (first qubit 0) is Qiskit's |10>
        array([0., 0., 1., 0.])
        >>> rho = np.kron(np.diag([1, 0]), np.eye(2) / 2)
        >>> bool(np.array_equal(reverse_qubits(rho), np.kron(np.eye(2) / 2, np.diag([1, 0]))))
        True
    """
    a = np.asarray(state, dtype=complex)
    if a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[0] != a.shape[1]):
        raise InvalidArgumentError(f"a state vector or a square density matrix is needed, got shape {a.shape}")
    dim = a.shape[0]
    if dim < 1 or dim & (dim - 1):
        raise InvalidArgumentError(f"a state of qubits has a power-of-two dimension, got {dim}")
    m = dim.bit_length() - 1
    if m < 2:
        return a.copy()
    axes = list(range(m))[::-1]
    if a.ndim == 1:
        return a.reshape((2,) * m).transpose(axes).reshape(dim)
    return a.reshape((2,) * (2 * m)).transpose(axes + [m + q for q in axes]).reshape(dim, dim)


def listed_order(state: Any) -> np.ndarray:
    """An input state as the engines take it: a :class:`qiskit.quantum_info.Statevector` or
    :class:`~qiskit.quantum_info.DensityMatrix` of qubits has its qubit i put on the i-th listed
    qubit (its Qiskit order reversed to the listed order, the first listed most significant);
    anything else is read as an array already in the listed order.

    Examples:
        >>> from qiskit.quantum_info import Statevector
        >>> listed_order(Statevector.from_label("01")).real   # qubit 0 is |1>: the first listed is |1>
        array([0., 0., 1., 0.])
        >>> listed_order([0, 0, 1, 0]).real
        array([0., 0., 1., 0.])
    """
    if hasattr(state, "dims") and any(c.__module__.startswith("qiskit.quantum_info") for c in type(state).__mro__):
        dims = tuple(state.dims())
        if any(d != 2 for d in dims):
            raise InvalidArgumentError(f"the engines simulate qubits; this {type(state).__name__} has dimensions {dims}")
        return reverse_qubits(np.asarray(state.data, dtype=complex))
    return np.asarray(state, dtype=complex)


def _as_density(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=complex)
    return np.outer(x, x.conj()) if x.ndim == 1 else x


def _psd_sqrt(rho: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(rho)
    # eigenvalues at rounding level (~1e-17) would contribute ~1e-9 after the square root
    w = np.where(w > 1e-13 * max(1.0, float(w.max(initial=0))), w, 0.0)
    return (v * np.sqrt(w)) @ v.conj().T


def fidelity(a: np.ndarray, b: np.ndarray) -> float:
    """Uhlmann fidelity F = (tr √(√a b √a))²; vectors are taken as pure states.

    Examples:
        >>> fidelity(np.array([1, 0]), np.eye(2) / 2)
        0.5
    """
    a = np.asarray(a, dtype=complex)
    b = np.asarray(b, dtype=complex)
    if a.ndim == 1 and b.ndim == 1:
        return float(abs(np.vdot(a, b)) ** 2)
    if a.ndim == 1 or b.ndim == 1:
        v, r = (a, b) if a.ndim == 1 else (b, a)
        return float(np.real(np.vdot(v, r @ v)))
    # ‖√a √b‖₁ from singular values: accurate also when a or b is (nearly) rank deficient
    sv = np.linalg.svd(_psd_sqrt(a) @ _psd_sqrt(b), compute_uv=False)
    return float(np.sum(sv) ** 2)


def von_neumann_entropy(rho: np.ndarray) -> float:
    """S(ρ) = −tr ρ log2 ρ in bits."""
    w = np.linalg.eigvalsh(_as_density(rho))
    w = w[w > 1e-12]
    return float(max(0.0, -np.sum(w * np.log2(w))))


def bloch_vector(rho: np.ndarray) -> tuple[float, float, float]:
    """(⟨X⟩, ⟨Y⟩, ⟨Z⟩) of a one-qubit state."""
    r = _as_density(rho)
    if r.shape != (2, 2):
        raise InvalidArgumentError("a Bloch vector needs a one-qubit state")
    x, y, z = (float(np.real(np.trace(r @ GATE_MATRICES[p]))) for p in "XYZ")
    return x, y, z


def density_from_bloch(x: float, y: float, z: float) -> np.ndarray:
    r = np.array([x, y, z], dtype=float)
    if not np.all(np.isfinite(r)) or np.linalg.norm(r) > 1 + 1e-9:
        raise InvalidArgumentError(f"a Bloch vector must be finite with length <= 1, got {tuple(r)}")
    return 0.5 * (GATE_MATRICES["I"] + x * GATE_MATRICES["X"] + y * GATE_MATRICES["Y"] + z * GATE_MATRICES["Z"])


def trace_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(0.5 * np.sum(np.abs(np.linalg.eigvalsh(_as_density(a) - _as_density(b)))))


def circuit_unitary(circuit: Circuit | Iterable[Instruction], qubits: Sequence[int]) -> np.ndarray:
    """The unitary a circuit applies to ``qubits`` (first = most significant).

    Raises if the circuit touches a qubit outside ``qubits``.
    """
    qs = list(qubits)
    pos = {q: i for i, q in enumerate(qs)}
    k = len(qs)
    u = np.eye(2**k, dtype=complex).reshape((2,) * k + (2**k,))
    for name, group in _gates_of(circuit):
        if any(q not in pos for q in group):
            raise InvalidArgumentError(f"circuit acts on qubit(s) {group} outside {qs}")
        u = apply_matrix_to_tensor(u, GATE_MATRICES[name], [pos[q] for q in group])
    return u.reshape(2**k, 2**k)


def equal_up_to_global_phase(u: np.ndarray, v: np.ndarray, *, atol: float = 1e-9) -> bool:
    """Whether u = e^{iθ} v for some θ."""
    u = np.asarray(u)
    v = np.asarray(v)
    if u.shape != v.shape:
        return False
    idx = np.unravel_index(np.argmax(np.abs(v)), v.shape)
    if abs(v[idx]) < atol:
        return bool(np.allclose(u, v, atol=atol))
    phase = u[idx] / v[idx]
    if abs(abs(phase) - 1) > 1e-6:
        return False
    return bool(np.allclose(u, phase * v, atol=atol))


def is_unitary(u: np.ndarray, *, atol: float = 1e-9) -> bool:
    u = np.asarray(u)
    return bool(np.allclose(u.conj().T @ u, np.eye(u.shape[0]), atol=atol))


# --- random inputs -----------------------------------------------------------------------


def random_state(num_qubits: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random pure state vector."""
    v = rng.normal(size=2**num_qubits) + 1j * rng.normal(size=2**num_qubits)
    return v / np.linalg.norm(v)


def random_density_matrix(num_qubits: int, rng: np.random.Generator, *, rank: int | None = None) -> np.ndarray:
    """A random mixed state (Hilbert–Schmidt measure for full rank)."""
    d = 2**num_qubits
    g = rng.normal(size=(d, rank or d)) + 1j * rng.normal(size=(d, rank or d))
    r = g @ g.conj().T
    return r / np.trace(r)


def purification(rho: np.ndarray) -> np.ndarray:
    """A state vector on (system, reference) whose system part is ``rho``.

    The reference has as many qubits as the system; system qubits come first.
    """
    w, v = np.linalg.eigh(np.asarray(rho, dtype=complex))
    w = np.clip(w, 0, None)
    d = rho.shape[0]
    psi = np.zeros((d, d), dtype=complex)
    for i in range(d):
        psi += np.sqrt(w[i]) * np.outer(v[:, i], np.eye(d)[i])
    vec = psi.ravel()
    return vec / np.linalg.norm(vec)


class DenseEngine:
    """State vectors in numpy behind the common :class:`~qclone.sim.engine.Engine` interface."""

    name = "dense"
    summary = f"state vectors in numpy: any gates, at most {MAX_STATEVECTOR_QUBITS} qubits"
    max_qubits: int | None = MAX_STATEVECTOR_QUBITS

    def prepare(self, num_qubits: int, input_state: np.ndarray, input_qubits: Sequence[int]) -> StateVector:
        """A pure input (a vector; a density matrix of rank 1 is accepted) on ``input_qubits``, |0⟩ elsewhere."""
        if num_qubits > MAX_STATEVECTOR_QUBITS:
            raise TooLargeError(f"{num_qubits} qubits exceed the dense engine's limit of {MAX_STATEVECTOR_QUBITS}")
        v = listed_order(input_state)
        if v.ndim == 2:
            check_density_matrix(v)
            w, vecs = np.linalg.eigh(v)
            if w[-1] < 1 - 1e-8:
                raise UnsupportedError("the dense engine keeps pure states; purify a mixed input with a reference")
            v = vecs[:, -1]
        return StateVector.from_input(v, num_qubits, input_qubits=input_qubits)

    def apply(self, state: StateVector, circuit: Circuit) -> None:
        state.apply_circuit(circuit)

    def copy(self, state: StateVector) -> StateVector:
        return state.copy()
