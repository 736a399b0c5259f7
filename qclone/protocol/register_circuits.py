"""Circuits for a k-qubit register: k copies of the one-qubit protocol, run side by side.

Every register qubit ``A_i`` is encrypted into its own clones with its own key
(:class:`~qclone.protocol.RegisterLayout`). The copies act on disjoint qubits,
so their gates run in parallel: instruction t of the register circuit is
instruction t of the one-qubit circuit applied to all k copies at once. Gate
counts are k times the one-qubit counts (``7n + 1`` per register qubit for
Bell pairs, encryption and one decryption); the depth is the one-qubit depth.

Decrypting clone j of the register decrypts clone j of every register qubit:
the register (with any entanglement it had with outside qubits) ends on
``layout.clone(j)``.

Examples:
    >>> from qclone.protocol import RegisterLayout
    >>> lay = RegisterLayout(qubits=3, clones=4)
    >>> c = register_protocol_circuit(lay, decrypt=2)
    >>> c.num_two_qubit_gates == 3 * (7 * 4 + 1)
    True
    >>> [name for name, _ in c.registers]
    ['A', 'S', 'N']
"""

from __future__ import annotations

import numpy as np

from qclone.protocol.circuit import Circuit, Instruction
from qclone.protocol.build import Depth, bell_pairs, check_depth, decryption, empty_circuit, encryption
from qclone.protocol.register_layout import RegisterLayout
from qclone.protocol.layout import DecryptTarget


def register_registers(layout: RegisterLayout) -> tuple[tuple[str, int], ...]:
    """Named registers ``A`` (k), ``S`` (n·k), ``N`` (n·k) and, if any, ``R``."""
    k, n = layout.qubits, layout.clones
    regs = [("A", k), ("S", n * k), ("N", n * k)]
    if layout.references:
        regs.append(("R", layout.references))
    return tuple(regs)


def tile(layout: RegisterLayout, single: Circuit) -> Circuit:
    """Apply a one-qubit-layout circuit to every register qubit at once.

    Instruction t of the result applies instruction t of ``single`` to copy 0,
    then copy 1, ...; the copies are disjoint, so this is the same as running
    the copies one after the other.
    """
    k = layout.qubits
    offsets = np.arange(k, dtype=np.int64)
    instructions = []
    for ins in single.instructions:
        # row i holds copy i's targets in their original order
        targets = (ins.targets[None, :] * k + offsets[:, None]).ravel()
        instructions.append(Instruction(ins.name, targets))
    return Circuit(register_registers(layout), tuple(instructions))


def register_bell_pairs(layout: RegisterLayout) -> Circuit:
    """Every pair (S_i,j, N_i,j) in |Φ+⟩ from |00⟩."""
    return tile(layout, bell_pairs(layout.single))


def register_encryption(layout: RegisterLayout, *, depth: Depth = "linear", include_bell_pairs: bool = True) -> Circuit:
    """Encrypt the register: from |0…0⟩ on S and N (Bell pairs, then U_enc of every register qubit).

    Args:
        layout: the register layout.
        depth: ``"linear"`` CNOT ladders or ``"log"`` parity trees.
        include_bell_pairs: prepend the Bell-pair preparation (default). With
            ``False`` the circuit is U_enc alone and expects the pairs ready.
    """
    single = layout.single
    c = encryption(single, depth=check_depth(depth), circuit=bell_pairs(single) if include_bell_pairs else empty_circuit(single))
    return tile(layout, c)


def register_decryption(layout: RegisterLayout, j: DecryptTarget, *, depth: Depth = "linear") -> Circuit:
    """Decrypt clone j (1..n) of the whole register, or ``"A"`` (even n): U_dec of every register qubit."""
    target = layout.check_target(j)
    return tile(layout, decryption(layout.single, target, depth=check_depth(depth)))


def register_protocol_circuit(
    layout: RegisterLayout,
    *,
    decrypt: DecryptTarget | None = None,
    depth: Depth = "linear",
) -> Circuit:
    """Bell pairs, encryption and (optionally) decryption of clone ``decrypt`` of the register.

    The register ends on ``layout.output_qubits(decrypt)``.
    """
    c = register_encryption(layout, depth=depth)
    if decrypt is not None:
        c = c + register_decryption(layout, decrypt, depth=depth)
    return c
