"""A nearest-neighbour gate schedule of encrypted cloning for a path of qubits.

Slots ``0 .. 2n+1`` are the positions along the device path of
:class:`~qclone.hardware.layout.DeviceLayout`: R, A, then the pairs in path
order, the decrypted pair last. Every two-qubit gate acts on neighbouring
slots. The schedule has three stages, which stay separate (a barrier between
them on hardware), so the encrypted state really exists between encryption and
decryption:

**Encryption** (Bell pairs and U_enc together, as one isometry from A; exact,
checked against the dense reference and stim). Write the encrypted state as
½ Σ_μ α_μ⁻¹ σ_μ|ψ⟩ ⊗ (σ_μ|Φ+⟩)^⊗n. Undoing the Bell rotation
B = CX(S→N)·H(S) on a pair turns σ_μ|Φ+⟩ into a computational state |a_μ b_μ⟩,
so before the final B layer the state is the one-clone encryption on
(A, S_p1, N_p1) with the two bits (a, b) copied onto every other pair:

1. the bits of the first pair, written straight into the B-frame: N_p1 in
   |+⟩ holds b, a CNOT copies it to S_p1, CX(S_p1 → A) applies X^b, H turns
   S_p1 into a fresh bit a, CZ(S_p1, A) applies Z^a; S† on both and (odd n)
   a CZ on the pair give each branch its phase α_μ⁻¹ p_μ^n, where
   σ_μ|Φ+⟩ = p_μ B|a_μ b_μ⟩ (p_Y = −i, else 1). For n = 1 the textbook
   circuit is already nearest-neighbour and is used as it is;
2. copy along the path: with c = a ⊕ b, the wanted bits (a, b, a, b, ...)
   have differences (a, c, c, ...), so c is copied down the path (CX onto
   fresh |0⟩) and a prefix-sum CNOT ladder turns differences into values:
   2 CNOTs per qubit, interleaved so the depth is about 2n;
3. B on every pair.

That is about 5n two-qubit gates, against 5n for the textbook circuit, but all
nearest-neighbour.

**Decryption** of the last pair (s = S_j, t = N_j) is the exact gate-level
U_dec(j) of the protocol: CX(s,t) H(s), then CZ(s, N_k) and CX(t, N_k) for
every other key qubit, then S S CZ H CX. The key qubits alternate with the
other clones along the path, so (s, t) *walk* down the path: each step
meets N_k, applies CZ then CX and swaps past it (a controlled gate followed
by a SWAP on the same pair is written as the 2 CNOTs it equals), then swaps
past S_k (two SWAPs). About 10
CNOTs per pair and no pair is ever touched except by SWAPs and by the key
gates, so the decryption is U_dec(j) ⊗ I up to where the qubits end up
(tracked in ``final_slots``). The last pair is only met, not passed.

Examples:
    >>> sched = protocol_schedule(3)
    >>> sched.final_slots["S3"], sched.encryption.num_qubits
    (3, 8)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from qclone.protocol import Circuit
from qclone.protocol.layout import check_clones

#: The register of a schedule: one qubit per slot of the path.
SLOT_REGISTER = "slot"


def slot_labels(clones: int, pair_order: tuple[int, ...]) -> tuple[str, ...]:
    """Label held by each slot before any gate: R, A, S_p1, N_p1, ..."""
    out = ["R", "A"]
    for k in pair_order:
        out += [f"S{k}", f"N{k}"]
    return tuple(out)


@dataclass(frozen=True)
class Schedule:
    """The three stages of the protocol as circuits on path slots.

    Attributes:
        clones: n.
        pair_order: logical pair numbers along the path (decrypted pair last).
        encryption: Bell pairs and U_enc (acts on slots 1..2n+1).
        decryption: U_dec of the last pair, with the SWAPs that move the qubits.
        initial_slots: label → slot before any gate.
        final_slots: label → slot after the decryption.
        encrypted_slots: label → slot after the encryption, for schedules whose encryption moves
            qubits (``None``: it moves none, the labels are where they started).
    """

    clones: int
    pair_order: tuple[int, ...]
    encryption: Circuit
    decryption: Circuit
    initial_slots: Mapping[str, int]
    final_slots: Mapping[str, int]
    encrypted_slots: Mapping[str, int] | None = None

    @property
    def mid_slots(self) -> Mapping[str, int]:
        """Label → slot between the stages (after the encryption, before the decryption)."""
        return self.initial_slots if self.encrypted_slots is None else self.encrypted_slots

    @property
    def decrypt(self) -> int:
        return self.pair_order[-1]

    @property
    def num_slots(self) -> int:
        return 2 * self.clones + 2


def _empty(num_slots: int) -> Circuit:
    return Circuit(((SLOT_REGISTER, num_slots),))


def encryption_schedule(clones: int) -> Circuit:
    """Bell pairs + U_enc on slots (A = 1, pairs from slot 2), nearest-neighbour only."""
    n = check_clones(clones)
    c = _empty(2 * n + 2)
    a, s1, n1 = 1, 2, 3
    if n == 1:  # the textbook circuit is already nearest-neighbour: Bell pair, ZZ then XX phase
        c = c.append("H", [s1]).append("CX", [s1, n1])
        for conj in (False, True):
            c = c.append("H", [a, s1]) if conj else c
            c = c.append("CX", [a, s1]).append("S", [s1]).append("CX", [a, s1])
            c = c.append("H", [a, s1]) if conj else c
        return c
    # the bits (a, b) of the first pair in the B-frame, with X^b Z^a applied to A:
    # N1 = |+>, copy b to S1, X^b on A, H turns S1 into a fresh bit a (with phase (-1)^ab), Z^a on A
    c = c.append("H", [n1]).append("CX", [n1, s1]).append("CX", [s1, a]).append("H", [s1]).append("CZ", [s1, a])
    # branch phases α_μ⁻¹ (σ_μ|Φ+> = p_μ B|a b>)^n: -i on (0,1) and (1,0), (-1)^(n+1) on (1,1)
    c = c.append("S_DAG", [s1, n1])
    if n % 2 == 1:
        c = c.append("CZ", [s1, n1])
    last = 2 * n + 1
    c = c.append("CX", [2, 3])  # slot 3 holds c = a ⊕ b
    for i in range(3, last):
        c = c.append("CX", [i, i + 1])  # copy c one slot further
        c = c.append("CX", [i - 1, i])  # prefix sum: slot i becomes its final bit
    c = c.append("CX", [last - 1, last])
    signals = list(range(2, last, 2))
    pairs = [q for s in signals for q in (s, s + 1)]
    return c.append("H", signals).append("CX", pairs)


def decryption_schedule(clones: int) -> tuple[Circuit, dict[int, int]]:
    """U_dec of the pair in the last two slots; returns the circuit and slot → final slot."""
    n = check_clones(clones)
    m = 2 * n + 2
    content = list(range(m))  # content[slot] = slot the qubit started in
    c = _empty(m)
    s_slot, t_slot = m - 2, m - 1

    def exchange(x: int, y: int) -> None:
        content[x], content[y] = content[y], content[x]

    def swap(x: int, y: int) -> None:
        nonlocal c
        c = c.append("SWAP", [x, y])
        exchange(x, y)

    c = c.append("CX", [s_slot, t_slot]).append("H", [s_slot])
    i = s_slot  # s is at slot i, t at i + 1; the next key qubit at i - 1
    while i > 2:
        key = i - 1
        # CZ(s, key) then SWAP, as two CNOTs: H(key) CX(key→s) CX(s→key) H(s); s moves to i - 1
        c = c.append("H", [key]).append("CX", [key, i]).append("CX", [i, key]).append("H", [i])
        exchange(key, i)
        # CX(t→key) then SWAP, as two CNOTs: CX(key→t) CX(t→key); t moves to i
        c = c.append("CX", [i, i + 1]).append("CX", [i + 1, i])
        exchange(i, i + 1)
        if i - 2 == 2:  # the last pair is only met, not passed
            i -= 1
            break
        swap(i - 2, i - 1)  # S_k past s
        swap(i - 1, i)  # S_k past t
        i -= 2
    s_at, t_at = i, i + 1
    c = c.append("S", [s_at, t_at]).append("CZ", [s_at, t_at]).append("H", [s_at]).append("CX", [s_at, t_at])
    return c, {start: slot for slot, start in enumerate(content)}


def protocol_schedule(clones: int, decrypt: int | None = None, pair_order: tuple[int, ...] | None = None) -> Schedule:
    """The full schedule; ``pair_order`` defaults to 1..n with ``decrypt`` (default n) moved last."""
    n = check_clones(clones)
    if pair_order is None:
        j = n if decrypt is None else decrypt
        pair_order = tuple(k for k in range(1, n + 1) if k != j) + (j,)
    labels = slot_labels(n, pair_order)
    dec, moved = decryption_schedule(n)
    return Schedule(
        clones=n,
        pair_order=tuple(pair_order),
        encryption=encryption_schedule(n),
        decryption=dec,
        initial_slots={lab: i for i, lab in enumerate(labels)},
        final_slots={lab: moved[i] for i, lab in enumerate(labels)},
    )
