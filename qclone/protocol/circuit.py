"""A small, immutable circuit description shared by every engine.

A :class:`Circuit` is a sequence of :class:`Instruction`s, each one gate name
applied to many targets at once (``CX 0 1 1 2`` applies CX(0,1) then
CX(1,2)), exactly like stim's instructions. That keeps circuits for a million
clones a handful of instructions: engines consume them in bulk and never loop
over qubits in Python. Gate names are stim's.

Examples:
    >>> c = Circuit((("A", 1), ("S", 1))).append("H", [0]).append("CX", [0, 1])
    >>> print(c)
    H 0
    CX 0 1
    >>> c.num_two_qubit_gates, c.depth
    (1, 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from qclone.errors import InvalidArgumentError

#: Single-qubit gates an instruction may name, with their inverses.
ONE_QUBIT_GATES: dict[str, str] = {
    "I": "I",
    "H": "H",
    "X": "X",
    "Y": "Y",
    "Z": "Z",
    "S": "S_DAG",
    "S_DAG": "S",
    "SQRT_X": "SQRT_X_DAG",
    "SQRT_X_DAG": "SQRT_X",
}
#: Two-qubit gates (first target of each pair is the control for CX).
TWO_QUBIT_GATES: frozenset[str] = frozenset({"CX", "CZ", "SWAP"})


@dataclass(frozen=True, eq=False)
class Instruction:
    """One gate applied, in order, to one target or to each pair of targets.

    ``targets`` is stored as a read-only int64 numpy array so that an
    instruction with millions of targets costs one array, not millions of
    Python objects.
    """

    name: str
    targets: np.ndarray
    #: smallest and largest target, computed once so circuits validate in O(instructions)
    bounds: tuple[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.name not in ONE_QUBIT_GATES and self.name not in TWO_QUBIT_GATES:
            raise InvalidArgumentError(f"unknown gate {self.name!r}")
        t = np.array(self.targets, dtype=np.int64).ravel()
        t.flags.writeable = False
        object.__setattr__(self, "targets", t)
        if self.name in TWO_QUBIT_GATES:
            if t.size % 2:
                raise InvalidArgumentError(f"{self.name} needs pairs of targets, got {t.size}")
            if t.size and np.any(t[0::2] == t[1::2]):
                raise InvalidArgumentError(f"{self.name} applied to a qubit and itself")
        object.__setattr__(self, "bounds", (int(t.min()), int(t.max())) if t.size else (0, -1))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Instruction):
            return NotImplemented
        return self.name == other.name and np.array_equal(self.targets, other.targets)

    def __hash__(self) -> int:
        return hash((self.name, self.targets.tobytes()))

    def __repr__(self) -> str:
        return f"Instruction({self.name!r}, {self.targets.tolist()!r})"

    @property
    def arity(self) -> int:
        return 2 if self.name in TWO_QUBIT_GATES else 1

    @property
    def size(self) -> int:
        """How many times the gate is applied."""
        return self.targets.size // self.arity

    @property
    def groups(self) -> list[tuple[int, ...]]:
        """The targets split into the qubit tuples the gate acts on, in order."""
        return [tuple(g) for g in self.targets.reshape(-1, self.arity).tolist()]

    def inverse(self) -> Instruction:
        name = ONE_QUBIT_GATES.get(self.name, self.name)
        return Instruction(name, self.targets.reshape(-1, self.arity)[::-1].ravel())

    def __str__(self) -> str:
        return f"{self.name} {' '.join(map(str, self.targets.tolist()))}"


@dataclass(frozen=True)
class Circuit:
    """An immutable circuit on named registers.

    Args:
        registers: ``(name, size)`` pairs in qubit order; qubit ``i`` of the
            circuit is the ``i``-th qubit of the concatenated registers.
        instructions: the gates in time order.
    """

    registers: tuple[tuple[str, int], ...]
    instructions: tuple[Instruction, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "registers", tuple((str(n), int(s)) for n, s in self.registers))
        m = self.num_qubits
        for ins in self.instructions:
            if ins.targets.size and (ins.bounds[0] < 0 or ins.bounds[1] >= m):
                raise InvalidArgumentError(f"instruction {ins.name} targets a qubit outside 0..{m - 1}")

    @property
    def num_qubits(self) -> int:
        return sum(size for _, size in self.registers)

    def append(self, name: str, targets: Iterable[int] | np.ndarray) -> Circuit:
        """A new circuit with one more instruction (no-op if ``targets`` is empty)."""
        t = np.asarray(targets, dtype=np.int64).ravel()
        if not t.size:
            return self
        return Circuit(self.registers, self.instructions + (Instruction(name, t),))

    def __add__(self, other: Circuit) -> Circuit:
        if other.registers != self.registers:
            raise InvalidArgumentError("cannot concatenate circuits on different registers")
        return Circuit(self.registers, self.instructions + other.instructions)

    def inverse(self) -> Circuit:
        return Circuit(self.registers, tuple(i.inverse() for i in reversed(self.instructions)))

    def count(self, name: str) -> int:
        """How many times gate ``name`` is applied."""
        return sum(i.size for i in self.instructions if i.name == name)

    @property
    def num_two_qubit_gates(self) -> int:
        return sum(i.size for i in self.instructions if i.arity == 2)

    @property
    def num_gates(self) -> int:
        return sum(i.size for i in self.instructions)

    @property
    def depth(self) -> int:
        """Circuit depth counting every gate as one time step (ASAP schedule)."""
        level = np.zeros(self.num_qubits, dtype=np.int64)
        for ins in self.instructions:
            if ins.arity == 1:
                # np.add.at counts a target repeated inside one instruction twice
                np.add.at(level, ins.targets, 1)
                continue
            for a, b in ins.groups:
                t = max(level[a], level[b]) + 1
                level[a] = level[b] = t
        return int(level.max(initial=0))

    @property
    def two_qubit_depth(self) -> int:
        """Depth counting only two-qubit gates."""
        level = np.zeros(self.num_qubits, dtype=np.int64)
        for ins in self.instructions:
            if ins.arity == 2:
                for a, b in ins.groups:
                    t = max(level[a], level[b]) + 1
                    level[a] = level[b] = t
        return int(level.max(initial=0))

    def qubits_touched(self) -> set[int]:
        return set(np.unique(np.concatenate([i.targets for i in self.instructions] or [np.zeros(0, np.int64)])).tolist())

    def __str__(self) -> str:
        return "\n".join(map(str, self.instructions))


def flat_pairs(controls: Sequence[int] | np.ndarray, targets: Sequence[int] | np.ndarray) -> np.ndarray:
    """Interleave controls and targets into ``c0 t0 c1 t1 ...`` (bulk, no Python loop)."""
    c = np.asarray(controls, dtype=np.int64)
    t = np.asarray(targets, dtype=np.int64)
    if c.shape != t.shape:
        raise InvalidArgumentError("controls and targets differ in length")
    return np.stack([c, t], axis=1).ravel()
