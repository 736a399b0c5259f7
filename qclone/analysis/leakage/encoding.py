"""What the leakage audit analyses: a Clifford encoding circuit and which of its qubits are inputs.

A :class:`CliffordEncoding` is a Clifford unitary ``U`` on ``m`` qubits, the
``k`` input qubits that carry an arbitrary (unknown) state, and a label per
qubit. Every other qubit starts in |0⟩. The bare protocol at each point of its
lifecycle is one such encoding (:func:`qclone.analysis.leakage.stages.protocol_encoding`); so is any
composition of modules (series, parallel, k-qubit registers) as long as it is
a Clifford circuit, which is how compositions plug into the audit.

Examples:
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> enc = CliffordEncoding(protocol_circuit(Layout(3)), inputs=(0,))
    >>> enc.num_qubits, enc.inputs, enc.labels[:3]
    (7, (0,), ('A', 'S1', 'S2'))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import stim

from qclone.errors import InvalidArgumentError, is_int
from qclone.protocol import Circuit, Instruction, to_stim


@dataclass(frozen=True, eq=False)
class CliffordEncoding:
    """A Clifford circuit, its input qubits and one label per qubit.

    Args:
        circuit: a :class:`qclone.protocol.Circuit` or a unitary ``stim.Circuit``.
        inputs: indices of the input qubits (at least one); every other qubit
            starts in |0⟩.
        labels: one distinct name per qubit. Default: from the circuit's
            registers (a one-qubit register ``A`` is ``"A"``, register ``S``
            of size n gives ``"S1".."Sn"``), or ``"q0", "q1", …`` for stim.
        name: a description used in reports.

    Raises:
        InvalidArgumentError: for inputs out of range or repeated, labels of
            the wrong number or repeated, or a stim circuit with non-unitary
            operations (measurements, resets, noise).
    """

    circuit: Circuit | stim.Circuit
    inputs: tuple[int, ...]
    labels: tuple[str, ...] = ()
    name: str = ""
    num_qubits: int = field(init=False)

    def __post_init__(self) -> None:
        if isinstance(self.circuit, Circuit):
            m = self.circuit.num_qubits
            default = _register_labels(self.circuit.registers)
        elif isinstance(self.circuit, stim.Circuit):
            _check_unitary_stim(self.circuit)
            m = len(self.labels) if self.labels else self.circuit.num_qubits
            if self.circuit.num_qubits > m:
                raise InvalidArgumentError(f"the stim circuit acts on {self.circuit.num_qubits} qubits but {m} labels were given")
            default = tuple(f"q{i}" for i in range(m))
        else:
            raise InvalidArgumentError(f"an encoding needs a qclone Circuit or a stim.Circuit, got {type(self.circuit).__name__}")
        labels = tuple(str(x) for x in self.labels) if self.labels else default
        if len(labels) != m:
            raise InvalidArgumentError(f"{len(labels)} labels for {m} qubits")
        if len(set(labels)) != m:
            raise InvalidArgumentError("qubit labels must be distinct")
        inputs = tuple(int(q) for q in self.inputs)
        if not inputs:
            raise InvalidArgumentError("an encoding needs at least one input qubit")
        if len(set(inputs)) != len(inputs) or any(not 0 <= q < m for q in inputs):
            raise InvalidArgumentError(f"input qubits must be distinct indices in 0..{m - 1}, got {list(inputs)}")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "num_qubits", m)
        object.__setattr__(self, "_index", {lab: i for i, lab in enumerate(labels)})

    def __repr__(self) -> str:
        kind = "Circuit" if isinstance(self.circuit, Circuit) else "stim.Circuit"
        return f"CliffordEncoding({self.name or kind!r}, num_qubits={self.num_qubits}, inputs={self.inputs})"

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    def index_of(self, qubit: str | int) -> int:
        """Index of a qubit given by label (or by index, which is checked)."""
        if is_int(qubit):
            if not 0 <= int(qubit) < self.num_qubits:
                raise InvalidArgumentError(f"qubit index {qubit} outside 0..{self.num_qubits - 1}")
            return int(qubit)
        try:
            return self._index[qubit]  # type: ignore[attr-defined]  # set by the subclass that has labels
        except (KeyError, TypeError):
            shown = ", ".join(self.labels[:8]) + (", …" if self.num_qubits > 8 else "")
            raise InvalidArgumentError(f"unknown qubit {qubit!r}; this encoding's qubits are {shown}") from None

    def indices(self, qubits: Iterable[str | int]) -> np.ndarray:
        """Sorted distinct indices of ``qubits`` (a repeated qubit counts once)."""
        if isinstance(qubits, (str, bytes)):
            raise InvalidArgumentError("give the qubits as a collection of labels, e.g. ['S1', 'S2'], not one string")
        return np.unique(np.fromiter((self.index_of(q) for q in qubits), dtype=np.int64))

    def stim_circuit(self) -> stim.Circuit:
        return to_stim(self.circuit) if isinstance(self.circuit, Circuit) else self.circuit.copy()

    def inverse_stim_circuit(self) -> stim.Circuit:
        if isinstance(self.circuit, Circuit):
            return to_stim(self.circuit.inverse())
        return self.circuit.inverse()

    @classmethod
    def parallel(cls, parts: Sequence[CliffordEncoding], *, name: str = "") -> CliffordEncoding:
        """Side-by-side composition: part ``i``'s qubit ``label`` becomes ``f"{label}@{i}"``.

        The parts' qubits are concatenated in order; the inputs are every
        part's inputs, in order. Only :class:`qclone.protocol.Circuit` parts.

        Examples:
            >>> from qclone.protocol import Layout, protocol_circuit
            >>> one = CliffordEncoding(protocol_circuit(Layout(2)), inputs=(0,))
            >>> two = CliffordEncoding.parallel([one, one])
            >>> two.num_qubits, two.inputs, two.labels[5:7]
            (10, (0, 5), ('A@1', 'S1@1'))
        """
        if not parts:
            raise InvalidArgumentError("a parallel composition needs at least one part")
        registers: list[tuple[str, int]] = []
        instructions: list[Instruction] = []
        inputs: list[int] = []
        labels: list[str] = []
        offset = 0
        for i, part in enumerate(parts):
            if not isinstance(part.circuit, Circuit):
                raise InvalidArgumentError("parallel composition needs qclone Circuits")
            registers += [(f"{r}@{i}", size) for r, size in part.circuit.registers]
            instructions += [Instruction(ins.name, ins.targets + offset) for ins in part.circuit.instructions]
            inputs += [q + offset for q in part.inputs]
            labels += [f"{lab}@{i}" for lab in part.labels]
            offset += part.num_qubits
        return cls(Circuit(tuple(registers), tuple(instructions)), tuple(inputs), tuple(labels),
                   name or " ⊗ ".join(p.name or "encoding" for p in parts))


def _register_labels(registers: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    out: list[str] = []
    for name, size in registers:
        out += [name] if size == 1 else [f"{name}{i}" for i in range(1, size + 1)]
    return tuple(out)


def _check_unitary_stim(circuit: stim.Circuit) -> None:
    for ins in circuit.flattened():
        if not stim.gate_data(ins.name).is_unitary:
            raise InvalidArgumentError(
                f"the encoding circuit must be unitary (Clifford gates only); it contains {ins.name}"
            )
