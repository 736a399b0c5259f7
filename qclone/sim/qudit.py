"""Dense pure states of qudits (all of one dimension d), for the qudit protocol.

The qubit engine :mod:`qclone.sim.exact` generalised to dimension d: a state of
m qudits is a tensor with one axis of size d per qudit, operators given as
:class:`~qclone.protocol.qudit.WeylSum` (sums of tensor products) are applied
term by term without building their matrices, and reduced density matrices
use the convention of the qubit engine (first listed qudit = most significant).

Examples:
    >>> import numpy as np
    >>> st = QuditState.from_input(3, np.array([1, 0, 0]), 2)
    >>> st.reduced_density_matrix([1]).real.round(3).tolist()[0]
    [1.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol.qudit import MAX_QUDIT_AMPLITUDES, WeylSum, apply_weyl_sum, check_dimension, max_entangled
from qclone.sim.exact import von_neumann_entropy


class QuditState:
    """A pure state of ``num_qudits`` qudits of dimension ``d``, changed in place."""

    def __init__(self, d: int, tensor: np.ndarray) -> None:
        self.d = check_dimension(d)
        t = np.asarray(tensor, dtype=complex)
        if t.size > MAX_QUDIT_AMPLITUDES:
            raise TooLargeError(f"{t.size} amplitudes exceed the dense qudit limit of {MAX_QUDIT_AMPLITUDES}")
        m = int(round(np.log(t.size) / np.log(self.d))) if t.size > 1 else 0
        if self.d**m != t.size:
            raise InvalidArgumentError(f"a state of qudits of dimension {d} needs d^m amplitudes, got {t.size}")
        norm = np.linalg.norm(t)
        if abs(norm - 1) > 1e-8:
            raise InvalidArgumentError(f"a state vector must have norm 1, got {norm:.6g}")
        self.num_qudits = m
        self.tensor = t.reshape((self.d,) * m)

    @classmethod
    def from_input(cls, d: int, input_state: np.ndarray, num_qudits: int, *, input_qudits: Sequence[int] | None = None) -> QuditState:
        """``input_state`` on ``input_qudits`` (default: the first ones), |0⟩ elsewhere."""
        d = check_dimension(d)
        v = np.asarray(input_state, dtype=complex).ravel()
        k = int(round(np.log(v.size) / np.log(d))) if v.size > 1 else 0
        if d**k != v.size:
            raise InvalidArgumentError(f"the input needs d^k amplitudes for d = {d}, got {v.size}")
        qs = list(range(k)) if input_qudits is None else [int(q) for q in input_qudits]
        if len(qs) != k or len(set(qs)) != k or any(not 0 <= q < num_qudits for q in qs):
            raise InvalidArgumentError("input qudits do not match the input state")
        if d**num_qudits > MAX_QUDIT_AMPLITUDES:
            raise TooLargeError(f"{num_qudits} qudits of dimension {d} exceed the dense limit of {MAX_QUDIT_AMPLITUDES} amplitudes")
        rest = np.zeros(d ** (num_qudits - k), dtype=complex)
        rest[0] = 1
        full = np.kron(v, rest).reshape((d,) * num_qudits)
        return cls(d, np.moveaxis(full, list(range(k)), qs))

    def copy(self) -> QuditState:
        return QuditState(self.d, self.tensor.copy())

    def prepare_pair(self, a: int, b: int) -> None:
        """Put qudits (a, b), which must be in |00⟩ and unentangled, into |Φ_d⟩."""
        index: list[int | slice] = [slice(None)] * self.num_qudits
        index[a] = index[b] = 0
        rest = self.tensor[tuple(index)]
        if abs(np.linalg.norm(rest) - 1) > 1e-9:
            raise InvalidArgumentError(f"qudits {a} and {b} are not both in |0⟩")
        pair = max_entangled(self.d).reshape(self.d, self.d)
        t = np.multiply.outer(pair, rest)  # axes a, b first
        self.tensor = np.moveaxis(t, [0, 1], [a, b])

    def apply(self, op: WeylSum, qudits: Sequence[int | tuple[int, int]]) -> None:
        """Apply ``op``; factor i acts on ``qudits[i]`` (a qudit, or a pair for a d²-dimensional factor)."""
        axes = [[q] if isinstance(q, (int, np.integer)) else list(q) for q in qudits]
        if len(axes) != op.num_factors:
            raise InvalidArgumentError(f"the operator has {op.num_factors} factors, {len(axes)} targets given")
        self.tensor = apply_weyl_sum(self.tensor, op, axes)

    def reduced_density_matrix(self, qudits: Sequence[int]) -> np.ndarray:
        qs = [int(q) for q in qudits]
        if len(set(qs)) != len(qs) or any(not 0 <= q < self.num_qudits for q in qs):
            raise InvalidArgumentError(f"bad qudits {qs}")
        rest = [q for q in range(self.num_qudits) if q not in qs]
        t = np.transpose(self.tensor, qs + rest).reshape(self.d ** len(qs), -1)
        return t @ t.conj().T

    def entropy(self, qudits: Sequence[int]) -> float:
        """Von Neumann entropy in bits (computed on the smaller side of the cut)."""
        qs = list(qudits)
        rest = [q for q in range(self.num_qudits) if q not in qs]
        side = qs if len(qs) <= len(rest) else rest
        return von_neumann_entropy(self.reduced_density_matrix(side)) if side else 0.0

    def mutual_information(self, a: Sequence[int], b: Sequence[int]) -> float:
        return self.entropy(a) + self.entropy(b) - self.entropy(list(a) + list(b))
