"""Heisenberg-picture propagation of many Pauli operators at once, bit-parallel in numpy.

A full stabilizer tableau of m qubits costs O(m²) memory (about 500 GB at
m = 2·10^6); the questions verification asks need only a few Pauli operators
pushed through the circuit, which costs time linear in the circuit and
memory linear in m. :class:`PauliBatch` holds k operators on m qubits as
``i^phase · X^x Z^z`` with the x and z bits packed 64 columns to a word
(operator c is bit ``c % 64`` of word ``c // 64``), and conjugates all of them
by a :class:`~qclone.protocol.Circuit` one *instruction* at a time: a layer of
gates on distinct qubits, a fan-out (CX with no control among the targets, or
any CZ: the gates commute) and a CX ladder (a prefix XOR) are each a handful of
numpy operations, however many targets they have. Other shapes fall back to a
loop over the gates (correct, slower; qclone's circuits never need it).

On top of the propagation sit the two exact questions verification asks of a
circuit U that starts with an input qubit ``a`` maximally entangled with an
outside reference R and every other qubit in |0⟩ (the layout of
:func:`qclone.protocol.protocol_circuit`):

* :func:`reference_information`: I(R : Q) in bits for a small set of qubits Q
  (0, 1 or 2), and whether Q is maximally mixed whatever the input;
* :func:`bell_pair_restored`: whether (R, q) ends in |Φ+⟩ exactly, signs
  included.

Both use the pull-back U† P U of Paulis P on Q: R ⊗ P is a stabilizer of the
final state iff U† P U is, up to sign, (that Pauli on ``a``) times a product of
Z's on the qubits that start in |0⟩.

Examples:
    >>> from qclone.protocol import Layout, protocol_circuit
    >>> lay = Layout(3)
    >>> bell_pair_restored(protocol_circuit(lay, decrypt=2), lay.S(2))
    True
    >>> reference_information(protocol_circuit(lay), [lay.S(1)]).bits
    0.0
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import stim

from qclone.errors import InvalidArgumentError
from qclone.protocol.circuit import ONE_QUBIT_GATES, TWO_QUBIT_GATES, Circuit, Instruction

_WORD = 64
_LETTERS = ("X", "Y", "Z")


def _words(size: int) -> int:
    return max(1, -(-size // _WORD))


class PauliBatch:
    """``size`` Pauli operators on ``num_qubits`` qubits, changed in place by conjugation.

    Args:
        num_qubits: qubits of every operator.
        size: how many operators (columns).

    Examples:
        >>> from qclone.protocol import Circuit
        >>> b = PauliBatch.from_letters(2, [{0: "X"}, {1: "Z"}])
        >>> b.conjugate_by(Circuit((("q", 2),)).append("CX", [0, 1]))
        >>> [str(b.to_stim(c)) for c in range(2)]
        ['+XX', '+ZZ']
    """

    def __init__(self, num_qubits: int, size: int) -> None:
        if num_qubits < 1 or size < 1:
            raise InvalidArgumentError("a Pauli batch needs at least one qubit and one operator")
        self.num_qubits = int(num_qubits)
        self.size = int(size)
        self.x = np.zeros((self.num_qubits, _words(size)), dtype=np.uint64)
        self.z = np.zeros((self.num_qubits, _words(size)), dtype=np.uint64)
        #: exponent of i in front of X^x Z^z, per operator (mod 4)
        self.phase = np.zeros(self.size, dtype=np.int64)
        # scratch space for O(k) tests of an instruction's k targets (np.unique would sort or hash)
        self._slot = np.zeros(self.num_qubits, dtype=np.int64)
        self._flag = np.zeros(self.num_qubits, dtype=bool)

    @classmethod
    def from_letters(cls, num_qubits: int, paulis: Sequence[Mapping[int, str]]) -> PauliBatch:
        """Operators given as ``{qubit: "X" | "Y" | "Z"}`` (Hermitian, sign +)."""
        batch = cls(num_qubits, len(paulis))
        cols, qubits, letters = [], [], []
        for c, p in enumerate(paulis):
            for q, letter in p.items():
                if letter not in _LETTERS:
                    raise InvalidArgumentError(f"not a Pauli letter: {letter!r}")
                if not 0 <= int(q) < num_qubits:
                    raise InvalidArgumentError(f"qubit {q} outside 0..{num_qubits - 1}")
                cols.append(c)
                qubits.append(int(q))
                letters.append(letter)
        if cols:
            col = np.asarray(cols, dtype=np.int64)
            rows = np.asarray(qubits, dtype=np.int64)
            let = np.asarray(letters)
            bit = np.left_shift(np.uint64(1), (col % _WORD).astype(np.uint64))
            has_x = let != "Z"
            has_z = let != "X"
            np.bitwise_or.at(batch.x, (rows[has_x], col[has_x] // _WORD), bit[has_x])
            np.bitwise_or.at(batch.z, (rows[has_z], col[has_z] // _WORD), bit[has_z])
            # Y = i·X·Z
            np.add.at(batch.phase, col[let == "Y"], 1)
        return batch

    def copy(self) -> PauliBatch:
        other = PauliBatch(self.num_qubits, self.size)
        other.x[...] = self.x
        other.z[...] = self.z
        other.phase[...] = self.phase
        return other

    @classmethod
    def stack(cls, batches: Sequence[PauliBatch]) -> PauliBatch:
        """One batch holding the operators of ``batches`` side by side, in order."""
        if not batches:
            raise InvalidArgumentError("nothing to stack")
        out = cls(batches[0].num_qubits, sum(b.size for b in batches))
        offset = 0
        for b in batches:
            out.place(b, offset)
            offset += b.size
        return out

    def place(self, other: PauliBatch, offset: int, *, rows: Sequence[slice] = (slice(None),)) -> None:
        """Write the operators of ``other`` into columns ``offset ..`` (which must be identity).

        ``rows``: where ``other`` may act non-trivially (a promise that saves
        passes over the other rows; default everywhere).
        """
        if other.num_qubits != self.num_qubits:
            raise InvalidArgumentError("placed batches must act on the same qubits")
        if offset < 0 or offset + other.size > self.size:
            raise InvalidArgumentError(f"columns {offset}..{offset + other.size - 1} outside 0..{self.size - 1}")
        for w in range(other.x.shape[1]):
            start = offset + _WORD * w
            width = min(_WORD, other.size - _WORD * w)
            dw, shift = divmod(start, _WORD)
            for src, dst in ((other.x, self.x), (other.z, self.z)):
                for r in rows:
                    dst[r, dw] |= src[r, w] << np.uint64(shift)
                    if shift and shift + width > _WORD:
                        dst[r, dw + 1] |= src[r, w] >> np.uint64(_WORD - shift)
        self.phase[offset : offset + other.size] = other.phase

    # --- reading the operators -------------------------------------------------------

    def _bits(self, words: np.ndarray) -> np.ndarray:
        """Column bits of one row of words: (size,) bool."""
        raw = np.ascontiguousarray(words, dtype="<u8").view(np.uint8)
        return np.unpackbits(raw, bitorder="little")[: self.size].astype(bool)

    def x_bits(self, qubit: int) -> np.ndarray:
        """Per operator: whether it has X or Y on ``qubit``."""
        return self._bits(self.x[qubit])

    def z_bits(self, qubit: int) -> np.ndarray:
        """Per operator: whether it has Z or Y on ``qubit``."""
        return self._bits(self.z[qubit])

    def any_x(self, qubits: slice | np.ndarray) -> np.ndarray:
        """Per operator: whether it has an X or Y on any of ``qubits``."""
        return self._bits(np.bitwise_or.reduce(self.x[qubits], axis=0))

    def any_x_except(self, qubit: int) -> np.ndarray:
        """Per operator: whether it has an X or Y on any qubit other than ``qubit``."""
        words = np.bitwise_or.reduce(self.x[:qubit], axis=0) | np.bitwise_or.reduce(self.x[qubit + 1 :], axis=0)
        return self._bits(words)

    def any_support(self, qubits: slice | np.ndarray) -> np.ndarray:
        """Per operator: whether it acts non-trivially on any of ``qubits``."""
        return self._bits(np.bitwise_or.reduce(self.x[qubits] | self.z[qubits], axis=0))

    def signs(self) -> np.ndarray:
        """The sign (+1 or -1) of every operator written as a product of Hermitian Paulis.

        Raises:
            InvalidArgumentError: if an operator is not Hermitian (sign ±i), which a
                Clifford conjugation of a Hermitian Pauli never produces.
        """
        y = self.x & self.z
        rows = np.flatnonzero(y.any(axis=1))
        ys = _column_counts(y[rows], self.size) if rows.size else np.zeros(self.size, dtype=np.int64)
        e = (self.phase - ys) % 4
        if np.any(e % 2):
            raise InvalidArgumentError("a Pauli operator in the batch is not Hermitian")
        return np.where(e == 0, 1, -1)

    def to_stim(self, column: int) -> stim.PauliString:
        """Operator ``column`` as a ``stim.PauliString`` (for small checks and tests)."""
        word, bit = divmod(int(column), _WORD)
        xs = ((self.x[:, word] >> np.uint64(bit)) & np.uint64(1)).astype(bool)
        zs = ((self.z[:, word] >> np.uint64(bit)) & np.uint64(1)).astype(bool)
        e = int((self.phase[column] - np.count_nonzero(xs & zs)) % 4)
        return stim.PauliString.from_numpy(xs=xs, zs=zs, sign=(1, 1j, -1, -1j)[e])

    # --- conjugation -------------------------------------------------------------------

    def conjugate_by(self, circuit: Circuit | Iterable[Instruction]) -> None:
        """P → U P U† for every operator, U the circuit (Schrödinger picture of a stabilizer)."""
        instructions = circuit.instructions if isinstance(circuit, Circuit) else tuple(circuit)
        self._check_bounds(instructions)
        for ins in instructions:
            self._apply(ins.name, ins.targets)

    def pull_back(self, circuit: Circuit | Iterable[Instruction]) -> None:
        """P → U† P U for every operator (Heisenberg picture: the observable before U).

        Walks the instructions backwards with inverted gates, without building
        the inverse circuit.
        """
        instructions = circuit.instructions if isinstance(circuit, Circuit) else tuple(circuit)
        self._check_bounds(instructions)
        for ins in reversed(instructions):
            inverse = ONE_QUBIT_GATES.get(ins.name, ins.name)
            if ins.arity == 1:
                self._apply(inverse, ins.targets[::-1])
            else:
                pairs = ins.targets.reshape(-1, 2)[::-1]
                self._two_qubit(inverse, pairs[:, 0], pairs[:, 1])

    def _check_bounds(self, instructions: Sequence[Instruction]) -> None:
        for ins in instructions:
            if ins.targets.size and ins.bounds[1] >= self.num_qubits:
                raise InvalidArgumentError(f"instruction {ins.name} targets qubit {ins.bounds[1]} of a {self.num_qubits}-qubit batch")

    def _apply(self, name: str, targets: np.ndarray) -> None:
        if name in TWO_QUBIT_GATES:
            self._two_qubit(name, targets[0::2], targets[1::2])
        else:
            self._one_qubit(name, targets)

    def _distinct(self, q: np.ndarray) -> bool:
        """Whether the qubits ``q`` are pairwise different."""
        if _monotone(q):
            return True
        order = np.arange(q.size)
        self._slot[q] = order  # on a repeat the last write wins, so the read-back differs
        return bool(np.array_equal(self._slot[q], order))

    def _distinct_pair(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether the qubits of ``a`` and ``b`` together are pairwise different."""
        if _monotone(a) and _monotone(b) and (a.max() < b.min() or b.max() < a.min()):
            return True
        return self._distinct(np.concatenate([a, b]))

    def _overlap(self, a: np.ndarray, b: np.ndarray) -> bool:
        self._flag[a] = True
        hit = bool(self._flag[b].any())
        self._flag[a] = False
        return hit

    def _fan(self, hub: np.ndarray, spokes: np.ndarray) -> tuple[int, list[np.ndarray | slice]] | None:
        """If every gate pairs one ``hub`` qubit with distinct other ``spokes``: the hub and the spokes as runs."""
        if hub.size < 2 or hub[0] != hub[-1] or bool(np.any(hub != hub[0])):
            return None
        h = int(hub[0])
        if spokes.size > 1 and spokes[0] > spokes[-1]:
            spokes = spokes[::-1]  # the gates of a fan commute: walk it in increasing order
        step = np.diff(spokes)
        if bool(np.all(step > 0)):  # increasing: distinct, and h is found by bisection
            k = int(np.searchsorted(spokes, h))
            if k < spokes.size and spokes[k] == h:
                return None
            breaks = np.flatnonzero(step != 1) + 1
            if breaks.size <= 8:
                bounds = [0, *breaks.tolist(), spokes.size]
                return h, [slice(int(spokes[i]), int(spokes[j - 1]) + 1) for i, j in zip(bounds[:-1], bounds[1:])]
            return h, [spokes]
        if bool(np.all(spokes != h)) and self._distinct(spokes):
            return h, _runs(spokes)
        return None

    def _parity(self, rows: np.ndarray) -> np.ndarray:
        return self._bits(np.bitwise_xor.reduce(rows, axis=0)).astype(np.int64)

    def _one_qubit(self, name: str, t: np.ndarray) -> None:
        if not self._distinct(t):
            for q in t:  # a qubit repeated inside one instruction: apply one at a time
                self._one_qubit(name, np.asarray([q]))
            return
        if t.size > 1 and t[0] > t[-1]:
            t = t[::-1]  # distinct targets: the order does not matter
        for run in _runs(t):
            self._one_qubit_rows(name, run)

    def _one_qubit_rows(self, name: str, t: np.ndarray | slice) -> None:
        x, z = self.x, self.z
        if name == "I":
            return
        if name == "H":
            self.phase += 2 * self._parity(x[t] & z[t])
            xt = x[t].copy()
            x[t] = z[t]
            z[t] = xt
        elif name in ("S", "S_DAG"):
            self.phase += (1 if name == "S" else 3) * _column_counts(x[t], self.size)
            z[t] ^= x[t]
        elif name in ("SQRT_X", "SQRT_X_DAG"):
            self.phase += (3 if name == "SQRT_X" else 1) * _column_counts(z[t], self.size)
            x[t] ^= z[t]
        elif name == "X":
            self.phase += 2 * self._parity(z[t])
        elif name == "Z":
            self.phase += 2 * self._parity(x[t])
        elif name == "Y":
            self.phase += 2 * self._parity(x[t] ^ z[t])
        else:  # pragma: no cover - Instruction validates names
            raise InvalidArgumentError(f"unknown gate {name!r}")
        self.phase %= 4

    def _two_qubit(self, name: str, a: np.ndarray, b: np.ndarray) -> None:
        x, z = self.x, self.z
        if name == "CZ":
            # CZs commute and leave x unchanged: every gate sees the same x
            for hub, spokes in ((a, b), (b, a)):
                fan = self._fan(hub, spokes)
                if fan is not None:
                    h, runs = fan
                    x_spokes = _xor_rows(x, runs)
                    self.phase = (self.phase + 2 * self._bits(x[h] & x_spokes)) % 4
                    z[h] ^= x_spokes
                    for r in runs:
                        z[r] ^= x[h]
                    return
            xa, xb = x[a], x[b]
            self.phase = (self.phase + 2 * self._parity(xa & xb)) % 4
            if self._distinct_pair(a, b):
                z[a] ^= xb
                z[b] ^= xa
            else:
                _xor_at(z, a, xb)
                _xor_at(z, b, xa)
            return
        if name == "SWAP":
            if self._distinct_pair(a, b):
                xa, za = x[a].copy(), z[a].copy()
                x[a], z[a] = x[b], z[b]
                x[b], z[b] = xa, za
            else:
                for i in range(a.size):
                    self._two_qubit(name, a[i : i + 1], b[i : i + 1])
            return
        # CX: X_c -> X_c X_t, Z_t -> Z_c Z_t; X-type images stay X-type, so no phase
        fan = self._fan(a, b)
        if fan is not None:  # fan-out from one control
            c, runs = fan
            for r in runs:
                x[r] ^= x[c]
            z[c] ^= _xor_rows(z, runs)
            return
        fan = self._fan(b, a)
        if fan is not None:  # many controls onto one target
            t, runs = fan
            x[t] ^= _xor_rows(x, runs)
            for r in runs:
                z[r] ^= z[t]
            return
        if a.size > 1 and np.array_equal(b[:-1], a[1:]) and self._distinct(np.concatenate([a[:1], b])):
            # ladder q0 -> q1 -> q2 ...: x accumulates forward, z takes the next old value
            q = _one_run(np.concatenate([a[:1], b]))
            x[q] = np.bitwise_xor.accumulate(x[q], axis=0)
            zq = z[q]
            z[_head(q)] = zq[:-1] ^ zq[1:]
            return
        if a.size > 1 and np.array_equal(a[:-1], b[1:]) and self._distinct(np.concatenate([a, b[:1]])):
            # ladder walked back down (q_L -> q_{L+1} first): x takes the old value below, z accumulates down
            q = _one_run(np.concatenate([a[::-1], b[:1]]))
            xq = x[q]
            x[_tail(q)] = xq[1:] ^ xq[:-1]
            z[q] = np.bitwise_xor.accumulate(z[q][::-1], axis=0)[::-1]
            return
        if self._distinct_pair(a, b):
            if a.size > 1 and a[0] > a[-1] and b[0] > b[-1]:
                a, b = a[::-1], b[::-1]  # distinct qubits: the gates commute; keep each pair together
            ra, rb = _runs(a), _runs(b)
            if len(ra) == 1 and len(rb) == 1:  # one run each: views, no gathers
                a, b = ra[0], rb[0]  # type: ignore[assignment]  # a run is an array or a slice; both index rows alike
            x[b] ^= x[a]
            z[a] ^= z[b]
        elif not self._overlap(a, b):
            # no control is a target: the gates commute
            xa, zb = x[a], z[b]
            _xor_at(x, b, xa)
            _xor_at(z, a, zb)
        else:
            for i in range(a.size):
                self._two_qubit(name, a[i : i + 1], b[i : i + 1])


def _monotone(q: np.ndarray) -> bool:
    """Strictly increasing or strictly decreasing (hence no repeats)."""
    return q.size < 2 or bool(np.all(q[1:] > q[:-1])) or bool(np.all(q[1:] < q[:-1]))


def _one_run(q: np.ndarray) -> np.ndarray | slice:
    runs = _runs(q)
    return runs[0] if len(runs) == 1 else q


def _head(q: np.ndarray | slice) -> np.ndarray | slice:
    """All but the last of ``q``."""
    return slice(q.start, q.stop - 1) if isinstance(q, slice) else q[:-1]


def _tail(q: np.ndarray | slice) -> np.ndarray | slice:
    """All but the first of ``q``."""
    return slice(q.start + 1, q.stop) if isinstance(q, slice) else q[1:]


def _runs(q: np.ndarray) -> list[np.ndarray | slice]:
    """``q`` as a few slices when it is a few runs of consecutive qubits (views instead of gathers)."""
    if q.size <= 64:
        return [q]
    breaks = np.flatnonzero(np.diff(q) != 1) + 1
    if breaks.size > 8:
        return [q]
    bounds = [0, *breaks.tolist(), q.size]
    return [slice(int(q[i]), int(q[j - 1]) + 1) for i, j in zip(bounds[:-1], bounds[1:])]


def _xor_rows(arr: np.ndarray, runs: list[np.ndarray | slice]) -> np.ndarray:
    """XOR of the rows of ``arr`` listed in ``runs``."""
    out = np.zeros(arr.shape[1], dtype=arr.dtype)
    for r in runs:
        out ^= np.bitwise_xor.reduce(arr[r], axis=0)
    return out


def _xor_at(arr: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """arr[rows] ^= values with repeated rows accumulating (one word column at a time: numpy's fast path)."""
    for w in range(arr.shape[1]):
        col = np.ascontiguousarray(arr[:, w])
        np.bitwise_xor.at(col, rows, np.ascontiguousarray(values[:, w]))
        arr[:, w] = col


def _column_counts(rows: np.ndarray, size: int) -> np.ndarray:
    """Per column, how many of ``rows`` (an (r, words) array) have the bit set."""
    counts = np.zeros(size, dtype=np.int64)
    chunk = 1 << 15
    for start in range(0, rows.shape[0], chunk):
        raw = np.ascontiguousarray(rows[start : start + chunk], dtype="<u8").view(np.uint8)
        counts += np.unpackbits(raw, axis=1, bitorder="little")[:, :size].sum(axis=0, dtype=np.int64)
    return counts


# --- the two exact questions about a reference qubit -------------------------------------


@dataclass(frozen=True)
class ReferenceInformation:
    """What a set of qubits knows about the input, with the input maximally entangled with R.

    ``bits`` is the mutual information I(R : qubits): 0 (nothing), 1 (one Bloch
    component, e.g. Y) or 2 (everything). ``maximally_mixed``: the reduced state
    of the qubits is maximally mixed for every input. ``leaked``: the Paulis of R
    (``"X"``, ``"Y"``, ``"Z"``) that the qubits are correlated with.
    """

    qubits: tuple[int, ...]
    bits: float
    maximally_mixed: bool
    leaked: tuple[str, ...]


def _group_elements(k: int) -> np.ndarray:
    """All 4^k - 1 non-identity Pauli exponents on k qubits: rows (x bits, z bits)."""
    codes = np.arange(1, 4**k)
    bits = (codes[:, None] >> np.arange(2 * k)) & 1
    return bits.astype(bool)


#: Largest set reference_information enumerates (4^k - 1 operators are pulled back).
MAX_REFERENCE_SET = 6


def reference_information(
    circuit: Circuit,
    qubits: Sequence[int],
    *,
    input_qubit: int = 0,
) -> ReferenceInformation:
    """I(R : qubits) after ``circuit``, exactly, by pulling Paulis back (see module doc).

    Args:
        circuit: U, acting on ``input_qubit`` (maximally entangled with R) and on
            qubits that start in |0⟩.
        qubits: a small set (at most :data:`MAX_REFERENCE_SET` qubits).
        input_qubit: the qubit entangled with R.

    Raises:
        InvalidArgumentError: for a set that is empty, too large or repeats a qubit.
    """
    return reference_information_many(circuit, [qubits], input_qubit=input_qubit)[0]


def reference_information_many(
    circuit: Circuit,
    sets: Sequence[Sequence[int]],
    *,
    input_qubit: int = 0,
    pulled: PauliBatch | None = None,
) -> list[ReferenceInformation]:
    """:func:`reference_information` for many small sets in one bit-parallel pass.

    ``pulled`` may hand in the batch already pulled back (as built by
    :func:`reference_batch`), which lets callers share one propagation.
    """
    batch, slices = reference_batch(circuit.num_qubits, sets) if pulled is None else (pulled, _slices(sets))
    if pulled is None:
        batch.pull_back(circuit)
    return read_reference_information(batch, sets, slices, input_qubit=input_qubit)


def _check_set(qs: Sequence[int], m: int) -> tuple[int, ...]:
    t = tuple(int(q) for q in qs)
    if not t or len(t) > MAX_REFERENCE_SET or len(set(t)) != len(t) or any(not 0 <= q < m for q in t):
        raise InvalidArgumentError(
            f"a qubit set must hold 1..{MAX_REFERENCE_SET} distinct qubits in 0..{m - 1}, got {list(t)}"
        )
    return t


def _slices(sets: Sequence[Sequence[int]]) -> list[slice]:
    out, start = [], 0
    for qs in sets:
        k = 4 ** len(qs) - 1
        out.append(slice(start, start + k))
        start += k
    return out


def reference_batch(num_qubits: int, sets: Sequence[Sequence[int]]) -> tuple[PauliBatch, list[slice]]:
    """Every non-identity Pauli on each set, as one batch (not yet propagated)."""
    paulis: list[dict[int, str]] = []
    for qs in sets:
        t = _check_set(qs, num_qubits)
        for row in _group_elements(len(t)):
            xs, zs = row[: len(t)], row[len(t):]
            paulis.append({q: "IXZY"[int(xb) + 2 * int(zb)] for q, xb, zb in zip(t, xs, zs) if xb or zb})
    return PauliBatch.from_letters(num_qubits, paulis), _slices(sets)


def read_reference_information(
    pulled: PauliBatch, sets: Sequence[Sequence[int]], slices: Sequence[slice], *, input_qubit: int = 0
) -> list[ReferenceInformation]:
    """Turn pulled-back Paulis into :class:`ReferenceInformation` (see module doc)."""
    # a pulled-back operator lies in {input Pauli} x {Z's}: no X or Y off the input qubit
    off = pulled.any_x_except(input_qubit)
    ax, az = pulled.x_bits(input_qubit), pulled.z_bits(input_qubit)
    out = []
    for qs, sl in zip(sets, slices):
        inside = ~off[sl]
        parts = {(bool(x), bool(z)) for x, z in zip(ax[sl][inside], az[sl][inside])}
        parts.add((False, False))
        leaked = tuple(sorted({"XZY"[int(x) + 2 * int(z) - 1] for x, z in parts if x or z}))
        out.append(ReferenceInformation(tuple(int(q) for q in qs), float(np.log2(len(parts))), bool(np.all(off[sl])), leaked))
    return out


def bell_pair_restored(circuit: Circuit, output: int, *, input_qubit: int = 0) -> bool:
    """Whether (R, ``output``) ends exactly in |Φ+⟩ (X_R X_out = Z_R Z_out = +1).

    True iff U† X_out U = +X_in · (Z's) and U† Z_out U = +Z_in · (Z's), signs
    included, where the Z's act on qubits that start in |0⟩.
    """
    batch = PauliBatch.from_letters(circuit.num_qubits, [{output: "X"}, {output: "Z"}])
    batch.pull_back(circuit)
    return bool(np.all(bell_pair_columns(batch, [0], input_qubit=input_qubit)))


def bell_pair_columns(pulled: PauliBatch, first_columns: Sequence[int], *, input_qubit: int = 0) -> np.ndarray:
    """For pulled-back pairs (X_out at column c, Z_out at c + 1): is (R, out) in |Φ+⟩?"""
    off = pulled.any_x_except(input_qubit)
    ax, az = pulled.x_bits(input_qubit), pulled.z_bits(input_qubit)
    signs = pulled.signs()
    c = np.asarray(first_columns, dtype=np.int64)
    x_ok = ~off[c] & ax[c] & ~az[c] & (signs[c] == 1)
    z_ok = ~off[c + 1] & ~ax[c + 1] & az[c + 1] & (signs[c + 1] == 1)
    return x_ok & z_ok
