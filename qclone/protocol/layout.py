"""Register layout of the encrypted-cloning protocol.

One place defines where every qubit lives. Qubits are numbered

    A = 0,  S_j = j (j = 1..n),  N_j = n + j (j = 1..n),  R = 2n + 1 (optional)

which is also the order of Qiskit's flat qubit list when the registers
``A``, ``S``, ``N`` (and ``R``) are added in that order. ``S_j`` is the j-th
encrypted clone (1-based in the physics, ``S[j-1]`` in a Qiskit register);
``N_1..N_n`` together are the decryption key. ``R`` is an outside reference
qubit that the input may be entangled with; it is never acted on by the
protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qclone.errors import InvalidArgumentError, UnsupportedError

#: What a decryption targets: a clone index ``j`` in ``1..n`` or ``"A"``.
DecryptTarget = int | Literal["A"]

_N1_WARNING = (
    "with a single clone (n = 1) the lone clone S_1 is not maximally mixed: "
    "it carries the Y component of the input's Bloch vector; use n >= 2 for encryption "
    "that hides the state from a single clone"
)


def single_clone_warning(clones: int) -> str | None:
    """The warning every tool shows when n = 1 is used, else ``None``.

    Examples:
        >>> single_clone_warning(2) is None
        True
        >>> "Y component" in single_clone_warning(1)
        True
    """
    return _N1_WARNING if clones == 1 else None


def check_clones(clones: object) -> int:
    """Validate a number of clones and return it as ``int``.

    Raises:
        InvalidArgumentError: if ``clones`` is not an integer >= 1.
    """
    if isinstance(clones, bool) or not isinstance(clones, int):
        raise InvalidArgumentError(f"the number of clones must be an integer, got {clones!r}")
    if clones < 1:
        raise InvalidArgumentError(f"the number of clones must be at least 1, got {clones}")
    return clones


@dataclass(frozen=True)
class Layout:
    """Qubit indices of one encrypted-cloning instance.

    Args:
        clones: the number n of encrypted clones (>= 1).
        reference: whether an outside reference qubit ``R`` is appended.

    Examples:
        >>> lay = Layout(3)
        >>> lay.A, lay.S(1), lay.N(3), lay.num_qubits
        (0, 1, 6, 7)
        >>> Layout(2, reference=True).labels
        ('A', 'S1', 'S2', 'N1', 'N2', 'R')
        >>> Layout(2)
        Layout(clones=2, reference=False)
    """

    clones: int
    reference: bool = False

    def __post_init__(self) -> None:
        check_clones(self.clones)

    A = 0

    @property
    def n(self) -> int:
        return self.clones

    def S(self, j: int) -> int:  # noqa: N802 - register names are physics notation
        """Index of signal qubit S_j (the j-th encrypted clone), j = 1..n."""
        return self._check_j(j)

    def N(self, j: int) -> int:  # noqa: N802
        """Index of key qubit N_j, j = 1..n."""
        return self.clones + self._check_j(j)

    @property
    def R(self) -> int:  # noqa: N802
        """Index of the outside reference qubit."""
        if not self.reference:
            raise UnsupportedError("this layout has no reference qubit R")
        return 2 * self.clones + 1

    @property
    def signals(self) -> tuple[int, ...]:
        return tuple(range(1, self.clones + 1))

    @property
    def keys(self) -> tuple[int, ...]:
        return tuple(range(self.clones + 1, 2 * self.clones + 1))

    @property
    def num_qubits(self) -> int:
        return 2 * self.clones + 1 + int(self.reference)

    @property
    def labels(self) -> tuple[str, ...]:
        n = self.clones
        names = ["A"] + [f"S{j}" for j in range(1, n + 1)] + [f"N{j}" for j in range(1, n + 1)]
        if self.reference:
            names.append("R")
        return tuple(names)

    def index_of(self, label: str) -> int:
        """Index of a qubit given its label (``"A"``, ``"S3"``, ``"N1"``, ``"R"``)."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise InvalidArgumentError(
                f"unknown qubit {label!r}; expected one of A, S1..S{self.clones}, N1..N{self.clones}"
                + (", R" if self.reference else "")
            ) from None

    def check_target(self, target: object) -> DecryptTarget:
        """Validate a decryption target (``1..n`` or ``"A"``, the latter only for even n)."""
        if isinstance(target, str):
            if target.upper() == "A":
                if self.clones % 2:
                    raise UnsupportedError(
                        f"decrypting A needs an even number of clones (got n = {self.clones}); "
                        "for odd n the set {A, N_1..N_n} is only partially informative"
                    )
                return "A"
            try:
                target = int(target)
            except ValueError:
                raise InvalidArgumentError(
                    f"decryption target must be a clone number 1..{self.clones} or 'A', got {target!r}"
                ) from None
        if isinstance(target, bool) or not isinstance(target, int):
            raise InvalidArgumentError(f"decryption target must be an integer or 'A', got {target!r}")
        return self._check_j(target)

    def output_qubit(self, target: DecryptTarget) -> int:
        """Where the input state ends after decrypting ``target``."""
        target = self.check_target(target)
        return self.A if target == "A" else self.S(target)

    def _check_j(self, j: int) -> int:
        if isinstance(j, bool) or not isinstance(j, int) or not 1 <= j <= self.clones:
            raise InvalidArgumentError(f"clone index must be in 1..{self.clones}, got {j!r}")
        return j
