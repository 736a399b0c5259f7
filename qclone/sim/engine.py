"""The one interface every simulation engine offers, and the engines qclone has.

An :class:`Engine` prepares a state (a k-qubit input on chosen qubits, |0⟩ on
every other qubit), applies circuits to it, and the state (a :class:`SimState`)
answers questions about small sets of qubits: reduced density matrices,
entropies, mutual information. Every caller that simulates goes through this
interface (``qclone verify``, :mod:`qclone.analysis.verify`,
:mod:`qclone.analysis.composition`, :mod:`qclone.analysis.demo`); the
``--engine`` option of the command line names one of :data:`ENGINES`:

* ``dense`` — state vectors in numpy (:mod:`qclone.sim.exact`): any gates, up to 26 qubits;
* ``core`` — a Clifford on a dense core (:mod:`qclone.sim.core`): Clifford circuits, any
  number of qubits, inputs of up to 12 qubits;
* ``heisenberg`` — Pauli pull-backs, bit-parallel (:mod:`qclone.sim.heisenberg`): Clifford
  circuits, any number of qubits, reduced states of up to 6 qubits;
* ``stabilizer`` — stim's tableau simulator (:mod:`qclone.sim.stabilizer`): Clifford circuits,
  stabilizer inputs, up to 2001 qubits.

(``qclone verify --engine structured`` is not a state engine: it pulls the checked Paulis
through whole stages of the protocol, :mod:`qclone.sim.structured`.)

Every engine is exact (no sampling) and each is tested against the dense one.

Examples:
    >>> import numpy as np
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> lay = Layout(3)
    >>> for engine in ENGINES.values():
    ...     st = engine.prepare(lay.num_qubits, np.array([1, 0]), [lay.A()])
    ...     engine.apply(st, protocol_circuit(lay, decrypt=2))
    ...     print(engine.name, round(float(st.reduced_density_matrix([lay.S(2)])[0, 0].real), 12))
    dense 1.0
    core 1.0
    heisenberg 1.0
    stabilizer 1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from qclone.errors import InvalidArgumentError, TooLargeError, UnsupportedError, is_int
from qclone.protocol.circuit import Circuit
from qclone.sim.core import CoreEngine
from qclone.sim.exact import DenseEngine, check_density_matrix, listed_order, pauli_matrix, reverse_qubits, von_neumann_entropy
from qclone.sim.heisenberg import PauliBatch
from qclone.sim.stabilizer import StabilizerEngine


@runtime_checkable
class SimState(Protocol):
    """What a simulated state answers. A numpy answer about a list of qubits has the first
    listed qubit as the most significant bit (``np.kron`` order); :func:`reduced_state` gives
    the same as a Qiskit ``DensityMatrix`` in Qiskit's order (the i-th listed qubit is qubit i)."""

    @property
    def num_qubits(self) -> int: ...

    def reduced_density_matrix(self, qubits: Sequence[int]) -> np.ndarray: ...

    def entropy(self, qubits: Sequence[int]) -> float: ...

    def mutual_information(self, a: Sequence[int], b: Sequence[int]) -> float: ...


S = TypeVar("S", bound=SimState)


@runtime_checkable
class Engine(Protocol[S]):
    """An engine: prepares states, applies circuits to them, and says what it serves.

    Attributes:
        name: the name callers and ``--engine`` use.
        summary: one line saying what runs and which sizes it serves.
        max_qubits: most qubits a state may have (``None``: no fixed limit).
    """

    name: str
    summary: str
    max_qubits: int | None

    def prepare(self, num_qubits: int, input_state: np.ndarray, input_qubits: Sequence[int]) -> S:
        """``input_state`` on ``input_qubits``, |0⟩ on every other qubit: a Qiskit ``Statevector`` or
        ``DensityMatrix`` (its qubit i on ``input_qubits[i]``, Qiskit's order), or a numpy vector or
        density matrix with the first input qubit the most significant bit (see
        :func:`qclone.sim.exact.listed_order`)."""
        ...

    def apply(self, state: S, circuit: Circuit) -> None:
        """Apply ``circuit`` (qubit i of the circuit is qubit i of the state) in place."""
        ...

    def copy(self, state: S) -> S:
        """An independent copy of ``state``."""
        ...


# --- the Heisenberg engine: a state is its input and the circuits applied so far --------------

#: Most qubits in a set whose reduced density matrix the Heisenberg engine builds (4^q - 1 pull-backs).
MAX_HEISENBERG_SET = 6
#: Most input qubits of the Heisenberg engine (the input is kept dense).
MAX_HEISENBERG_INPUT = 12


class HeisenbergState:
    """A state ``U (ρ_in ⊗ |0…0⟩⟨0…0|) U†`` kept as its input ρ_in and the circuits of U.

    A question about a set Q of q qubits pulls all 4^q Paulis P on Q back
    through U at once (:class:`~qclone.sim.heisenberg.PauliBatch`, bit-parallel
    over the operators): ⟨P⟩ = 0 if U†PU has an X or Y on a qubit that starts in
    |0⟩, else ±tr(ρ_in L) for its part L on the input qubits. Memory is linear in
    the number of qubits, time linear in the circuits; no tableau is built.
    """

    def __init__(self, num_qubits: int, input_state: np.ndarray, input_qubits: np.ndarray) -> None:
        self._num_qubits = num_qubits
        self._input = input_state
        self._input_qubits = input_qubits
        self._circuits: list[Circuit] = []

    @property
    def num_qubits(self) -> int:
        return self._num_qubits

    def apply(self, circuit: Circuit) -> None:
        """Append ``circuit`` to U (nothing is computed until a question is asked)."""
        if not isinstance(circuit, Circuit):
            raise UnsupportedError("the Heisenberg engine applies qclone Circuits")
        if circuit.num_qubits > self._num_qubits:
            raise InvalidArgumentError(f"a circuit of {circuit.num_qubits} qubits on a state of {self._num_qubits}")
        self._circuits.append(circuit)

    def copy(self) -> HeisenbergState:
        out = HeisenbergState(self._num_qubits, self._input, self._input_qubits)
        out._circuits = list(self._circuits)
        return out

    def expectations(self, qubits: Sequence[int]) -> tuple[list[str], np.ndarray]:
        """Every Pauli on ``qubits`` (letters, first = first qubit) and its expectation value."""
        qs = [int(q) for q in qubits]
        if len(set(qs)) != len(qs) or any(not 0 <= q < self._num_qubits for q in qs):
            raise InvalidArgumentError(f"qubits must be distinct and in 0..{self._num_qubits - 1}, got {qs}")
        q = len(qs)
        if q > MAX_HEISENBERG_SET:
            raise TooLargeError(f"the Heisenberg engine builds reduced states of at most {MAX_HEISENBERG_SET} qubits, got {q}")
        codes = np.arange(1, 4**q)
        letters = ["".join("IXYZ"[(int(c) >> (2 * (q - 1 - i))) & 3] for i in range(q)) for c in codes]
        batch = PauliBatch.from_letters(self._num_qubits, [{t: ch for t, ch in zip(qs, lab) if ch != "I"} for lab in letters])
        for circuit in reversed(self._circuits):
            batch.pull_back(circuit)
        inputs = self._input_qubits
        others = np.setdiff1d(np.arange(self._num_qubits), inputs)
        alive = ~batch.any_x(others) if others.size else np.ones(batch.size, dtype=bool)
        k = inputs.size
        xmask = np.zeros(batch.size, dtype=np.int64)
        zmask = np.zeros(batch.size, dtype=np.int64)
        ys = np.zeros(batch.size, dtype=np.int64)
        for i, t in enumerate(inputs.tolist()):
            xb, zb = batch.x_bits(t), batch.z_bits(t)
            xmask |= xb.astype(np.int64) << (k - 1 - i)
            zmask |= zb.astype(np.int64) << (k - 1 - i)
            ys += xb & zb
        signs = batch.signs()
        rho = self._input if self._input.ndim == 2 else np.outer(self._input, self._input.conj())
        b = np.arange(2**k)
        values = np.zeros(batch.size)
        for c in np.flatnonzero(alive).tolist():
            # tr(ρ · i^#Y X^x Z^z) = i^#Y Σ_b (-1)^{|b & z|} ρ[b, b ^ x]
            parity = np.bitwise_count(b & zmask[c]) & 1
            value = (1j ** int(ys[c])) * np.sum(np.where(parity, -1, 1) * rho[b, b ^ xmask[c]])
            values[c] = signs[c] * float(np.real(value))
        return ["I" * q, *letters], np.concatenate([[1.0], values])

    def reduced_density_matrix(self, qubits: Sequence[int]) -> np.ndarray:
        """ρ_Q = 2^-q Σ_P ⟨P⟩ P over the 4^q Paulis P on Q."""
        if not len(qubits):
            return np.ones((1, 1), dtype=complex)
        letters, values = self.expectations(qubits)
        rho = sum(v * pauli_matrix(lab) for lab, v in zip(letters, values) if v)
        return np.asarray(rho, dtype=complex) / 2 ** len(qubits)

    def entropy(self, qubits: Sequence[int]) -> float:
        return von_neumann_entropy(self.reduced_density_matrix(qubits)) if len(qubits) else 0.0

    def mutual_information(self, a: Sequence[int], b: Sequence[int]) -> float:
        return self.entropy(a) + self.entropy(b) - self.entropy(list(a) + list(b))


class HeisenbergEngine:
    """Pauli pull-backs (:mod:`qclone.sim.heisenberg`) behind :class:`Engine`; Clifford circuits only.

    Examples:
        >>> from qclone.protocol import Layout, protocol_circuit
        >>> lay = Layout(1000)
        >>> st = HEISENBERG.prepare(lay.num_qubits, np.array([0.6, 0.8]), [lay.A()])
        >>> HEISENBERG.apply(st, protocol_circuit(lay, decrypt=777))
        >>> np.round(st.reduced_density_matrix([lay.S(777)]).real, 12)
        array([[0.36, 0.48],
               [0.48, 0.64]])
    """

    name = "heisenberg"
    summary = (f"Pauli pull-backs, bit-parallel: any number of qubits, Clifford circuits, "
               f"sets of at most {MAX_HEISENBERG_SET} qubits")
    max_qubits: int | None = None

    def prepare(self, num_qubits: int, input_state: np.ndarray, input_qubits: Sequence[int]) -> HeisenbergState:
        if not is_int(num_qubits) or num_qubits < 1:
            raise InvalidArgumentError(f"num_qubits must be an integer >= 1, got {num_qubits!r}")
        qs = np.asarray(list(input_qubits), dtype=np.int64)
        if qs.size != np.unique(qs).size or (qs.size and (qs.min() < 0 or qs.max() >= num_qubits)):
            raise InvalidArgumentError(f"input qubits must be distinct and in 0..{num_qubits - 1}, got {qs.tolist()}")
        if qs.size > MAX_HEISENBERG_INPUT:
            raise TooLargeError(f"the Heisenberg engine keeps inputs of at most {MAX_HEISENBERG_INPUT} qubits, got {qs.size}")
        state = listed_order(input_state)
        d = 2**qs.size
        if state.shape == (d,):
            norm = np.linalg.norm(state)
            if not np.isfinite(norm) or abs(norm - 1) > 1e-8:
                raise InvalidArgumentError(f"the input state vector must have norm 1, got {norm:.6g}")
        elif state.shape == (d, d):
            check_density_matrix(state)
        else:
            raise InvalidArgumentError(f"an input of {qs.size} qubits is a vector of {d} or a {d} x {d} matrix, got {state.shape}")
        return HeisenbergState(int(num_qubits), state.copy(), qs)

    def apply(self, state: HeisenbergState, circuit: Circuit) -> None:
        state.apply(circuit)

    def copy(self, state: HeisenbergState) -> HeisenbergState:
        return state.copy()


DENSE = DenseEngine()
CORE = CoreEngine()
HEISENBERG = HeisenbergEngine()
STABILIZER = StabilizerEngine()

#: Every engine by name (what ``--engine`` takes).
ENGINES: Mapping[str, Engine[Any]] = {e.name: e for e in (DENSE, CORE, HEISENBERG, STABILIZER)}


def get_engine(name: str) -> Engine[Any]:
    """The engine called ``name`` (one of :data:`ENGINES`).

    Raises:
        InvalidArgumentError: for an unknown name (the message lists the names).

    Examples:
        >>> get_engine("core").name
        'core'
    """
    try:
        return ENGINES[name]
    except (KeyError, TypeError):
        raise InvalidArgumentError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}") from None


def reduced_state(state: SimState, qubits: Sequence[int]) -> Any:
    """The reduced state of ``qubits`` as a :class:`qiskit.quantum_info.DensityMatrix` in Qiskit's
    order: ``qubits[i]`` is its qubit i (the least significant bit of an index for i = 0).

    Examples:
        >>> from qiskit.quantum_info import DensityMatrix, Statevector
        >>> st = DENSE.prepare(3, Statevector.from_label("01"), [0, 2])   # qubit 0 of the input -> qubit 0 here
        >>> reduced_state(st, [0, 2]) == DensityMatrix.from_label("01")
        True
        >>> reduced_state(st, [2, 0]) == DensityMatrix.from_label("10")
        True
    """
    from qiskit.quantum_info import DensityMatrix

    return DensityMatrix(reverse_qubits(state.reduced_density_matrix(list(qubits))))


__all__ = [
    "CORE", "DENSE", "ENGINES", "HEISENBERG", "MAX_HEISENBERG_INPUT", "MAX_HEISENBERG_SET", "STABILIZER",
    "Engine", "HeisenbergEngine", "HeisenbergState", "SimState", "get_engine", "reduced_state",
]
