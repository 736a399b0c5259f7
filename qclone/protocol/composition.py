"""Encrypted cloning as a module: parallel, series and interleaved compositions.

Definitions (``docs/modules.md`` has the full text and the checks behind it):

* A **module** encrypts a register of k qubits into n clones: each of its
  input qubits gets its own n signal and n key qubits (exactly a
  :class:`~qclone.protocol.Layout` ``Layout(n, qubits=k)``), Bell pairs then U_enc.
* A **composition** is a data register ``I0 .. I{K-1}`` and modules in a
  fixed order. A module's input qubits are either data qubits or qubits of an
  earlier module (one of its clones ``S``, or key qubits ``N``). Every qubit is
  the input of at most one module, and every data qubit of exactly one.
* **Parallel**: modules whose inputs are all data qubits (side by side, on one
  register or on several).
* **Series**: a module whose inputs are qubits of an earlier module: an
  encrypted clone, or the key, is itself encrypted-cloned. Decryption then
  unwinds the layers, innermost first: to use a re-cloned qubit of module P,
  module C that re-cloned it must be decrypted first; its content (P's qubit)
  then lives on C's decrypted clone, and P's decryption uses it from there.
  :class:`DecryptionState` enforces this order and raises
  :class:`~qclone.errors.UnsupportedError` on the wrong one; a module can be
  decrypted once (its key is consumed).
* **Interleaved**: a schedule, not a structure. ``schedule="interleaved"``
  runs all Bell pairs in one wave and then the encryptions wave by wave
  (modules of equal series depth act on disjoint qubits and are interleaved
  instruction by instruction), optionally together with *spectator*
  computation on qubits no module touches. It must equal the sequential
  schedule (module after module); ``tests/protocol/test_composition.py`` checks
  the tableaux.

Qubits: data ``I0..``, then per module its signal register (clone-major,
``name.S{i}_{j}``) and key register (``name.N{i}_{j}``), then references
``R0..``. Qiskit registers: ``I``, ``<name>_S``, ``<name>_N``, ``R``.

Underneath, circuits are put together whole instructions at a time (many
targets each), so composing the circuits of thousands of clones costs a few
numpy operations, never a Python loop over gates:

* :func:`remap` moves a circuit onto other qubits (``q -> mapping[q]``).
* :func:`interleave` merges circuits that act on **disjoint** qubits by taking
  their instructions round-robin and fusing instructions of the same gate into
  one. Gates on disjoint qubits commute, so the result equals running the
  circuits one after the other (``tests/protocol/test_composition.py`` checks
  the unitaries). Merging circuits that share a qubit raises: their order matters.

Examples:
    >>> comp = series_composition(qubits=1, clones=3, levels=2)
    >>> [m.name + ":" + ",".join(m.inputs) for m in comp.modules]
    ['m1:I0', 'm2:m1.S0_1']
    >>> steps = comp.unwind("m2", 2)
    >>> steps
    (('m2', 2), ('m1', 1))
    >>> comp.output_qubits(steps) == (comp.index_of("m2.S0_2"),)
    True
    >>> regs = (("q", 4),)
    >>> a = Circuit(regs).append("H", [0]).append("CX", [0, 1])
    >>> b = Circuit(regs).append("H", [2]).append("CX", [2, 3])
    >>> print(interleave([a, b]))
    H 0 2
    CX 0 1 2 3
    >>> print(remap(a, [3, 2, 1, 0], regs))
    H 3
    CX 3 2
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from qclone.errors import InvalidArgumentError, UnsupportedError, is_int
from qclone.protocol.build import Depth, bell_pairs, check_depth, decryption, encryption
from qclone.protocol.circuit import Circuit, Instruction
from qclone.protocol.layout import DecryptTarget, Layout, check_clones

_NAME = re.compile(r"^[a-z][a-z0-9]*$")
SCHEDULES: tuple[str, ...] = ("sequential", "interleaved")
SERIES_TARGETS: tuple[str, ...] = ("clone", "key")


@dataclass(frozen=True)
class Module:
    """One encrypted-cloning instance on the register ``inputs`` (labels of the composition)."""

    name: str
    clones: int
    inputs: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InvalidArgumentError(f"module names are lower-case letters and digits, starting with a letter; got {self.name!r}")
        check_clones(self.clones)
        object.__setattr__(self, "inputs", tuple(str(x) for x in self.inputs))
        if not self.inputs:
            raise InvalidArgumentError(f"module {self.name} needs at least one input qubit")

    @property
    def qubits(self) -> int:
        return len(self.inputs)

    @property
    def layout(self) -> Layout:
        return Layout(self.clones, qubits=len(self.inputs))


@dataclass(frozen=True)
class Composition:
    """A data register of ``inputs`` qubits encrypted by ``modules`` (see module doc)."""

    inputs: int
    modules: tuple[Module, ...]
    references: int = 0
    _base: dict[str, int] = field(init=False, repr=False, compare=False)
    _input_index: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)
    _owner: np.ndarray = field(init=False, repr=False, compare=False)
    _clone_children: dict[str, dict[int, set[str]]] = field(init=False, repr=False, compare=False)
    _key_children: dict[str, set[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_int(self.inputs) or self.inputs < 1:
            raise InvalidArgumentError(f"a composition needs a data register of at least 1 qubit, got {self.inputs!r}")
        if not is_int(self.references) or self.references < 0:
            raise InvalidArgumentError(f"references must be an integer >= 0, got {self.references!r}")
        modules = tuple(self.modules)
        object.__setattr__(self, "modules", modules)
        if not modules:
            raise InvalidArgumentError("a composition needs at least one module")
        names = [m.name for m in modules]
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"module names must be distinct, got {names}")
        base: dict[str, int] = {}
        nxt = self.inputs
        for m in modules:
            base[m.name] = nxt
            nxt += 2 * m.clones * m.qubits
        object.__setattr__(self, "_base", base)
        owner = np.full(nxt, -1, dtype=np.int64)  # which module takes the qubit as its input
        input_index: dict[str, np.ndarray] = {}
        clone_children: dict[str, dict[int, set[str]]] = {m.name: {} for m in modules}
        key_children: dict[str, set[str]] = {m.name: set() for m in modules}
        for pos, m in enumerate(modules):
            idx = []
            for lab in m.inputs:
                q = self._parse(lab, before=pos)
                if owner[q] >= 0:
                    raise InvalidArgumentError(f"qubit {lab} is the input of both {modules[owner[q]].name} and {m.name}")
                owner[q] = pos
                idx.append(q)
                parent, role, _, j = self._locate(q)
                if parent is None:  # a data qubit or a reference: no parent module
                    pass
                elif role == "S":
                    clone_children[parent].setdefault(j, set()).add(m.name)
                elif role == "N":
                    key_children[parent].add(m.name)
            input_index[m.name] = np.asarray(idx, dtype=np.int64)
        missing = [f"I{i}" for i in range(self.inputs) if owner[i] < 0]
        if missing:
            raise InvalidArgumentError(f"data qubit(s) {', '.join(missing)} are not encrypted by any module")
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_input_index", input_index)
        object.__setattr__(self, "_clone_children", clone_children)
        object.__setattr__(self, "_key_children", key_children)

    def _parse(self, label: str, *, before: int) -> int:
        """Index of a data qubit or of a qubit of one of the first ``before`` modules."""
        try:
            q = self.index_of(label)
        except (InvalidArgumentError, UnsupportedError):
            q = -1
        if q < 0 or (q >= self.inputs and self._locate(q)[0] not in {m.name for m in self.modules[:before]}):
            raise InvalidArgumentError(
                f"module {self.modules[before].name} takes {label!r} as input, which is not a data qubit "
                "or a qubit of an earlier module"
            )
        return q

    def _locate(self, q: int) -> tuple[str | None, str, int, int]:
        """(module, role ``I``/``S``/``N``/``R``, register qubit i, clone j) of qubit ``q``."""
        if q < self.inputs:
            return None, "I", q, 0
        for m in self.modules:
            off = q - self._base[m.name]
            k, n = m.qubits, m.clones
            if 0 <= off < 2 * n * k:
                if off < n * k:
                    return m.name, "S", off % k, off // k + 1
                return m.name, "N", off % k, (off - n * k) // k + 1
        return None, "R", q - (self.num_qubits - self.references), 0

    # ------------------------------------------------------------------ qubits
    @property
    def num_qubits(self) -> int:
        last = self.modules[-1]
        return self._base[last.name] + 2 * last.clones * last.qubits + self.references

    @property
    def data_qubits(self) -> tuple[int, ...]:
        return tuple(range(self.inputs))

    @property
    def reference_qubits(self) -> tuple[int, ...]:
        return tuple(range(self.num_qubits - self.references, self.num_qubits))

    def module(self, name: str) -> Module:
        for m in self.modules:
            if m.name == name:
                return m
        raise InvalidArgumentError(f"no module {name!r}; modules: {', '.join(m.name for m in self.modules)}")

    def index_of(self, label: str) -> int:
        """Qubit index of ``I3``, ``m2.S0_1``, ``m1.N1_4`` or ``R0``."""
        label = str(label).strip()
        if re.fullmatch(r"I\d+", label) and int(label[1:]) < self.inputs:
            return int(label[1:])
        if re.fullmatch(r"R\d+", label) and int(label[1:]) < self.references:
            return self.num_qubits - self.references + int(label[1:])
        name, _, rest = label.partition(".")
        if rest and name in self._base and not rest.startswith("A"):
            m = self.module(name)
            return self._base[name] + m.layout.index_of(rest, long=True) - m.qubits
        raise InvalidArgumentError(f"unknown qubit {label!r} (data I0..I{self.inputs - 1}, module qubits like m1.S0_1, m1.N0_1)")

    @cached_property
    def labels(self) -> tuple[str, ...]:
        out = [f"I{i}" for i in range(self.inputs)]
        for m in self.modules:
            lay = m.layout
            out += [f"{m.name}.{lay.label(q, long=True)}" for q in range(lay.qubits, lay.num_qubits)]
        return tuple(out + [f"R{r}" for r in range(self.references)])

    @property
    def registers(self) -> tuple[tuple[str, int], ...]:
        regs = [("I", self.inputs)]
        for m in self.modules:
            regs += [(f"{m.name}_S", m.clones * m.qubits), (f"{m.name}_N", m.clones * m.qubits)]
        if self.references:
            regs.append(("R", self.references))
        return tuple(regs)

    def mapping(self, name: str) -> np.ndarray:
        """Where each qubit of module ``name``'s :class:`~qclone.protocol.Layout` is in the composition."""
        m = self.module(name)
        own = self._base[name] + np.arange(2 * m.clones * m.qubits, dtype=np.int64)
        return np.concatenate([self._input_index[name], own])

    def parents(self, name: str) -> tuple[str, ...]:
        """The modules whose qubits ``name`` re-clones (none for a module on data qubits)."""
        return tuple(sorted({p for q in self._input_index[name].tolist() if (p := self._locate(q)[0])}))

    def depth(self, name: str) -> int:
        """Series depth: 0 for a module on data qubits, 1 + the deepest module it re-clones otherwise."""
        parents = self.parents(name)
        return 0 if not parents else 1 + max(self.depth(p) for p in parents)

    # ------------------------------------------------------------------ circuits
    def _module_part(self, name: str, part: str, depth: Depth) -> Circuit:
        lay = self.module(name).layout
        single = bell_pairs(lay) if part == "bell" else encryption(lay, depth=depth)
        return remap(single, self.mapping(name), self.registers)

    def encryption_circuit(self, *, schedule: str = "sequential", depth: Depth = "linear",
                           spectator: Circuit | None = None) -> Circuit:
        """Bell pairs and encryption of every module.

        Args:
            schedule: ``"sequential"`` (module after module) or ``"interleaved"``
                (all Bell pairs at once, then the encryptions wave by wave, modules of one
                wave interleaved; equal as a unitary).
            depth: ``"linear"`` or ``"log"`` encryption circuits.
            spectator: other computation on qubits no module touches (e.g. the
                references); run after everything (sequential) or interleaved
                with the first wave. It must be on this composition's registers.

        Raises:
            InvalidArgumentError: for an unknown schedule, or a spectator that
                touches a qubit of a module.
        """
        if schedule not in SCHEDULES:
            raise InvalidArgumentError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
        depth = check_depth(depth)
        if spectator is not None:
            if spectator.registers != self.registers:
                raise InvalidArgumentError("the spectator circuit must be built on the composition's registers")
            touched = np.asarray(sorted(spectator.qubits_touched()), dtype=np.int64)
            clash = touched[touched < self.num_qubits - self.references] if touched.size else touched
            if clash.size:
                raise InvalidArgumentError(f"the spectator circuit acts on qubit {int(clash[0])}, which belongs to a module")
        if schedule == "sequential":
            out = Circuit(self.registers)
            for m in self.modules:
                out = out + self._module_part(m.name, "bell", depth) + self._module_part(m.name, "enc", depth)
            return out if spectator is None else out + spectator
        out = interleave([self._module_part(m.name, "bell", depth) for m in self.modules])
        waves: dict[int, list[Circuit]] = {}
        for m in self.modules:
            waves.setdefault(self.depth(m.name), []).append(self._module_part(m.name, "enc", depth))
        if spectator is not None:
            waves[0].append(spectator)
        for d in sorted(waves):
            out = out + interleave(waves[d])
        return out

    def decryption_circuit(self, steps: Sequence[tuple[str, DecryptTarget]], *, depth: Depth = "linear") -> Circuit:
        """Decryption steps in order, checked (see :class:`DecryptionState`)."""
        state = DecryptionState.start(self)
        out = Circuit(self.registers)
        for name, target in steps:
            state, c = state.step(name, target, depth=depth)
            out = out + c
        return out

    def unwind(self, name: str, clone: DecryptTarget) -> tuple[tuple[str, DecryptTarget], ...]:
        """The steps that bring the data through clone ``clone`` of module ``name``.

        Innermost first: ``name`` is decrypted at ``clone``; going up, each module whose
        qubits ``name`` re-cloned is decrypted at the clone that holds the content (its
        first free clone for a re-cloned key). Modules on other data qubits are decrypted at
        their first free clone. Every module whose qubits a chosen step needs is unwound first.
        """
        m = self.module(name)
        clone = m.layout.check_target(clone)
        chosen: dict[str, DecryptTarget] = {name: clone}
        todo = [name]
        while todo:
            cur = todo.pop()
            for q in self._input_index[cur].tolist():
                parent, role, _, j = self._locate(q)
                if parent is not None and parent not in chosen:
                    chosen[parent] = j if role == "S" else self._first_free_clone(parent)
                    todo.append(parent)
        for other in self.modules:
            chosen.setdefault(other.name, self._first_free_clone(other.name))
        order: list[tuple[str, DecryptTarget]] = []
        done: set[str] = set()

        def visit(n: str) -> None:
            if n in done:
                return
            for dep in self._needed_children(n, chosen[n]):
                visit(dep)
            done.add(n)
            order.append((n, chosen[n]))

        for root in (x.name for x in self.modules if not self.parents(x.name)):
            visit(root)
        return tuple(order)

    def _first_free_clone(self, name: str) -> int:
        m = self.module(name)
        taken = self._clone_children[name]
        return next((j for j in range(1, m.clones + 1) if j not in taken), 1)

    def _needed_children(self, name: str, clone: DecryptTarget) -> list[str]:
        """Modules that re-cloned a qubit that decrypting ``name`` at ``clone`` needs."""
        kids = set(self._key_children[name])
        if clone != "A":
            kids |= self._clone_children[name].get(int(clone), set())
        return sorted(kids)

    def output_qubits(self, steps: Sequence[tuple[str, DecryptTarget]]) -> tuple[int, ...]:
        """Where the data register ``I0..`` is after ``steps`` (every data qubit must be decrypted)."""
        state = DecryptionState.start(self)
        for name, target in steps:
            state = state.after(name, target)
        missing = [f"I{i}" for i in range(self.inputs) if self.modules[self._owner[i]].name not in state.decrypted]
        if missing:
            raise UnsupportedError(f"these steps do not decrypt data qubit(s) {', '.join(missing)}")
        return tuple(state.where[: self.inputs].tolist())

    @cached_property
    def recovery_paths(self) -> tuple[tuple[tuple[str, DecryptTarget], ...], ...]:
        """One decryption plan per place the data can be recovered: every clone of every module
        that no other module re-cloned (the other modules at their first free clone)."""
        out: dict[tuple[tuple[str, DecryptTarget], ...], None] = {}
        for m in self.modules:
            for j in range(1, m.clones + 1):
                if j not in self._clone_children[m.name]:
                    out[self.unwind(m.name, j)] = None
        return tuple(out)


@dataclass(frozen=True)
class DecryptionState:
    """Which modules are decrypted, and where the content that started on each qubit is now."""

    composition: Composition
    where: np.ndarray
    decrypted: frozenset[str] = frozenset()

    @classmethod
    def start(cls, composition: Composition) -> DecryptionState:
        return cls(composition, np.arange(composition.num_qubits, dtype=np.int64))

    def _check(self, name: str, target: DecryptTarget) -> DecryptTarget:
        comp = self.composition
        target = comp.module(name).layout.check_target(target)
        if name in self.decrypted:
            raise UnsupportedError(f"module {name} is already decrypted: its key is consumed, a second decryption yields noise")
        for child in comp._needed_children(name, target):
            if child not in self.decrypted:
                what = ", ".join(comp.module(child).inputs)
                raise UnsupportedError(
                    f"decrypt module {child} first: it re-cloned {what}, which decrypting "
                    f"{'A' if target == 'A' else f'clone {target}'} of {name} needs (layers unwind innermost first)"
                )
        return target

    def after(self, name: str, target: DecryptTarget) -> DecryptionState:
        """The state after decrypting ``target`` of module ``name`` (checked, see :meth:`step`)."""
        target = self._check(name, target)
        where = self.where.copy()
        if target != "A":
            comp = self.composition
            m = comp.module(name)
            clone = comp._base[name] + (int(target) - 1) * m.qubits + np.arange(m.qubits)
            src = comp._input_index[name]
            # the module's content (what its input qubits held) now sits on clone `target`
            where[src], where[clone] = self.where[clone], self.where[src]
        return DecryptionState(self.composition, where, self.decrypted | {name})

    def step(self, name: str, target: DecryptTarget, *, depth: Depth = "linear") -> tuple[DecryptionState, Circuit]:
        """Decrypt ``target`` (clone j or ``"A"``) of module ``name``: the new state and the circuit.

        Raises:
            UnsupportedError: if the module is already decrypted (its key is consumed), or a
                qubit it needs was re-cloned by a module that is not decrypted yet (unwind the
                inner layer first).
        """
        target = self._check(name, target)
        comp = self.composition
        lay = comp.module(name).layout
        circuit = remap(decryption(lay, target, depth=depth), self.where[comp.mapping(name)], comp.registers)
        return self.after(name, target), circuit


# ---------------------------------------------------------------------- builders
def parallel_composition(register_sizes: Sequence[int], clones: int | Sequence[int], *, references: int = 0) -> Composition:
    """Independent modules side by side: module ``m{r+1}`` encrypts register r (of ``register_sizes[r]`` qubits)."""
    sizes = [int(s) for s in register_sizes]
    if not sizes or any(s < 1 for s in sizes):
        raise InvalidArgumentError(f"register sizes must be >= 1, got {list(register_sizes)}")
    ns = [clones] * len(sizes) if isinstance(clones, int) else list(clones)
    if len(ns) != len(sizes):
        raise InvalidArgumentError("give one number of clones per register")
    modules, start = [], 0
    for r, (k, n) in enumerate(zip(sizes, ns)):
        modules.append(Module(f"m{r + 1}", n, tuple(f"I{i}" for i in range(start, start + k))))
        start += k
    return Composition(start, tuple(modules), references)


def series_composition(qubits: int, clones: int | Sequence[int], levels: int, *, target: str = "clone",
                       clone: int = 1, references: int = 0) -> Composition:
    """``levels`` modules in series on a ``qubits``-qubit register.

    Level 1 (``m1``) encrypts the data; level l + 1 re-clones clone ``clone`` of
    level l (``target="clone"``: a k-qubit register) or its whole key
    (``target="key"``: k·n qubits, so the registers grow).
    """
    if not is_int(levels) or levels < 1:
        raise InvalidArgumentError(f"the number of series levels must be an integer >= 1, got {levels!r}")
    if target not in SERIES_TARGETS:
        raise InvalidArgumentError(f"series target must be one of {', '.join(SERIES_TARGETS)}, got {target!r}")
    ns = [clones] * levels if isinstance(clones, int) else list(clones)
    if len(ns) != levels:
        raise InvalidArgumentError("give one number of clones per level")
    modules = [Module("m1", ns[0], tuple(f"I{i}" for i in range(qubits)))]
    for lvl in range(1, levels):
        prev = modules[-1]
        lay = prev.layout
        if target == "clone":
            lay.clone(clone)  # validates
            inputs = tuple(f"{prev.name}.S{i}_{clone}" for i in range(prev.qubits))
        else:
            inputs = tuple(f"{prev.name}.{lay.label(q, long=True)}" for q in lay.keys)
        modules.append(Module(f"m{lvl + 1}", ns[lvl], inputs))
    return Composition(qubits, tuple(modules), references)


# ---------------------------------------------------------------------- circuit tools
def remap(circuit: Circuit, mapping: Sequence[int] | np.ndarray, registers: Sequence[tuple[str, int]]) -> Circuit:
    """The circuit with qubit ``q`` moved to ``mapping[q]``, on new registers.

    Args:
        circuit: the circuit to move.
        mapping: one new index per qubit of ``circuit`` (distinct).
        registers: the registers of the result.

    Raises:
        InvalidArgumentError: if the mapping is too short, repeats a qubit or
            leaves the new registers.
    """
    m = np.asarray(mapping, dtype=np.int64).ravel()
    if m.size < circuit.num_qubits:
        raise InvalidArgumentError(f"mapping has {m.size} entries for a circuit on {circuit.num_qubits} qubits")
    if np.unique(m).size != m.size:
        raise InvalidArgumentError("mapping sends two qubits to the same place")
    instructions = tuple(Instruction(i.name, m[i.targets]) for i in circuit.instructions)
    return Circuit(tuple(registers), instructions)


def interleave(circuits: Sequence[Circuit], *, check_disjoint: bool = True) -> Circuit:
    """Run circuits on disjoint qubits side by side, instruction by instruction.

    Instruction ``t`` of every circuit is taken in turn; consecutive
    instructions of the same gate are fused into one (their targets are
    disjoint, so the fused instruction applies the same gates).

    Args:
        circuits: circuits on the same registers.
        check_disjoint: verify that no two circuits touch a common qubit.

    Raises:
        InvalidArgumentError: if the circuits have different registers or share a qubit.
    """
    circuits = list(circuits)
    if not circuits:
        raise InvalidArgumentError("nothing to interleave")
    regs = circuits[0].registers
    if any(c.registers != regs for c in circuits):
        raise InvalidArgumentError("cannot interleave circuits on different registers")
    if check_disjoint:
        check_disjoint_supports(circuits)
    out: list[tuple[str, list[np.ndarray]]] = []
    longest = max(len(c.instructions) for c in circuits)
    for t in range(longest):
        for c in circuits:
            if t >= len(c.instructions):
                continue
            ins = c.instructions[t]
            if out and out[-1][0] == ins.name:
                out[-1][1].append(ins.targets)
            else:
                out.append((ins.name, [ins.targets]))
    return Circuit(regs, tuple(Instruction(name, np.concatenate(parts)) for name, parts in out))


def check_disjoint_supports(circuits: Sequence[Circuit]) -> None:
    """Raise if two of the circuits act on a common qubit."""
    seen = np.zeros(max(c.num_qubits for c in circuits), dtype=np.int64)
    for idx, c in enumerate(circuits, start=1):
        touched = np.unique(np.concatenate([i.targets for i in c.instructions] or [np.zeros(0, np.int64)]))
        clash = touched[seen[touched] != 0]
        if clash.size:
            raise InvalidArgumentError(
                f"circuits {int(seen[clash[0]])} and {idx} both act on qubit {int(clash[0])}: "
                "only circuits on disjoint qubits can run side by side; compose them in sequence instead"
            )
        seen[touched] = idx


def sequence(circuits: Sequence[Circuit]) -> Circuit:
    """The circuits one after the other (all on the same registers)."""
    circuits = list(circuits)
    if not circuits:
        raise InvalidArgumentError("nothing to compose")
    out = circuits[0]
    for c in circuits[1:]:
        out = out + c
    return out
