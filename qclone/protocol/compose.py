"""Putting circuits together: relabel qubits, run circuits side by side, interleave them.

Everything works on whole instructions (many targets each), so composing the
circuits of thousands of clones costs a few numpy operations, never a Python
loop over gates.

* :func:`remap` moves a circuit onto other qubits (``q -> mapping[q]``).
* :func:`interleave` merges circuits that act on **disjoint** qubits by taking
  their instructions round-robin and fusing instructions of the same gate into
  one. Gates on disjoint qubits commute, so the result equals running the
  circuits one after the other (``tests/protocol/test_compose.py`` checks the
  unitaries). Merging circuits that share a qubit raises: their order matters.

Examples:
    >>> from qclone.protocol import Circuit
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

from collections.abc import Sequence

import numpy as np

from qclone.errors import InvalidArgumentError
from qclone.protocol.circuit import Circuit, Instruction


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
