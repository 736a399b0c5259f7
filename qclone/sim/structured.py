"""Structure-aware Heisenberg picture: Pauli operators pulled back through whole protocol stages.

The gate-by-gate engine (:mod:`qclone.sim.heisenberg`) stores every operator
as one bit per qubit and walks every instruction: time and memory linear in n.
But every stage of the protocol treats all clones alike, so the operators that
verification asks about stay *uniform*: on the n - 1 signal qubits other than
the operator's own clone j they all carry one Pauli (the *background*), and
likewise on the n - 1 key qubits other than N_j. An operator is then ten bits
and a phase, whatever n:

    A | S background, S_j | N background, N_j | phase (i^phase · X^x Z^z)

and each stage maps those bits in O(1), vectorised over all operators:

* Bell pairs (H on every S_k, CX S_k -> N_k): the two-qubit formulas on the
  background and on (S_j, N_j) alike; the H phases count the background n - 1 times.
* A parity phase exp(∓iπ/4 P_A P_1..P_n) (P = Z or X) over A and one register
  — what the CNOT ladder or the parity tree of ``depth="linear"``/``"log"``
  implements, the same unitary up to a global phase: an operator that
  anticommutes with it (an odd number of anticommuting letters, the background
  counted n - 1 times) is multiplied by ∓i·P...P; the others pass unchanged.
* Decryption of clone j (the fan-outs CZ(S_j, N_k), CX(N_j, N_k) for every
  k != j): the fan-out gates commute, so the whole fan is one update of the
  background and of S_j or N_j with the parity of the other side.

Stage structure comes from the :class:`~qclone.protocol.Layout` and the
encryption depth (:func:`protocol_stages`), not from a gate list. Whether the
builders' gates implement those stages is checked gate by gate by
:func:`agrees_with_circuit`: random uniform Paulis pulled back through the
stages and, with :class:`~qclone.sim.heisenberg.PauliBatch`, through the
circuit, must agree bit for bit and in sign.

Examples:
    >>> from qclone.protocol import Layout, encryption, bell_pairs
    >>> lay = Layout(10**9)
    >>> ops = UniformPaulis.single(lay.clones, "j", [5, 5], ["X", "Z"])
    >>> ops.pull_back(protocol_stages(lay, decrypt="clone"))
    >>> bell_pair_restored(ops.pair(0, 1)).tolist()
    [True]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout
from qclone.protocol.build import check_depth
from qclone.protocol.circuit import Circuit
from qclone.sim.heisenberg import PauliBatch

Block = Literal["A", "S", "j", "N", "t"]
#: the bit slots of a uniform operator: A, S background, S_j, N background, N_j
SLOTS: tuple[Block, ...] = ("A", "S", "j", "N", "t")


@dataclass(frozen=True)
class BellPairs:
    """H on every S_k, then CX(S_k -> N_k): every pair (S_k, N_k) in |Φ+⟩."""


@dataclass(frozen=True)
class ParityPhase:
    """exp(-iπ/4 P_A P_R1 .. P_Rn) with P = ``basis`` over A and register ``register`` (+iπ/4 when ``dagger``).

    ``depth`` records which gates implement it ("linear": CNOT ladders,
    "log": parity trees); the unitary is the same up to a global phase.
    """

    register: Literal["S", "N"]
    basis: Literal["X", "Z"]
    dagger: bool = False
    depth: str = "linear"


@dataclass(frozen=True)
class CloneDecryption:
    """U_dec(j), each operator's own clone j: CX(s,t) H(s) CZ(s,N_k) CX(t,N_k) S(s) S(t) CZ(s,t) H(s) CX(s,t)."""


Stage = BellPairs | ParityPhase | CloneDecryption


def encryption_stages(depth: str = "linear") -> tuple[Stage, ...]:
    """U_enc on A, S: the Z factor first, then the X factor."""
    d = check_depth(depth)
    return (ParityPhase("S", "Z", depth=d), ParityPhase("S", "X", depth=d))


def input_decryption_stages(depth: str = "linear") -> tuple[Stage, ...]:
    """Decryption of A (even n): exp(+iπ/4 X_A X_N..) first, then exp(+iπ/4 Z_A Z_N..)."""
    d = check_depth(depth)
    return (ParityPhase("N", "X", dagger=True, depth=d), ParityPhase("N", "Z", dagger=True, depth=d))


def protocol_stages(layout: Layout, *, depth: str = "linear", decrypt: Literal["clone", "A"] | None = None) -> tuple[Stage, ...]:
    """The protocol of ``layout`` as stages, in time order: Bell pairs, encryption, optional decryption.

    ``decrypt="clone"`` decrypts, for each operator, its own clone j;
    ``"A"`` decrypts A (even n only).
    """
    if decrypt == "A":
        layout.check_target("A")
    elif decrypt not in (None, "clone"):
        raise InvalidArgumentError(f"decrypt is 'clone', 'A' or None, got {decrypt!r}")
    stages: tuple[Stage, ...] = (BellPairs(), *encryption_stages(depth))
    if decrypt == "clone":
        stages += (CloneDecryption(),)
    elif decrypt == "A":
        stages += input_decryption_stages(depth)
    return stages


class UniformPaulis:
    """k uniform Pauli operators on A, S_1..S_n, N_1..N_n (see the module doc), changed in place.

    Bits are uint8 arrays of length k, one per slot and letter; ``j`` is each
    operator's own clone (1..n); ``phase`` the exponent of i in front of X^x Z^z.
    """

    def __init__(self, clones: int, j: np.ndarray) -> None:
        self.n = int(clones)
        if self.n < 1:
            raise InvalidArgumentError(f"clones must be at least 1, got {clones}")
        self.j = np.asarray(j, dtype=np.int64)
        if self.j.size and (self.j.min() < 1 or self.j.max() > self.n):
            raise InvalidArgumentError(f"clone numbers must lie in 1..{self.n}")
        k = self.j.size
        self.x = {s: np.zeros(k, dtype=np.uint8) for s in SLOTS}
        self.z = {s: np.zeros(k, dtype=np.uint8) for s in SLOTS}
        self.phase = np.zeros(k, dtype=np.int64)
        #: how many qubits each slot stands for, mod 4 (phases and parities count the background n - 1 times)
        self.count = {"A": 1, "S": (self.n - 1) % 4, "j": 1, "N": (self.n - 1) % 4, "t": 1}

    @property
    def size(self) -> int:
        return int(self.j.size)

    @classmethod
    def single(cls, clones: int, slot: Block, j: Sequence[int] | np.ndarray, letters: Sequence[str]) -> UniformPaulis:
        """Operator c is ``letters[c]`` (X, Y or Z) on one qubit: A, or S_j / N_j of clone ``j[c]``."""
        if slot not in ("A", "j", "t"):
            raise InvalidArgumentError("a single-qubit operator sits on A, S_j ('j') or N_j ('t')")
        ops = cls(clones, np.asarray(j, dtype=np.int64))
        let = np.asarray(letters)
        if let.shape != ops.j.shape or not np.isin(let, ["X", "Y", "Z"]).all():
            raise InvalidArgumentError("one letter X, Y or Z per operator")
        ops.x[slot][:] = let != "Z"
        ops.z[slot][:] = let != "X"
        ops.phase[:] = let == "Y"  # Y = i·X·Z
        return ops

    def pair(self, x_column: int, z_column: int) -> UniformPaulis:
        """Two columns as a new batch (for :func:`bell_pair_restored` of one clone)."""
        out = UniformPaulis(self.n, self.j[[x_column, z_column]])
        for s in SLOTS:
            out.x[s][:] = self.x[s][[x_column, z_column]]
            out.z[s][:] = self.z[s][[x_column, z_column]]
        out.phase[:] = self.phase[[x_column, z_column]]
        return out

    # --- elementary updates (conjugation P -> G P G†; G self-inverse unless noted) -------------

    def _h(self, s: Block) -> None:
        self.phase += 2 * self.count[s] * (self.x[s] & self.z[s]).astype(np.int64)
        self.x[s], self.z[s] = self.z[s], self.x[s]

    def _s(self, s: Block, dagger: bool) -> None:
        self.phase += (3 if dagger else 1) * self.count[s] * self.x[s].astype(np.int64)
        self.z[s] = self.z[s] ^ self.x[s]

    def _cx(self, c: Block, t: Block, fan: int = 1) -> None:
        """CX from every qubit of ``c`` to every of ``t``, both single or a fan from one to the background."""
        self.x[t] = self.x[t] ^ self.x[c]
        self.z[c] = self.z[c] ^ (self.z[t] * (fan % 2)).astype(np.uint8)

    def _cz(self, a: Block, b: Block, fan: int = 1) -> None:
        self.phase += 2 * (fan % 2) * (self.x[a] & self.x[b]).astype(np.int64)
        za = self.z[a] ^ (self.x[b] * (fan % 2)).astype(np.uint8)
        self.z[b] = self.z[b] ^ self.x[a]
        self.z[a] = za

    def _parity_phase(self, stage: ParityPhase, forward: bool) -> None:
        slots: tuple[Block, ...] = ("A", stage.register, "j" if stage.register == "S" else "t")
        across = self.x if stage.basis == "Z" else self.z  # bits that anticommute with P
        odd = np.zeros(self.size, dtype=np.uint8)
        for s in slots:
            odd ^= across[s] * (self.count[s] % 2)
        odd = odd.astype(bool)
        # U = exp(-iθP): U† Q U = -i·Q·P (θ = π/4), U Q U† = +i·Q·P; the dagger flips both
        sign = 1 if (forward != stage.dagger) else 3
        if stage.basis == "Z":
            flip = self.z  # X^x Z^z · Z^p: no reordering
            extra = 0
        else:
            flip = self.x  # X^x Z^z · X^p = (-1)^(z·p) X^(x+p) Z^z, and z·p is odd here
            extra = 2
        self.phase += np.where(odd, sign + extra, 0)
        for s in slots:
            flip[s] = flip[s] ^ odd.astype(np.uint8)

    def _clone_decryption(self, forward: bool) -> None:
        fan = self.n - 1
        dagger = not forward  # pulling back through S conjugates by S†
        steps: list[Callable[[], None]] = [
            lambda: self._cx("j", "t"), lambda: self._h("j"),
            lambda: self._cz("j", "N", fan), lambda: self._cx("t", "N", fan),  # the fan-outs to every N_k, k != j
            lambda: self._s("j", dagger), lambda: self._s("t", dagger), lambda: self._cz("j", "t"),
            lambda: self._h("j"), lambda: self._cx("j", "t"),
        ]
        for step in steps if forward else reversed(steps):
            step()

    def _bell_pairs(self, forward: bool) -> None:
        def cx_layer() -> None:  # CX(S_k -> N_k) for every k, the background pairs and (S_j, N_j)
            self._cx("S", "N")
            self._cx("j", "t")

        def h_layer() -> None:
            self._h("S")
            self._h("j")

        if forward:
            h_layer()
            cx_layer()
        else:
            cx_layer()
            h_layer()

    def _apply(self, stage: Stage, forward: bool) -> None:
        if isinstance(stage, BellPairs):
            self._bell_pairs(forward)
        elif isinstance(stage, ParityPhase):
            self._parity_phase(stage, forward)
        elif isinstance(stage, CloneDecryption):
            self._clone_decryption(forward)
        else:
            raise InvalidArgumentError(f"not a protocol stage: {stage!r}")
        self.phase %= 4

    def pull_back(self, stages: Sequence[Stage]) -> None:
        """P -> U† P U for U the stages in time order (the observable before them)."""
        for stage in reversed(stages):
            self._apply(stage, forward=False)

    def conjugate_by(self, stages: Sequence[Stage]) -> None:
        """P -> U P U† for U the stages in time order."""
        for stage in stages:
            self._apply(stage, forward=True)

    # --- reading -------------------------------------------------------------------------

    def _background(self) -> np.uint8:
        return np.uint8(self.n > 1)  # with one clone the background has no qubits

    def any_x_off_input(self) -> np.ndarray:
        """Per operator: an X or Y anywhere but on A."""
        bg = self._background()
        return ((self.x["S"] | self.x["N"]) & bg | self.x["j"] | self.x["t"]).astype(bool)

    def any_support_on_key(self) -> np.ndarray:
        """Per operator: acts on some N_k."""
        bg = self._background()
        return ((self.x["N"] | self.z["N"]) & bg | self.x["t"] | self.z["t"]).astype(bool)

    def signs(self) -> np.ndarray:
        """+1 or -1 per operator written as a product of Hermitian Paulis."""
        ys = sum(self.count[s] * (self.x[s] & self.z[s]).astype(np.int64) for s in SLOTS)
        e = (self.phase - ys) % 4
        if np.any(e % 2):
            raise InvalidArgumentError("an operator is not Hermitian")
        return np.where(e == 0, 1, -1)

    def dense(self, columns: Sequence[int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(x, z) as (2n + 1, len(columns)) bool arrays, qubits in the layout's order (small n only)."""
        cols = np.arange(self.size) if columns is None else np.asarray(columns, dtype=np.int64)
        n = self.n
        out = []
        for bits in (self.x, self.z):
            d = np.zeros((2 * n + 1, cols.size), dtype=bool)
            d[0] = bits["A"][cols]
            d[1 : n + 1] = bits["S"][cols]
            d[n + 1 :] = bits["N"][cols]
            c = np.arange(cols.size)
            d[self.j[cols], c] = bits["j"][cols]
            d[n + self.j[cols], c] = bits["t"][cols]
            out.append(d)
        return out[0], out[1]


def bell_pair_restored(ops: UniformPaulis, *, x_columns: np.ndarray | None = None) -> np.ndarray:
    """For pulled-back pairs (X_out at column c, Z_out at c + 1): is (R, out) exactly in |Φ+⟩?

    As :func:`qclone.sim.heisenberg.bell_pair_columns`: U† X U = +X_A·(Z's) and U† Z U = +Z_A·(Z's).
    """
    c = np.arange(0, ops.size, 2) if x_columns is None else np.asarray(x_columns, dtype=np.int64)
    off = ops.any_x_off_input()
    ax, az = ops.x["A"].astype(bool), ops.z["A"].astype(bool)
    signs = ops.signs()
    x_ok = ~off[c] & ax[c] & ~az[c] & (signs[c] == 1)
    z_ok = ~off[c + 1] & ~ax[c + 1] & az[c + 1] & (signs[c + 1] == 1)
    return np.asarray(x_ok & z_ok, dtype=bool)


@dataclass(frozen=True)
class SingleQubitInformation:
    """Per single-qubit set (its X, Y, Z pulled back at columns 3i, 3i+1, 3i+2): I(R : qubit) and more."""

    bits: np.ndarray
    maximally_mixed: np.ndarray
    #: bit 0: X of R leaks, bit 1: Z, bit 2: Y
    leaked: np.ndarray


def single_qubit_information(ops: UniformPaulis) -> SingleQubitInformation:
    """I(R : q) for sets of one qubit, read as :func:`qclone.sim.heisenberg.read_reference_information`.

    Columns come in threes: X, Z, Y of the qubit (the order of
    :func:`qclone.sim.heisenberg.reference_batch`).
    """
    if ops.size % 3:
        raise InvalidArgumentError("columns must come in threes (X, Z, Y of each qubit)")
    inside = ~ops.any_x_off_input().reshape(-1, 3)
    code = (ops.x["A"].astype(np.int64) + 2 * ops.z["A"].astype(np.int64)).reshape(-1, 3)
    mask = np.bitwise_or.reduce(np.where(inside, 1 << code, 1), axis=1) | 1
    parts = (mask & 1) + (mask >> 1 & 1) + (mask >> 2 & 1) + (mask >> 3 & 1)
    return SingleQubitInformation(np.log2(parts), np.asarray(~inside.any(axis=1)), mask >> 1)


LEAK_LETTERS = ("X", "Z", "Y")


def leaked_letters(mask: int) -> tuple[str, ...]:
    """The letters of R a :class:`SingleQubitInformation` ``leaked`` entry names, sorted."""
    return tuple(sorted(letter for b, letter in enumerate(LEAK_LETTERS) if mask >> b & 1))


# --- the cross-check against a gate list ---------------------------------------------------------


def random_uniform(clones: int, size: int, seed: int = 0, *, j: np.ndarray | None = None) -> UniformPaulis:
    """``size`` random uniform Hermitian operators (random bits in every slot, random sign)."""
    rng = np.random.default_rng(seed)
    ops = UniformPaulis(clones, rng.integers(1, clones + 1, size=size) if j is None else j)
    for s in SLOTS:
        ops.x[s][:] = rng.integers(0, 2, size=ops.size)
        ops.z[s][:] = rng.integers(0, 2, size=ops.size)
    ys = sum(ops.count[s] * (ops.x[s] & ops.z[s]).astype(np.int64) for s in SLOTS)
    ops.phase[:] = (ys + 2 * rng.integers(0, 2, size=ops.size)) % 4  # Hermitian: i^#Y times ±1
    return ops


def _pack(bits: np.ndarray, words: int) -> np.ndarray:
    """Bits of the operators (one per column) as ``words`` 64-bit words (operator c: bit c % 64 of word c // 64)."""
    raw = np.zeros(words * 64, dtype=bool)
    raw[: bits.size] = bits
    return np.packbits(raw, bitorder="little").view("<u8").astype(np.uint64)


def packed_words(ops: UniformPaulis) -> tuple[np.ndarray, np.ndarray]:
    """(x, z) of all operators as (2n + 1, words) uint64 arrays, the layout of :class:`PauliBatch`.

    Built from the uniform bits without a dense bit table: each register's
    background word broadcast, then the few rows of the operators' own S_j and
    N_j patched (operators sharing a row patch it together).
    """
    n, k = ops.n, ops.size
    words = max(1, -(-k // 64))
    col = np.arange(k)
    bit = np.left_shift(np.uint64(1), (col % 64).astype(np.uint64))
    out = []
    for bits in (ops.x, ops.z):
        w = np.empty((2 * n + 1, words), dtype=np.uint64)
        w[0] = _pack(bits["A"].astype(bool), words)
        w[1 : n + 1] = _pack(bits["S"].astype(bool), words)
        w[n + 1 :] = _pack(bits["N"].astype(bool), words)
        patches: tuple[tuple[Block, np.ndarray], ...] = (("j", ops.j), ("t", n + ops.j))
        for slot, rows in patches:
            # clear the operators' own bits on their rows, then set them from the slot
            np.bitwise_and.at(w, (rows, col // 64), ~bit)
            own = bits[slot].astype(bool)
            np.bitwise_or.at(w, (rows[own], col[own] // 64), bit[own])
        out.append(w)
    return out[0], out[1]


def to_batch(ops: UniformPaulis) -> PauliBatch:
    """The operators as a dense :class:`PauliBatch` (for the gate-by-gate cross-check)."""
    batch = PauliBatch(2 * ops.n + 1, ops.size)
    batch.x[...], batch.z[...] = packed_words(ops)
    batch.phase[:] = ops.phase
    return batch


def agrees_with_circuit(clones: int, stages: Sequence[Stage], circuit: Circuit, *, j: int | np.ndarray | None = None,
                        size: int = 64, seed: int = 0, forward: bool = False) -> bool:
    """Whether ``circuit`` (a gate list) acts as ``stages``: random uniform Paulis agree exactly.

    ``size`` random operators (their own clones ``j``: one for all, one
    each, or random) are pulled back (or, with ``forward``, conjugated)
    through the stages here and, gate by gate, through ``circuit`` with
    :class:`PauliBatch`; every bit and every sign must match.
    """
    rng_j = None if j is None else np.broadcast_to(np.asarray(j, dtype=np.int64), (size,)).copy()
    ops = random_uniform(clones, size, seed, j=rng_j)
    batch = to_batch(ops)
    if forward:
        ops.conjugate_by(stages)
        batch.conjugate_by(circuit)
    else:
        ops.pull_back(stages)
        batch.pull_back(circuit)
    x, z = packed_words(ops)
    return bool(np.array_equal(x, batch.x) and np.array_equal(z, batch.z) and np.array_equal(ops.phase % 4, batch.phase % 4))
