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

import itertools
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
        t = self.targets
        if not (isinstance(t, np.ndarray) and t.dtype == np.int64 and t.ndim == 1 and t.base is None and not t.flags.writeable):
            # a read-only array that owns its memory (as flat_pairs returns) is shared; anything else is copied
            t = np.array(t, dtype=np.int64).ravel()
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
        """Circuit depth counting every gate as one time step (ASAP schedule), as Qiskit's ``depth()``.

        Computed instruction by instruction with numpy (see :func:`gate_levels`):
        no Python loop over gates.
        """
        return _depth(self.instructions, self.num_qubits, two_qubit_only=False)

    @property
    def two_qubit_depth(self) -> int:
        """Depth counting only two-qubit gates."""
        return _depth(self.instructions, self.num_qubits, two_qubit_only=True)

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
    out = np.empty(2 * c.size, dtype=np.int64)
    out[0::2] = c.ravel()
    out[1::2] = t.ravel()
    out.flags.writeable = False  # owned and read-only: an Instruction shares it instead of copying
    return out


# --- depth: ASAP levels, vectorised per instruction ---------------------------------------


class _Scratch:
    """Per-qubit scratch arrays for O(k) tests on an instruction's k targets (no sort, no hash)."""

    def __init__(self, num_qubits: int) -> None:
        self.slot = np.zeros(max(num_qubits, 1), dtype=np.int64)

    def distinct(self, q: np.ndarray) -> bool:
        """Whether the qubits ``q`` are pairwise different."""
        if q.size < 2:
            return True
        d = np.diff(q)
        if bool(np.all(d > 0)) or bool(np.all(d < 0)):
            return True
        order = np.arange(q.size, dtype=np.int64)
        self.slot[q] = order  # on a repeat one write is lost, so the read-back differs
        return bool(np.array_equal(self.slot[q], order))

    def distinct_pair(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether the qubits of ``a`` and ``b`` together are pairwise different."""
        side_by_side = a.size > 1 and a[0] < a[-1] and b[0] < b[-1] and (a[-1] < b[0] or b[-1] < a[0])
        if side_by_side and bool(np.all(np.diff(a) > 0)) and bool(np.all(np.diff(b) > 0)):
            return True  # two increasing runs side by side (a layer between two registers)
        return self.distinct(np.concatenate([a, b]))


def _depth(instructions: Sequence[Instruction], num_qubits: int, *, two_qubit_only: bool) -> int:
    level = np.zeros(max(num_qubits, 1), dtype=np.int64)
    scratch = _Scratch(num_qubits)
    for ins in instructions:
        if ins.arity == 2:
            gate_levels(level, ins.targets[0::2], ins.targets[1::2], scratch)
        elif not two_qubit_only and ins.targets.size:
            if scratch.distinct(ins.targets):
                level[ins.targets] += 1
            else:  # a qubit repeated inside one instruction costs one step per repetition
                np.add.at(level, ins.targets, 1)
    return int(level.max(initial=0))


def gate_levels(level: np.ndarray, a: np.ndarray, b: np.ndarray, scratch: _Scratch | None = None) -> np.ndarray:
    """ASAP time steps of the two-qubit gates ``(a[i], b[i])``, applied in order after ``level``.

    ``level[q]`` is the last occupied time step of qubit ``q`` (updated in
    place); gate ``i`` lands on ``1 + max(level[a[i]], level[b[i]], step of
    the gates before it in this instruction that share a qubit)``. Three
    numpy schemes, chosen by the instruction's shape:

    * a *layer* (all qubits distinct): one gather and one scatter;
    * a *chain* (every gate shares a qubit with the gate just before it and
      brings in only qubits not seen earlier: CX ladders, fan-outs):
      step ``i`` is ``i + 1 + max_{h<=i}(ext_h - h)``, one running maximum,
      where ``ext_h`` is the level of gate h's new qubits;
    * anything else: each gate's predecessor inside the instruction is found
      by a stable sort of the targets; the instruction is cut before every gate
      with two different predecessors there, which leaves each piece a forest
      (one predecessor per gate), solved by pointer jumping in
      ``log2(k)`` numpy passes. Only the cuts cost a Python iteration each
      (none in qclone's circuits).

    Returns:
        The time step of every gate.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    k = a.size
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if scratch is None:
        scratch = _Scratch(level.size)
    la, lb = level[a], level[b]
    # gates 0 and 1 sharing a qubit rule out a layer; not sharing one rules out a chain
    first_shared = bool(np.isin([a[1], b[1]], [a[0], b[0]]).any()) if k > 1 else False
    if k == 1 or (not first_shared and scratch.distinct_pair(a, b)):
        steps: np.ndarray = np.maximum(la, lb) + 1
        level[a] = steps
        level[b] = steps
        return steps
    if not first_shared:
        return _forest_levels(level, a, b)
    chain = _ladder_or_fan(level, a, b, la, lb)
    if chain is not None:
        return chain
    a_old = (a[1:] == a[:-1]) | (a[1:] == b[:-1])
    b_old = (b[1:] == a[:-1]) | (b[1:] == b[:-1])
    if bool(np.all(a_old | b_old)):
        fresh = np.concatenate([a[:1], b[:1], a[1:][~a_old], b[1:][~b_old]])
        if scratch.distinct(fresh):
            ext = np.maximum(la, lb)
            ext[1:] = np.maximum(np.where(a_old, -1, la[1:]), np.where(b_old, -1, lb[1:]))
            idx = np.arange(k, dtype=np.int64)
            steps = idx + 1 + np.maximum.accumulate(ext - idx)
            # steps grow along the chain: the largest step of a qubit is its last gate's
            np.maximum.at(level, a, steps)
            np.maximum.at(level, b, steps)
            return steps
    return _forest_levels(level, a, b)


def _ladder_or_fan(level: np.ndarray, a: np.ndarray, b: np.ndarray, la: np.ndarray, lb: np.ndarray) -> np.ndarray | None:
    """The chain scheme for the two commonest chains, a ladder (q0->q1, q1->q2, ..., either way) and a
    fan (one qubit with every other): each gate's one new qubit is known, so no test finds it."""
    if a[0] == a[-1] and bool(np.all(a == a[0])):
        shared, new, lnew, ladder = int(a[0]), b, lb, False
    elif b[0] == b[-1] and bool(np.all(b == b[0])):
        shared, new, lnew, ladder = int(b[0]), a, la, False
    elif np.array_equal(b[:-1], a[1:]):
        shared, new, lnew, ladder = int(a[0]), b, lb, True
    elif np.array_equal(a[:-1], b[1:]):
        shared, new, lnew, ladder = int(b[0]), a, la, True
    else:
        return None
    step = np.diff(new)
    if not (bool(np.all(step > 0)) or bool(np.all(step < 0))) or bool(np.any(new == shared)):
        return None  # a new qubit repeats: not a chain of this shape
    idx = np.arange(new.size, dtype=np.int64)
    ext = lnew.copy()
    ext[0] = max(int(ext[0]), int(level[shared]))
    steps: np.ndarray = idx + 1 + np.maximum.accumulate(ext - idx)
    if ladder:  # qubit new[g] is last used by gate g + 1
        level[shared] = steps[0]
        level[new[:-1]] = steps[1:]
        level[new[-1]] = steps[-1]
    else:
        level[new] = steps
        level[shared] = steps[-1]
    return steps


def _forest_levels(level: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    k = a.size
    occ = np.stack([a, b], axis=1).ravel()
    order = np.argsort(occ, kind="stable")
    same = occ[order[1:]] == occ[order[:-1]]
    prev = np.full(2 * k, -1, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same] // 2
    pa, pb = prev[0::2], prev[1::2]
    cuts = np.flatnonzero((pa >= 0) & (pb >= 0) & (pa != pb))
    bounds = [0, *cuts.tolist(), k]
    steps = np.empty(k, dtype=np.int64)
    for s, e in itertools.pairwise(bounds):
        if e <= s:
            continue
        sa, sb = a[s:e], b[s:e]
        in_a, in_b = pa[s:e] >= s, pb[s:e] >= s
        # at most one predecessor inside the piece: a forest; ext = levels reached from outside it
        parent = np.where(in_a, pa[s:e], np.where(in_b, pb[s:e], -1)) - s
        ext = np.maximum(np.where(in_a, -1, level[sa]), np.where(in_b, -1, level[sb]))
        idx = np.arange(e - s, dtype=np.int64)
        root = parent < 0
        anc = np.where(root, idx, parent)
        dist = (~root).astype(np.int64)  # edges from each gate to anc
        while True:
            up = anc[anc]
            if np.array_equal(up, anc):
                break
            dist = dist + dist[anc]
            anc = up
        # best[g] = max over g and its ancestors h of ext[h] - dist[h]; again by pointer jumping
        best = ext - dist
        anc = np.where(root, idx, parent)
        while True:
            best = np.maximum(best, best[anc])
            up = anc[anc]
            if np.array_equal(up, anc):
                break
            anc = up
        st = dist + 1 + best
        steps[s:e] = st
        np.maximum.at(level, sa, st)
        np.maximum.at(level, sb, st)
    return steps
