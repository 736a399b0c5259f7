"""Where every qubit lives: the one register layout of encrypted cloning.

A :class:`Layout` describes a k-qubit input register whose every qubit is
encrypted into n clones with its own n key qubits (k = 1, the default, is the
plain protocol). Each input qubit ``A_i`` (i = 0..k-1) gets signal qubits
``S_i,1..S_i,n`` and key qubits ``N_i,1..N_i,n``: k independent copies of the
one-qubit protocol. The numbering is *clone-major*::

    A_i = i,   S_i,j = j·k + i,   N_i,j = (n + j)·k + i,   R_r = (2n + 1)·k + r

so for k = 1 it is ``A = 0, S_j = j, N_j = n + j, R = 2n + 1``; clone j of the
whole register, ``S_0,j .. S_k-1,j``, is the contiguous block
``j·k .. j·k + k - 1``. This is also the order of Qiskit's flat qubit list when
the registers ``A`` (k), ``S`` (n·k), ``N`` (n·k) and ``R`` (the outside
reference qubits, never acted on) are added in that order (:attr:`Layout.registers`).
``S_j`` is the j-th encrypted clone (1-based in the physics, ``S[j-1]`` in a
Qiskit register); ``N_1..N_n`` together are the decryption key.

Index methods take the clone number first and the register qubit ``i``
second, defaulting to 0, so the plain protocol reads as the physics:
``lay.A()``, ``lay.S(j)``, ``lay.N(j)``, ``lay.R()``; the plural forms
(:meth:`Layout.clone`, :meth:`Layout.key`, :attr:`Layout.inputs`) give the
whole register.

Labels: ``A``, ``S3``, ``N1``, ``R`` for the plain protocol; ``A0``, ``S0_1``
(register qubit 0, clone 1), ``N0_1``, ``R0`` for k > 1 (the long form is
accepted for every layout).

Examples:
    >>> lay = Layout(3)
    >>> lay.A(), lay.S(1), lay.N(3), lay.num_qubits
    (0, 1, 6, 7)
    >>> Layout(2, references=1).labels
    ('A', 'S1', 'S2', 'N1', 'N2', 'R')
    >>> reg = Layout(3, qubits=2)
    >>> reg.A(1), reg.S(1, i=0), reg.S(3, i=1), reg.N(1), reg.num_qubits
    (1, 2, 7, 8, 14)
    >>> reg.labels[:6], reg.clone(2)
    (('A0', 'A1', 'S0_1', 'S1_1', 'S0_2', 'S1_2'), (4, 5))
    >>> reg.index_of("N1_3")
    13
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from qclone.errors import InvalidArgumentError, UnsupportedError, is_int

#: What a decryption targets: a clone index ``j`` in ``1..n`` or ``"A"``.
DecryptTarget = int | Literal["A"]

_N1_WARNING = (
    "with a single clone (n = 1) the lone clone S_1 is not maximally mixed: it carries {what}; "
    "use n >= 2 for encryption that hides the state from a single clone"
)
_N1_QUBIT = "the Y component of the input's Bloch vector"
_N1_QUDIT = ("the input's expectation values of the d - 1 commuting Weyl operators X^a Z^-a (a = 1..{m}, d = {d}), "
             "the qudit analogue of the qubit's Y component")

_LONG_LABEL = re.compile(r"^(A|R)(\d+)$|^(S|N)(\d+)_(\d+)$")
_SHORT_LABEL = re.compile(r"^(A|R)$|^(S|N)(\d+)$")


def single_clone_warning(clones: int, dimension: int = 2) -> str | None:
    """The warning every tool shows when n = 1 is used, else ``None``.

    For qubits (``dimension`` 2) the lone clone S_1 holds exactly the Y component of
    the input's Bloch vector. For qudits of dimension d its state is
    I/d + (1/d) Σ_a ⟨W_a⟩_ψ W_a† with W_a = X^a Z^-a (a = 1..d−1): the input's
    expectation values of those d − 1 commuting Weyl operators, and nothing else
    (for d = 2, XZ = −iY).

    Examples:
        >>> single_clone_warning(2) is None
        True
        >>> "Y component" in single_clone_warning(1)
        True
        >>> "X^a Z^-a (a = 1..2, d = 3)" in single_clone_warning(1, dimension=3)
        True
    """
    if clones != 1:
        return None
    what = _N1_QUBIT if dimension == 2 else _N1_QUDIT.format(m=dimension - 1, d=dimension)
    return _N1_WARNING.format(what=what)


def check_clones(clones: object) -> int:
    """Validate a number of clones and return it as ``int``.

    Raises:
        InvalidArgumentError: if ``clones`` is not an integer >= 1.
    """
    if not is_int(clones):
        raise InvalidArgumentError(f"the number of clones must be an integer, got {clones!r}")
    if clones < 1:
        raise InvalidArgumentError(f"the number of clones must be at least 1, got {clones}")
    return int(clones)


def check_register_size(qubits: object) -> int:
    """Validate a register size k (an integer >= 1) and return it as ``int``."""
    if not is_int(qubits):
        raise InvalidArgumentError(f"the register size must be an integer, got {qubits!r}")
    if qubits < 1:
        raise InvalidArgumentError(f"the register must have at least 1 qubit, got {qubits}")
    return int(qubits)


@dataclass(frozen=True)
class Layout:
    """Qubit indices of one encrypted-cloning instance: k register qubits, n clones each.

    Args:
        clones: the number n of encrypted clones of every register qubit (>= 1).
        qubits: the register size k (>= 1; 1 is the plain protocol).
        references: outside reference qubits appended at the end (never
            touched by the protocol; an input may be entangled with them).

    Examples:
        >>> Layout(2)
        Layout(clones=2, qubits=1, references=0)
        >>> Layout(2) == Layout(2, qubits=1, references=0)
        True
    """

    clones: int
    qubits: int = field(default=1, kw_only=True)
    references: int = field(default=0, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "clones", check_clones(self.clones))
        object.__setattr__(self, "qubits", check_register_size(self.qubits))
        if not is_int(self.references) or self.references < 0:
            raise InvalidArgumentError(f"references must be an integer >= 0, got {self.references!r}")
        object.__setattr__(self, "references", int(self.references))

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        """The number of clones."""
        return self.clones

    @property
    def k(self) -> int:
        """The register size."""
        return self.qubits

    @property
    def num_qubits(self) -> int:
        return (2 * self.clones + 1) * self.qubits + self.references

    @property
    def registers(self) -> tuple[tuple[str, int], ...]:
        """Named registers ``A`` (k), ``S`` (n·k), ``N`` (n·k) and, if any, ``R``, in qubit order."""
        k, n = self.qubits, self.clones
        regs = [("A", k), ("S", n * k), ("N", n * k)]
        if self.references:
            regs.append(("R", self.references))
        return tuple(regs)

    # ------------------------------------------------------------------ one qubit
    def A(self, i: int = 0) -> int:  # noqa: N802 - register names are physics notation
        """Input qubit A_i, i = 0..k-1."""
        return self._check_i(i)

    def S(self, j: int, i: int = 0) -> int:  # noqa: N802 - physics notation
        """Signal qubit S_i,j: clone j = 1..n of register qubit i."""
        return self._check_j(j) * self.qubits + self._check_i(i)

    def N(self, j: int, i: int = 0) -> int:  # noqa: N802 - physics notation
        """Key qubit N_i,j: key qubit j = 1..n of register qubit i."""
        return (self.clones + self._check_j(j)) * self.qubits + self._check_i(i)

    def R(self, r: int = 0) -> int:  # noqa: N802 - physics notation
        """Outside reference qubit r = 0..references-1."""
        if not is_int(r) or not 0 <= r < self.references:
            raise UnsupportedError(
                f"reference index must be in 0..{self.references - 1}, got {r!r}"
                if self.references
                else "this layout has no reference qubit R"
            )
        return (2 * self.clones + 1) * self.qubits + int(r)

    def output_qubit(self, target: DecryptTarget, i: int = 0) -> int:
        """Where register qubit i ends after decrypting ``target``: S_i,j, or A_i."""
        target = self.check_target(target)
        return self.A(i) if target == "A" else self.S(target, i)

    # ------------------------------------------------------------------ whole registers
    @property
    def inputs(self) -> tuple[int, ...]:
        """The input register A_0..A_k-1."""
        return tuple(range(self.qubits))

    def clone(self, j: int) -> tuple[int, ...]:
        """Clone j of the whole register: S_0,j .. S_k-1,j."""
        start = self._check_j(j) * self.qubits
        return tuple(range(start, start + self.qubits))

    def key(self, j: int) -> tuple[int, ...]:
        """Key qubits N_0,j .. N_k-1,j (the j-th key qubit of every register qubit)."""
        start = (self.clones + self._check_j(j)) * self.qubits
        return tuple(range(start, start + self.qubits))

    @property
    def signals(self) -> tuple[int, ...]:
        """Every signal qubit (all clones)."""
        return tuple(range(self.qubits, (self.clones + 1) * self.qubits))

    @property
    def keys(self) -> tuple[int, ...]:
        """Every key qubit."""
        return tuple(range((self.clones + 1) * self.qubits, (2 * self.clones + 1) * self.qubits))

    @property
    def reference_qubits(self) -> tuple[int, ...]:
        start = (2 * self.clones + 1) * self.qubits
        return tuple(range(start, start + self.references))

    def output_qubits(self, target: DecryptTarget) -> tuple[int, ...]:
        """Where the register ends after decrypting ``target``: clone j, or A."""
        target = self.check_target(target)
        return self.inputs if target == "A" else self.clone(target)

    def embedding(self, i: int) -> np.ndarray:
        """Where copy ``i`` puts each qubit of the plain layout ``Layout(n)``: ``q -> q·k + i``."""
        return np.arange(2 * self.clones + 1, dtype=np.int64) * self.qubits + self._check_i(i)

    # ------------------------------------------------------------------ labels
    @property
    def labels(self) -> tuple[str, ...]:
        """Label of every qubit, in index order (see the module doc for the two forms)."""
        k, js = self.qubits, range(1, self.clones + 1)
        if k == 1:
            names = ["A", *(f"S{j}" for j in js), *(f"N{j}" for j in js)]
        else:
            names = [f"A{i}" for i in range(k)]
            names += [f"{role}{i}_{j}" for role in "SN" for j in js for i in range(k)]
        names += ["R"] if k == 1 and self.references == 1 else [f"R{r}" for r in range(self.references)]
        return tuple(names)

    def label(self, index: int, *, long: bool = False) -> str:
        """The label of qubit ``index`` (computed, so cheap for any size); ``long`` gives the
        ``A0``/``S0_1`` form for k = 1 too."""
        k, n = self.qubits, self.clones
        if not is_int(index) or not 0 <= index < self.num_qubits:
            raise InvalidArgumentError(f"qubit index must be in 0..{self.num_qubits - 1}, got {index!r}")
        q, i = divmod(int(index), k)
        if q > 2 * n:
            r = int(index) - (2 * n + 1) * k
            return "R" if k == 1 and self.references == 1 and not long else f"R{r}"
        if k == 1 and not long:
            return "A" if q == 0 else f"S{q}" if q <= n else f"N{q - n}"
        return f"A{i}" if q == 0 else f"S{i}_{q}" if q <= n else f"N{i}_{q - n}"

    def index_of(self, label: str, *, long: bool = False) -> int:
        """Index of a qubit given its label (``"A0"``, ``"S1_3"``, ``"N0_2"``, ``"R0"``; for k = 1
        also ``"A"``, ``"S3"``, ``"N2"``, ``"R"`` unless ``long``)."""
        text = str(label).strip()
        if self.qubits == 1 and not long and (m := _SHORT_LABEL.match(text)):
            if m.group(1) == "A":
                return self.A()
            if m.group(1) == "R":
                return self.R()
            j = int(m.group(3))
            return self.S(j) if m.group(2) == "S" else self.N(j)
        m = _LONG_LABEL.match(text)
        if not m:
            raise InvalidArgumentError(f"unknown qubit label {label!r}; expected {self._label_forms(long)}")
        if m.group(1) == "A":
            return self.A(int(m.group(2)))
        if m.group(1) == "R":
            return self.R(int(m.group(2)))
        i, j = int(m.group(4)), int(m.group(5))
        return self.S(j, i) if m.group(3) == "S" else self.N(j, i)

    def _label_forms(self, long: bool) -> str:
        n, k = self.clones, self.qubits
        if k == 1 and not long:
            return f"one of A, S1..S{n}, N1..N{n}" + (", R" if self.references else "")
        return f"A<i>, S<i>_<j>, N<i>_<j> or R<r> (i = 0..{k - 1}, j = 1..{n})"

    # ------------------------------------------------------------------ decryption targets
    def check_target(self, target: object) -> DecryptTarget:
        """Validate a decryption target for the whole register (clone 1..n, or ``"A"`` for even n)."""
        if isinstance(target, str):
            if target.strip().upper() == "A":
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
        if not is_int(target):
            raise InvalidArgumentError(f"decryption target must be an integer or 'A', got {target!r}")
        return self._check_j(int(target))

    def _check_i(self, i: int | np.integer) -> int:
        if not is_int(i) or not 0 <= i < self.qubits:
            raise InvalidArgumentError(f"register qubit index must be in 0..{self.qubits - 1}, got {i!r}")
        return int(i)

    def _check_j(self, j: int | np.integer) -> int:
        if not is_int(j) or not 1 <= j <= self.clones:
            raise InvalidArgumentError(f"clone index must be in 1..{self.clones}, got {j!r}")
        return int(j)
