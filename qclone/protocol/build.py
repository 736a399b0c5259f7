"""Gate-level circuits of encrypted cloning for any :class:`~qclone.protocol.Layout`.

Every construction is built in bulk (one instruction per layer, many
targets), so building the circuit for a million clones costs a few numpy
operations. Gate counts (two-qubit gates, per register qubit): Bell pairs
``n``, encryption ``4n``, decryption of a clone ``2n + 1``, decryption of
``A`` ``4n``.

A k-qubit register (``Layout(n, qubits=k)``) is k copies of the one-qubit
protocol, each register qubit ``A_i`` with its own clones and key. The copies
act on disjoint qubits, so their gates run in parallel: instruction t of the
register circuit is instruction t of the one-qubit circuit applied to all k
copies at once. Gate counts are k times the one-qubit counts and the depth is
the one-qubit depth. Decrypting clone j decrypts clone j of every register
qubit: the register (with any entanglement it had with outside qubits) ends on
``layout.clone(j)``.

Examples:
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> c = protocol_circuit(Layout(5), decrypt=2)
    >>> c.num_two_qubit_gates == 7 * 5 + 1
    True
    >>> reg = protocol_circuit(Layout(4, qubits=3), decrypt=2)
    >>> reg.num_two_qubit_gates == 3 * (7 * 4 + 1)
    True
    >>> [name for name, _ in reg.registers]
    ['A', 'S', 'N']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from qclone.errors import InvalidArgumentError
from qclone.protocol.circuit import Circuit, Instruction, flat_pairs
from qclone.protocol.layout import DecryptTarget, Layout

Depth = Literal["linear", "log"]
DEPTHS: tuple[str, ...] = ("linear", "log")


def empty_circuit(layout: Layout) -> Circuit:
    """A circuit with no gates on the layout's registers."""
    return Circuit(layout.registers)


def check_depth(depth: str) -> Depth:
    if depth not in DEPTHS:
        raise InvalidArgumentError(f"unknown encryption depth {depth!r}; choose one of {', '.join(DEPTHS)}")
    return "log" if depth == "log" else "linear"


def z_parity_phase(circuit: Circuit, qubits: Sequence[int] | np.ndarray, *, dagger: bool = False, depth: Depth = "linear") -> Circuit:
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


def x_parity_phase(circuit: Circuit, qubits: Sequence[int] | np.ndarray, *, dagger: bool = False, depth: Depth = "linear") -> Circuit:
    """Append ``exp(∓iπ/4 · X⊗…⊗X)`` on ``qubits``: the Z version conjugated by H."""
    circuit = circuit.append("H", qubits)
    circuit = z_parity_phase(circuit, qubits, dagger=dagger, depth=depth)
    return circuit.append("H", qubits)


def _tile(layout: Layout, single: Circuit) -> Circuit:
    """Apply a circuit on the plain layout ``Layout(n)`` to every register qubit at once.

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
    return Circuit(layout.registers, tuple(instructions))


def _every_register_qubit(layout: Layout, circuit: Circuit | None, stage: Callable[[Layout, Circuit], Circuit]) -> Circuit:
    """Append ``stage`` (a one-qubit-protocol builder) for every register qubit of ``layout``."""
    if layout.qubits == 1:  # the plain protocol: the indices are the one-qubit ones
        return stage(layout, empty_circuit(layout) if circuit is None else circuit)
    plain = Layout(layout.clones)
    tiled = _tile(layout, stage(plain, empty_circuit(plain)))
    return tiled if circuit is None else circuit + tiled


def _bell_pairs(lay: Layout, c: Circuit) -> Circuit:
    s = np.arange(1, lay.clones + 1, dtype=np.int64)
    return c.append("H", s).append("CX", flat_pairs(s, s + lay.clones))


def _encryption(lay: Layout, c: Circuit, depth: Depth) -> Circuit:
    qs = np.arange(0, lay.clones + 1, dtype=np.int64)  # A = 0, then S_1..S_n
    c = z_parity_phase(c, qs, depth=depth)
    return x_parity_phase(c, qs, depth=depth)


def _clone_decryption(lay: Layout, c: Circuit, j: int) -> Circuit:
    s, t = lay.S(j), lay.N(j)
    others = np.concatenate([np.arange(lay.clones + 1, t, dtype=np.int64), np.arange(t + 1, 2 * lay.clones + 1, dtype=np.int64)])
    c = c.append("CX", [s, t]).append("H", [s])
    fan = np.empty((others.size, 2), dtype=np.int64)
    fan[:, 1] = others
    fan[:, 0] = s
    c = c.append("CZ", fan.ravel())
    fan[:, 0] = t
    c = c.append("CX", fan.ravel())
    c = c.append("S", [s, t]).append("CZ", [s, t]).append("H", [s])
    return c.append("CX", [s, t])


def _input_decryption(lay: Layout, c: Circuit, depth: Depth) -> Circuit:
    qs = np.concatenate([[lay.A()], np.arange(lay.clones + 1, 2 * lay.clones + 1, dtype=np.int64)])
    c = x_parity_phase(c, qs, dagger=True, depth=depth)
    return z_parity_phase(c, qs, dagger=True, depth=depth)


def bell_pairs(layout: Layout, circuit: Circuit | None = None) -> Circuit:
    """Prepare every pair (S_i,j, N_i,j) in |Φ+⟩ = (|00⟩ + |11⟩)/√2 from |00⟩.

    Appended to ``circuit`` if given (on ``layout.registers``), else a new circuit.
    """
    return _every_register_qubit(layout, circuit, _bell_pairs)


def encryption(layout: Layout, *, depth: Depth = "linear", circuit: Circuit | None = None) -> Circuit:
    """U_enc = exp(−iπ/4 X_A X_S1…X_Sn) · exp(−iπ/4 Z_A Z_S1…Z_Sn), Z factor first, on every register qubit.

    Acts on A and the clones only; the key qubits are never touched, and the
    Bell pairs are not included (:func:`protocol_circuit` without ``decrypt``
    is Bell pairs then U_enc). ``depth`` selects the CNOT ladder (depth O(n))
    or parity trees (depth O(log n)).
    """
    depth = check_depth(depth)
    return _every_register_qubit(layout, circuit, lambda lay, c: _encryption(lay, c, depth))


def clone_decryption(layout: Layout, j: int, circuit: Circuit | None = None) -> Circuit:
    """U_dec(j): decrypt clone j with the whole key; the input ends on clone j.

    Acts on clone j and the key with ``2n + 1`` two-qubit gates per register
    qubit. Afterwards (A_i, N_i,j) and every other pair (S_i,l, N_i,l) are Bell
    pairs |Φ+⟩.
    """
    target = layout.check_target(j)
    if target == "A":
        raise InvalidArgumentError("clone_decryption decrypts a clone 1..n; input_decryption decrypts A")
    return _every_register_qubit(layout, circuit, lambda lay, c: _clone_decryption(lay, c, target))


def input_decryption(layout: Layout, *, depth: Depth = "linear", circuit: Circuit | None = None) -> Circuit:
    """Decrypt A with the key (even n only): A then holds the input again.

    Applies exp(+iπ/4 X_A X_N1…X_Nn) first, then exp(+iπ/4 Z_A Z_N1…Z_Nn).

    Raises:
        UnsupportedError: for odd n, where {A, N_1..N_n} is only partially informative.
    """
    layout.check_target("A")
    depth = check_depth(depth)
    return _every_register_qubit(layout, circuit, lambda lay, c: _input_decryption(lay, c, depth))


def decryption(layout: Layout, target: DecryptTarget, *, depth: Depth = "linear", circuit: Circuit | None = None) -> Circuit:
    """Decryption of clone ``target`` (1..n) or of ``"A"`` (even n), for every register qubit."""
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
    clone ``decrypt`` or of ``"A"``. The input register ends on
    ``layout.output_qubits(decrypt)``.
    """
    if decrypt is not None:
        decrypt = layout.check_target(decrypt)
    c = encryption(layout, depth=depth, circuit=bell_pairs(layout))
    if decrypt is not None:
        c = decryption(layout, decrypt, depth=depth, circuit=c)
    return c


def two_qubit_gate_count(layout: Layout, *, decrypt: DecryptTarget | None = None) -> int:
    """Two-qubit gates of :func:`protocol_circuit` (the one place that states them).

    Examples:
        >>> two_qubit_gate_count(Layout(5), decrypt=1)
        36
        >>> two_qubit_gate_count(Layout(5, qubits=2), decrypt="A")
        90
    """
    n = layout.clones
    total = n + 4 * n
    if decrypt == "A":
        total += 4 * n
    elif decrypt is not None:
        total += 2 * n + 1
    return total * layout.qubits
