"""Where every qubit lives when a k-qubit register is encrypted-cloned.

Each input qubit ``A_i`` (i = 0..k-1) gets its own n signal qubits
``S_i,1..S_i,n`` and n key qubits ``N_i,1..N_i,n``: k independent copies of the
one-qubit protocol, one per register qubit. The numbering is *clone-major*:
copy ``i`` of one-qubit index ``q`` (``A = 0``, ``S_j = j``, ``N_j = n + j`` in
:class:`~qclone.protocol.Layout`) is qubit ``q·k + i``::

    A_i = i,   S_i,j = j·k + i,   N_i,j = (n + j)·k + i,   R_r = (2n + 1)·k + r

so clone j of the whole register, ``S_0,j .. S_k-1,j``, is the contiguous block
``j·k .. j·k + k - 1``, the registers are ``A`` (k qubits), ``S`` (n·k), ``N``
(n·k) and optionally ``R`` (outside reference qubits, never acted on), and for
k = 1 every index equals the one-qubit :class:`~qclone.protocol.Layout`.

Labels: ``A0``, ``S0_1`` (input qubit 0, clone 1), ``N0_1``, ``R0``.

Examples:
    >>> lay = RegisterLayout(qubits=2, clones=3)
    >>> lay.A(1), lay.S(0, 1), lay.S(1, 3), lay.N(0, 1), lay.num_qubits
    (1, 2, 7, 8, 14)
    >>> lay.labels[:6]
    ('A0', 'A1', 'S0_1', 'S1_1', 'S0_2', 'S1_2')
    >>> lay.clone(2)
    (4, 5)
    >>> lay.index_of("N1_3")
    13
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qclone.errors import InvalidArgumentError, UnsupportedError
from qclone.protocol.layout import DecryptTarget, Layout, check_clones

_LABEL = re.compile(r"^(A|R)(\d+)$|^(S|N)(\d+)_(\d+)$")


def check_register_size(qubits: object) -> int:
    """Validate a register size k (an integer >= 1)."""
    if isinstance(qubits, bool) or not isinstance(qubits, int):
        raise InvalidArgumentError(f"the register size must be an integer, got {qubits!r}")
    if qubits < 1:
        raise InvalidArgumentError(f"the register must have at least 1 qubit, got {qubits}")
    return qubits


@dataclass(frozen=True)
class RegisterLayout:
    """Qubit indices of a k-qubit register, each qubit encrypted into n clones.

    Args:
        qubits: the register size k (>= 1).
        clones: the number n of encrypted clones of every register qubit (>= 1).
        references: outside reference qubits ``R0..`` appended at the end
            (never touched by the protocol; an input may be entangled with them).
    """

    qubits: int
    clones: int
    references: int = 0

    def __post_init__(self) -> None:
        check_register_size(self.qubits)
        check_clones(self.clones)
        if isinstance(self.references, bool) or not isinstance(self.references, int) or self.references < 0:
            raise InvalidArgumentError(f"references must be an integer >= 0, got {self.references!r}")

    @property
    def k(self) -> int:
        return self.qubits

    @property
    def n(self) -> int:
        return self.clones

    @property
    def single(self) -> Layout:
        """The one-qubit layout every register qubit uses."""
        return Layout(self.clones)

    def A(self, i: int) -> int:  # noqa: N802 - physics notation
        """Input qubit i = 0..k-1."""
        return self._check_i(i)

    def S(self, i: int, j: int) -> int:  # noqa: N802
        """Clone j = 1..n of input qubit i."""
        return self._check_j(j) * self.qubits + self._check_i(i)

    def N(self, i: int, j: int) -> int:  # noqa: N802
        """Key qubit j = 1..n of input qubit i."""
        return (self.clones + self._check_j(j)) * self.qubits + self._check_i(i)

    def R(self, r: int) -> int:  # noqa: N802
        """Outside reference qubit r = 0..references-1."""
        if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < self.references:
            raise UnsupportedError(f"reference index must be in 0..{self.references - 1}, got {r!r}"
                                   if self.references else "this layout has no reference qubits")
        return (2 * self.clones + 1) * self.qubits + r

    @property
    def inputs(self) -> tuple[int, ...]:
        """The input register A_0..A_k-1."""
        return tuple(range(self.qubits))

    def clone(self, j: int) -> tuple[int, ...]:
        """Clone j of the whole register: S_0,j .. S_k-1,j."""
        return tuple(range(self._check_j(j) * self.qubits, (j + 1) * self.qubits))

    def key(self, j: int) -> tuple[int, ...]:
        """Key qubits N_0,j .. N_k-1,j (the j-th key qubit of every register qubit)."""
        start = (self.clones + self._check_j(j)) * self.qubits
        return tuple(range(start, start + self.qubits))

    @property
    def signals(self) -> tuple[int, ...]:
        return tuple(range(self.qubits, (self.clones + 1) * self.qubits))

    @property
    def keys(self) -> tuple[int, ...]:
        return tuple(range((self.clones + 1) * self.qubits, (2 * self.clones + 1) * self.qubits))

    @property
    def reference_qubits(self) -> tuple[int, ...]:
        start = (2 * self.clones + 1) * self.qubits
        return tuple(range(start, start + self.references))

    @property
    def num_qubits(self) -> int:
        return (2 * self.clones + 1) * self.qubits + self.references

    @property
    def labels(self) -> tuple[str, ...]:
        k, n = self.qubits, self.clones
        names = [f"A{i}" for i in range(k)]
        names += [f"S{i}_{j}" for j in range(1, n + 1) for i in range(k)]
        names += [f"N{i}_{j}" for j in range(1, n + 1) for i in range(k)]
        names += [f"R{r}" for r in range(self.references)]
        return tuple(names)

    def label(self, index: int) -> str:
        """The label of qubit ``index`` (computed, so cheap for any size)."""
        k, n = self.qubits, self.clones
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.num_qubits:
            raise InvalidArgumentError(f"qubit index must be in 0..{self.num_qubits - 1}, got {index!r}")
        q, i = divmod(int(index), k)
        if q == 0:
            return f"A{i}"
        if q <= n:
            return f"S{i}_{q}"
        if q <= 2 * n:
            return f"N{i}_{q - n}"
        return f"R{int(index) - (2 * n + 1) * k}"

    def index_of(self, label: str) -> int:
        """Index of a qubit given its label (``"A0"``, ``"S1_3"``, ``"N0_2"``, ``"R0"``)."""
        m = _LABEL.match(str(label).strip())
        if not m:
            raise InvalidArgumentError(
                f"unknown qubit label {label!r}; expected A<i>, S<i>_<j>, N<i>_<j> or R<r> "
                f"(i = 0..{self.qubits - 1}, j = 1..{self.clones})"
            )
        if m.group(1) == "A":
            return self.A(int(m.group(2)))
        if m.group(1) == "R":
            return self.R(int(m.group(2)))
        i, j = int(m.group(4)), int(m.group(5))
        return self.S(i, j) if m.group(3) == "S" else self.N(i, j)

    def embedding(self, i: int) -> np.ndarray:
        """Where copy ``i`` puts each qubit of the one-qubit layout: ``q -> q·k + i``."""
        return np.arange(2 * self.clones + 1, dtype=np.int64) * self.qubits + self._check_i(i)

    def check_target(self, target: object) -> DecryptTarget:
        """Validate a decryption target for the whole register (clone 1..n, or ``"A"`` for even n)."""
        return self.single.check_target(target)

    def output_qubits(self, target: DecryptTarget) -> tuple[int, ...]:
        """Where the register ends after decrypting ``target``: clone j, or A."""
        target = self.check_target(target)
        return self.inputs if target == "A" else self.clone(target)

    def _check_i(self, i: int) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.qubits:
            raise InvalidArgumentError(f"register qubit index must be in 0..{self.qubits - 1}, got {i!r}")
        return int(i)

    def _check_j(self, j: int) -> int:
        if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 1 <= j <= self.clones:
            raise InvalidArgumentError(f"clone index must be in 1..{self.clones}, got {j!r}")
        return int(j)
