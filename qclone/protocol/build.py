"""Gate-level circuits of encrypted cloning for any number of clones.

Every construction is built in bulk (one instruction per layer, many
targets), so building the circuit for a million clones costs a few numpy
operations. Gate counts (two-qubit gates): Bell pairs ``n``, encryption
``4n``, decryption of a clone ``2n + 1``, decryption of ``A`` ``4n``.

Examples:
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> c = protocol_circuit(Layout(5), decrypt=2)
    >>> c.num_two_qubit_gates == 7 * 5 + 1
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from qclone.errors import InvalidArgumentError
from qclone.protocol.circuit import Circuit, flat_pairs
from qclone.protocol.layout import DecryptTarget, Layout

Depth = Literal["linear", "log"]
DEPTHS: tuple[str, ...] = ("linear", "log")


def registers_of(layout: Layout) -> tuple[tuple[str, int], ...]:
    """Named registers ``A``, ``S``, ``N`` (and ``R``) of a layout."""
    regs = [("A", 1), ("S", layout.clones), ("N", layout.clones)]
    if layout.reference:
        regs.append(("R", 1))
    return tuple(regs)


def empty_circuit(layout: Layout) -> Circuit:
    return Circuit(registers_of(layout))


def check_depth(depth: str) -> Depth:
    if depth not in DEPTHS:
        raise InvalidArgumentError(f"unknown encryption depth {depth!r}; choose one of {', '.join(DEPTHS)}")
    return depth  # type: ignore[return-value]


def z_parity_phase(circuit: Circuit, qubits: Sequence[int], *, dagger: bool = False, depth: Depth = "linear") -> Circuit:
    """Append ``exp(∓iπ/4 · Z⊗…⊗Z)`` on ``qubits`` (up to a global phase).

    The parity of ``qubits`` is computed into one of them with CNOTs (a
    ladder, or a binary tree of depth ``ceil(log2 m)``), phased with ``S``
    (``S_DAG`` when ``dagger``: the ``+iπ/4`` rotation), and uncomputed.
    Uses ``2(m - 1)`` CNOTs for ``m`` qubits.
    """
    q = np.asarray(qubits, dtype=np.int64)
    m = q.size
    phase = "S_DAG" if dagger else "S"
    if m == 1:
        return circuit.append(phase, q)
    if check_depth(depth) == "linear":
        ladder = flat_pairs(q[:-1], q[1:])
        reverse = flat_pairs(q[:-1][::-1], q[1:][::-1])
        return circuit.append("CX", ladder).append(phase, q[-1:]).append("CX", reverse)
    levels: list[np.ndarray] = []
    stride = 1
    while stride < m:
        # parity of q[i .. i+2*stride) accumulates into q[i]
        tgt = np.arange(0, m - stride, 2 * stride)
        levels.append(flat_pairs(q[tgt + stride], q[tgt]))
        stride *= 2
    for lv in levels:
        circuit = circuit.append("CX", lv)
    circuit = circuit.append(phase, q[:1])
    for lv in reversed(levels):
        circuit = circuit.append("CX", lv)
    return circuit


def x_parity_phase(circuit: Circuit, qubits: Sequence[int], *, dagger: bool = False, depth: Depth = "linear") -> Circuit:
    """Append ``exp(∓iπ/4 · X⊗…⊗X)`` on ``qubits``: the Z version conjugated by H."""
    circuit = circuit.append("H", qubits)
    circuit = z_parity_phase(circuit, qubits, dagger=dagger, depth=depth)
    return circuit.append("H", qubits)


def bell_pairs(layout: Layout, circuit: Circuit | None = None) -> Circuit:
    """Prepare every pair (S_j, N_j) in |Φ+⟩ = (|00⟩ + |11⟩)/√2 from |00⟩."""
    c = empty_circuit(layout) if circuit is None else circuit
    s = np.arange(1, layout.clones + 1, dtype=np.int64)
    return c.append("H", s).append("CX", flat_pairs(s, s + layout.clones))


def encryption(layout: Layout, *, depth: Depth = "linear", circuit: Circuit | None = None) -> Circuit:
    """U_enc = exp(−iπ/4 X_A X_S1…X_Sn) · exp(−iπ/4 Z_A Z_S1…Z_Sn), Z factor first.

    Acts on A and S_1..S_n only; the key qubits are never touched. ``depth``
    selects the CNOT ladder (depth O(n)) or parity trees (depth O(log n)).
    """
    c = empty_circuit(layout) if circuit is None else circuit
    qs = np.arange(0, layout.clones + 1, dtype=np.int64)  # A = 0, then S_1..S_n
    c = z_parity_phase(c, qs, depth=depth)
    return x_parity_phase(c, qs, depth=depth)


def clone_decryption(layout: Layout, j: int, circuit: Circuit | None = None) -> Circuit:
    """U_dec(j): decrypt clone j with the whole key; ψ ends on S_j.

    Acts on S_j and N_1..N_n with ``2n + 1`` two-qubit gates. Afterwards
    (A, N_j) and every other pair (S_k, N_k) are Bell pairs |Φ+⟩.
    """
    c = empty_circuit(layout) if circuit is None else circuit
    s, t = layout.S(j), layout.N(j)
    others = np.concatenate([np.arange(layout.clones + 1, t, dtype=np.int64), np.arange(t + 1, 2 * layout.clones + 1, dtype=np.int64)])
    c = c.append("CX", [s, t]).append("H", [s])
    fan = np.empty((others.size, 2), dtype=np.int64)
    fan[:, 1] = others
    fan[:, 0] = s
    c = c.append("CZ", fan.ravel())
    fan[:, 0] = t
    c = c.append("CX", fan.ravel())
    c = c.append("S", [s, t]).append("CZ", [s, t]).append("H", [s])
    return c.append("CX", [s, t])


def input_decryption(layout: Layout, *, depth: Depth = "linear", circuit: Circuit | None = None) -> Circuit:
    """Decrypt A with the key (even n only): A then holds ψ again.

    Applies exp(+iπ/4 X_A X_N1…X_Nn) first, then exp(+iπ/4 Z_A Z_N1…Z_Nn).

    Raises:
        UnsupportedError: for odd n, where {A, N_1..N_n} is only partially informative.
    """
    layout.check_target("A")
    c = empty_circuit(layout) if circuit is None else circuit
    qs = np.concatenate([[layout.A], np.arange(layout.clones + 1, 2 * layout.clones + 1, dtype=np.int64)])
    c = x_parity_phase(c, qs, dagger=True, depth=depth)
    return z_parity_phase(c, qs, dagger=True, depth=depth)


def decryption(layout: Layout, target: DecryptTarget, *, depth: Depth = "linear", circuit: Circuit | None = None) -> Circuit:
    """Decryption of clone ``target`` (1..n) or of ``"A"``."""
    target = layout.check_target(target)
    if target == "A":
        return input_decryption(layout, depth=depth, circuit=circuit)
    return clone_decryption(layout, target, circuit=circuit)


def protocol_circuit(
    layout: Layout,
    *,
    decrypt: DecryptTarget | None = None,
    depth: Depth = "linear",
) -> Circuit:
    """The whole protocol from |0…0⟩ on S and N with the input on A.

    Bell pairs, encryption and (when ``decrypt`` is given) the decryption of
    clone ``decrypt`` or of ``"A"``. The input state ends on
    ``layout.output_qubit(decrypt)``.
    """
    if decrypt is not None:
        decrypt = layout.check_target(decrypt)
    c = encryption(layout, depth=depth, circuit=bell_pairs(layout))
    if decrypt is not None:
        c = decryption(layout, decrypt, depth=depth, circuit=c)
    return c


def two_qubit_gate_count(clones: int, *, decrypt: DecryptTarget | None = None) -> int:
    """Two-qubit gates of :func:`protocol_circuit` (the one place that states them).

    Examples:
        >>> two_qubit_gate_count(5, decrypt=1)
        36
    """
    n = clones
    total = n + 4 * n
    if decrypt == "A":
        total += 4 * n
    elif decrypt is not None:
        total += 2 * n + 1
    return total
