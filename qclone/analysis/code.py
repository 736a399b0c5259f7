"""The code view: the encrypted state of one register qubit as a ``[[2n + 1, 1, 3]]`` stabilizer code.

Qubit order (the plain :class:`~qclone.protocol.Layout` of one register qubit):
``A = 0``, ``S_j = j`` (j = 1..n), ``N_j = n + j``. Every Pauli here is a pair
of boolean arrays ``(x, z)`` over those ``2n + 1`` qubits, or a string of
letters ``I X Y Z`` in that order (stim's notation, a sign first).

Before encryption the state is the input on ``A`` and Bell pairs ``(S_l, N_l)``,
stabilized by ``X_Sl X_Nl`` and ``Z_Sl Z_Nl``. The encryption
``U = exp(−iπ/4 X_A X_S1…X_Sn) · exp(−iπ/4 Z_A Z_S1…Z_Sn)`` multiplies a Pauli
by ``Z_A Z_S1…Z_Sn`` when it anticommutes with that operator, then by
``X_A X_S1…X_Sn`` likewise. A product of an *even* number of ``X_S X_N`` (and
of ``Z_S Z_N``) factors commutes with both, so encryption leaves it alone:
the ``2n − 2`` weight-4 generators

    ``X_Sl X_Nl X_Sl+1 X_Nl+1`` (l = 1..n−1), then ``Z_Sl Z_Nl Z_Sl+1 Z_Nl+1`` (l = 1..n−1)

are stabilizers of the encrypted state, and two more, the images of
``X_S1 X_N1`` and ``Z_S1 Z_N1`` (weight n + 2), complete the generating set
(:func:`stabilizers`, in this order). That is as low as it goes: the
weight-4 ones generate the *even* subgroup (index 4), and every stabilizer
outside it carries a letter on ``A`` and on every signal qubit of a pair it
does not touch, so it has weight at least n + 1 (n + 2 unless n is odd and its
class is the one of ``Y_Sl Y_Nl``); a generating set needs two of them.

Distance 3 for every n >= 2 (n = 1: distance 1, the lone clone carries Y).
Proof for n >= 3: pull a Pauli ``E`` of weight <= 2 with trivial syndrome back
through ``U``. If it commutes with both parity operators it is unchanged and
must be a Bell-pair stabilizer times a logical on ``A``, of weight <= 2: that
is ``P_A`` (anticommutes with one of the parities unless ``P = I``) or
``σ_Sl σ_Nl`` (anticommutes with one of them too). Otherwise the pull-back
puts a letter on every signal qubit, so to be a Bell stabilizer times a
logical it must touch all n pairs: impossible with weight 2 < n. So no
nontrivial Pauli of weight <= 2 is undetected; ``{A, S_1, N_1}`` carries a
weight-3 logical. :func:`distance` checks it by vectorised enumeration of
all Paulis of weight <= 2 (the tests run n = 1..50).

A :class:`Decoder` reads the syndrome of the stabilizers that can still be
measured (those supported on live qubits, when holders are dead: their qubits
are *erasures*) and returns a Pauli correction, vectorised over shots:

* ``"lookup"``: the lowest-weight correction among the single-qubit Paulis
  on live qubits; an unknown syndrome gets no correction.
* ``"ml"``: maximum likelihood over the four logical classes for i.i.d.
  per-qubit Pauli noise, exact. Without erasures through the code's
  structure at any n, O(n) per shot (:func:`_ml_classes`: given the
  syndrome the pairs are independent except for two parities, summed by a
  Walsh–Hadamard transform over the pairs); with erasures by enumerating the
  errors that act trivially on the output (the live stabilizers and the
  gauge), up to :data:`MAX_ML_DIMENSION` generators of that group.

Examples:
    >>> stabilizers(2)
    ['+IXXXX', '+IZZZZ', '-YZYXI', '-XYXZI']
    >>> distance(2), distance(1)
    (3, 1)
    >>> dec = Decoder(3)
    >>> x = np.zeros((1, 7), dtype=bool); x[0, 5] = True         # X on N_2
    >>> cx, cz = dec.decode(syndrome_of(x, np.zeros_like(x), 3))
    >>> np.flatnonzero(cx[0]).tolist(), cz.any()
    ([5], False)
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import stim

from qclone.analysis.recovery import UnauthorizedSetError, find_recovery
from qclone.errors import InvalidArgumentError, TooLargeError, check_int, is_int
from qclone.protocol import Layout, encryption, to_stim
from qclone.sim import gf2

__all__ = [
    "MAX_ML_DIMENSION", "METHODS", "Correction", "Decoder", "LiveCode", "code_qubit_labels", "decode_logical",
    "distance", "encode_pauli", "live_code", "logical_x", "logical_z", "pullback_pauli", "stabilizer_bits",
    "stabilizers", "syndrome_of",
]

#: The decoding methods.
METHODS: tuple[str, ...] = ("lookup", "ml")
#: ``"ml"`` enumerates 2^d errors per syndrome class (d: generators of the group of errors acting
#: trivially on the output); refused beyond this d.
MAX_ML_DIMENSION = 18
#: The largest n :func:`stabilizers`, :class:`Decoder` and :func:`distance` accept.
MAX_CLONES = 100_000


class Correction(NamedTuple):
    """A Pauli correction per shot: x and z bits, each ``(shots, 2n + 1)`` booleans."""

    x: np.ndarray
    z: np.ndarray


def _check_n(clones: object) -> int:
    return check_int(clones, "the number of clones", 1, MAX_CLONES)


def code_qubit_labels(clones: int) -> tuple[str, ...]:
    """Labels of the code qubits in order: ``A, S1..Sn, N1..Nn``."""
    return Layout(_check_n(clones)).labels


# --- the encryption as a map on Paulis -----------------------------------------------------------------------


def _bits(x: np.ndarray, z: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.atleast_2d(np.asarray(x)).astype(bool)
    zs = np.atleast_2d(np.asarray(z)).astype(bool)
    if xs.shape != zs.shape or xs.ndim != 2 or xs.shape[1] != m:
        raise InvalidArgumentError(f"expected x and z bits of shape (shots, {m}), got {xs.shape} and {zs.shape}")
    return xs, zs


def encode_pauli(x: np.ndarray, z: np.ndarray, clones: int) -> tuple[np.ndarray, np.ndarray]:
    """``U P U†`` for Paulis ``P`` (rows of x/z bits), signs dropped: the encryption's action, O(n) per row."""
    n = _check_n(clones)
    xs, zs = _bits(x, z, 2 * n + 1)
    xs, zs = xs.copy(), zs.copy()
    a = np.logical_xor.reduce(xs[:, : n + 1], axis=1)  # anticommutes with Z_A Z_S...: gains it
    zs[:, : n + 1] ^= a[:, None]
    b = np.logical_xor.reduce(zs[:, : n + 1], axis=1)  # then with X_A X_S...
    xs[:, : n + 1] ^= b[:, None]
    return xs, zs


def pullback_pauli(x: np.ndarray, z: np.ndarray, clones: int) -> tuple[np.ndarray, np.ndarray]:
    """``U† P U`` (signs dropped): the inverse of :func:`encode_pauli`."""
    n = _check_n(clones)
    xs, zs = _bits(x, z, 2 * n + 1)
    xs, zs = xs.copy(), zs.copy()
    b = np.logical_xor.reduce(zs[:, : n + 1], axis=1)
    xs[:, : n + 1] ^= b[:, None]
    a = np.logical_xor.reduce(xs[:, : n + 1], axis=1)
    zs[:, : n + 1] ^= a[:, None]
    return xs, zs


# --- generators ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _generators(n: int) -> tuple[np.ndarray, np.ndarray]:
    m = 2 * n + 1
    gx = np.zeros((2 * n, m), dtype=bool)
    gz = np.zeros((2 * n, m), dtype=bool)
    ls = np.arange(1, n)
    rows = np.arange(n - 1)
    for off in (0, 1):  # S_l, S_l+1 and N_l, N_l+1
        gx[rows, ls + off] = True
        gx[rows, n + ls + off] = True
        gz[n - 1 + rows, ls + off] = True
        gz[n - 1 + rows, n + ls + off] = True
    pre_x = np.zeros((2, m), dtype=bool)
    pre_z = np.zeros((2, m), dtype=bool)
    pre_x[0, [1, n + 1]] = True
    pre_z[1, [1, n + 1]] = True
    ox, oz = encode_pauli(pre_x, pre_z, n)
    gx[2 * n - 2 :], gz[2 * n - 2 :] = ox, oz
    gx.setflags(write=False)
    gz.setflags(write=False)
    return gx, gz


def stabilizer_bits(clones: int) -> tuple[np.ndarray, np.ndarray]:
    """The generators of :func:`stabilizers` as x and z bits, ``(2n, 2n + 1)`` each (read-only)."""
    return _generators(_check_n(clones))


@functools.lru_cache(maxsize=16)
def _encryption_circuit(n: int) -> stim.Circuit:
    return to_stim(encryption(Layout(n)))


def _signed(n: int, x: np.ndarray, z: np.ndarray) -> str:
    """The Pauli ``U P0 U†`` with its sign, where ``P0`` is the pre-encryption Pauli behind (x, z)."""
    px, pz = pullback_pauli(x[None, :], z[None, :], n)
    before = stim.PauliString.from_numpy(xs=px[0], zs=pz[0])
    after = before.after(_encryption_circuit(n))
    if not (np.array_equal(after.to_numpy()[0], x) and np.array_equal(after.to_numpy()[1], z)):
        raise RuntimeError("internal error: the closed-form encryption map disagrees with the circuit")
    return str(after).replace("_", "I")


def stabilizers(clones: int) -> list[str]:
    """A low-weight generating set of the code of one register qubit, signed, letters over ``A, S, N``.

    The ``2n − 2`` weight-4 generators first (X-type chain, then Z-type chain), then the encrypted
    ``X_S1 X_N1`` and ``Z_S1 Z_N1`` (weight n + 2). The signs are those of the encrypted state
    (pre-encryption Bell stabilizers carried through the protocol's circuit by stim).

    Examples:
        >>> stabilizers(3)[:2]
        ['+IXXIXXI', '+IIXXIXX']
    """
    n = _check_n(clones)
    gx, gz = _generators(n)
    return [_signed(n, gx[i], gz[i]) for i in range(2 * n)]


def _logical(n: int, letter: str) -> str:
    """A weight-3 (n >= 2) representative of the logical ``letter`` on ``{A, S_1, N_1}``, signed."""
    m = 2 * n + 1
    xs = np.zeros(m, dtype=bool)
    zs = np.zeros(m, dtype=bool)
    (xs if letter == "X" else zs)[0] = True
    before = stim.PauliString.from_numpy(xs=xs, zs=zs).after(_encryption_circuit(n))  # U P_A U†
    # multiply by stabilizers until it lives on A, S_1, N_1: generic elimination on the few columns outside
    bx, bz = before.to_numpy()
    gx, gz = _generators(n)
    keep = np.zeros(m, dtype=bool)
    keep[[0, 1, n + 1]] = True
    outside = np.concatenate([gx[:, ~keep], gz[:, ~keep]], axis=1)
    target = np.concatenate([bx[~keep], bz[~keep]])
    coeffs = _solve_left(outside, target)
    if coeffs is None:
        raise RuntimeError("internal error: no logical representative on A, S_1, N_1")
    p = before
    for i in np.flatnonzero(coeffs):
        p = p * stim.PauliString(_signed(n, gx[i], gz[i]).replace("I", "_"))
    return str(p).replace("_", "I")


def logical_x(clones: int) -> str:
    """A lowest-weight logical X̄ (``U X_A U†`` times stabilizers), signed: weight 3 on ``A, S_1, N_1`` for n >= 2.

    Examples:
        >>> logical_x(2), logical_z(2)
        ('+XXIXI', '+ZZIZI')
    """
    return _logical(_check_n(clones), "X")


def logical_z(clones: int) -> str:
    """A lowest-weight logical Z̄, signed (see :func:`logical_x`)."""
    return _logical(_check_n(clones), "Z")


def _solve_left(rows: np.ndarray, target: np.ndarray) -> np.ndarray | None:
    """Coefficients c (booleans over the rows) with Σ c_i rows_i = target over GF(2), or None."""
    r = rows.shape[0]
    aug = np.concatenate([rows.T, target[:, None]], axis=1)  # columns: unknowns, then the right-hand side
    ech = gf2.row_reduce(aug, pivot_columns=r)
    sol = np.zeros(r, dtype=bool)
    for row, piv in zip(ech.rows, ech.pivots):
        if piv >= r:
            return None  # 0 = 1: inconsistent
        sol[piv] = row[r]
    return sol


# --- syndromes -------------------------------------------------------------------------------------------------


def syndrome_of(pauli_x_bits: np.ndarray, pauli_z_bits: np.ndarray, clones: int) -> np.ndarray:
    """Syndrome bits of Pauli errors against :func:`stabilizers` (1: the generator anticommutes).

    Args:
        pauli_x_bits, pauli_z_bits: ``(shots, 2n + 1)`` (or one row ``(2n + 1,)``) booleans.
        clones: n.

    Returns:
        ``(shots, 2n)`` booleans, vectorised and O(n) per shot (the chain generators by differences).
    """
    n = _check_n(clones)
    xs, zs = _bits(pauli_x_bits, pauli_z_bits, 2 * n + 1)
    rel_z = zs[:, 1 : n + 1] ^ zs[:, n + 1 :]  # per pair: anticommutes with X_S X_N
    rel_x = xs[:, 1 : n + 1] ^ xs[:, n + 1 :]
    gx, gz = _generators(n)
    odd = ((xs.astype(np.int64) @ gz[2 * n - 2 :].T.astype(np.int64))
           + (zs.astype(np.int64) @ gx[2 * n - 2 :].T.astype(np.int64))) % 2 == 1
    return np.concatenate([rel_z[:, :-1] ^ rel_z[:, 1:], rel_x[:, :-1] ^ rel_x[:, 1:], odd], axis=1)


def _commutes_with(xs: np.ndarray, zs: np.ndarray, px: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """Anticommutation bits of rows (xs, zs) with the rows of (px, pz): ``(shots, len(px))``."""
    return ((xs.astype(np.int64) @ pz.T.astype(np.int64)) + (zs.astype(np.int64) @ px.T.astype(np.int64))) % 2 == 1


def _pauli_bits(text: str) -> tuple[np.ndarray, np.ndarray]:
    xs, zs = stim.PauliString(text.replace("I", "_")).to_numpy()
    return xs, zs


# --- the code on live qubits -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LiveCode:
    """What can be measured and recovered when some code qubits are erased (lost with their holder).

    Attributes:
        clones: n.
        erasures: the erased code qubits (indices in ``A, S, N`` order).
        combos: ``(m, 2n)`` booleans: each measured generator as a product of :func:`stabilizers`.
        gx, gz: the measured generators' x and z bits, ``(m, 2n + 1)``: the stabilizers supported on
            live qubits (all ``2n`` when nothing is erased).
        lx, lz: the logical X̄ and Z̄ representatives on live qubits the recovery reads (rows 0, 1).
    """

    clones: int
    erasures: frozenset[int]
    combos: np.ndarray
    gx: np.ndarray
    gz: np.ndarray
    lx: np.ndarray
    lz: np.ndarray

    @property
    def num_checks(self) -> int:
        return int(self.gx.shape[0])

    @property
    def live(self) -> np.ndarray:
        """Boolean mask of live code qubits."""
        mask = np.ones(2 * self.clones + 1, dtype=bool)
        mask[list(self.erasures)] = False
        return mask

    def syndrome(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Syndrome of errors against the measured generators, ``(shots, m)``."""
        full = syndrome_of(x, z, self.clones)
        if not self.erasures:
            return full
        return (full.astype(np.int64) @ self.combos.T.astype(np.int64)) % 2 == 1

    def logical_flips(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``(shots, 2)``: whether each Pauli anticommutes with X̄ (column 0) and with Z̄ (column 1)."""
        xs, zs = _bits(x, z, 2 * self.clones + 1)
        return _commutes_with(xs, zs, self.lx, self.lz)


def _erasure_set(n: int, erasures: object) -> frozenset[int]:
    if isinstance(erasures, (str, bytes)) or not hasattr(erasures, "__iter__"):
        raise InvalidArgumentError("erasures must be a collection of code qubit indices")
    out = set()
    for q in erasures:
        if not is_int(q) or not 0 <= int(q) <= 2 * n:
            raise InvalidArgumentError(f"erased qubits must be code qubit indices in 0..{2 * n}, got {q!r}")
        out.add(int(q))
    return frozenset(out)


@functools.lru_cache(maxsize=256)
def _live_code(n: int, erasures: frozenset[int]) -> LiveCode:
    gx, gz = _generators(n)
    m = 2 * n + 1
    live = np.ones(m, dtype=bool)
    live[list(erasures)] = False
    if erasures:
        dead = ~live
        restricted = np.concatenate([gx[:, dead], gz[:, dead]], axis=1)  # (2n, 2e)
        combos = gf2.nullspace(restricted.T)  # coefficient vectors whose product avoids the erased qubits
        cx = gf2.matmul(combos, gx) if combos.size else np.zeros((0, m), dtype=bool)
        cz = gf2.matmul(combos, gz) if combos.size else np.zeros((0, m), dtype=bool)
    else:
        combos, cx, cz = np.eye(2 * n, dtype=bool), gx.copy(), gz.copy()
    lay = Layout(n)
    try:
        rec = find_recovery(lay, np.flatnonzero(live).tolist(), plain=False)
    except UnauthorizedSetError as e:
        raise InvalidArgumentError(f"with qubits {sorted(erasures)} erased the code cannot be decoded: {e.missing}") from None
    # the recovery's logical representatives: V† Z_t V anticommutes with what the output sees as X, and so on
    circuit = to_stim(rec.circuit)
    t = rec.targets[0]
    reps = []
    for letter in "XZ":
        p = stim.PauliString(m)
        p[t] = letter
        reps.append(p.before(circuit).to_numpy())
    lx = np.stack([reps[0][0], reps[1][0]])
    lz = np.stack([reps[0][1], reps[1][1]])
    for arr in (combos, cx, cz, lx, lz):
        arr.setflags(write=False)
    return LiveCode(n, erasures, combos, cx, cz, lx, lz)


def live_code(clones: int, erasures: frozenset[int] | set[int] | tuple[int, ...] = frozenset()) -> LiveCode:
    """The measurable generators and the logical representatives with ``erasures`` lost (cached).

    Raises:
        InvalidArgumentError: the live qubits are not an authorized set (the state is lost).
    """
    n = _check_n(clones)
    return _live_code(n, _erasure_set(n, erasures))


# --- decoding -----------------------------------------------------------------------------------------------------


def _right_inverse(checks: np.ndarray) -> np.ndarray:
    """T with ``checks @ T.T = I`` over GF(2) (checks of full row rank): rows of T are pure errors."""
    r, c = checks.shape
    ech = gf2.row_reduce(np.concatenate([checks, np.eye(r, dtype=bool)], axis=1), pivot_columns=c)
    if ech.rank < r or any(p >= c for p in ech.pivots):
        raise RuntimeError("internal error: dependent checks")
    reduced, rmat = ech.rows[:, :c], ech.rows[:, c:]
    x0 = np.zeros((c, r), dtype=bool)
    x0[list(ech.pivots), np.arange(r)] = True
    del reduced
    return gf2.matmul(x0, rmat).T  # (r, c)


def _pack_keys(bits: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(bits, dtype=bool), axis=1)


class Decoder:
    """Decode syndromes of the code of one register qubit into Pauli corrections (built once, cached per n).

    Args:
        clones: n.
        erasures: code qubits lost (dead holders); only stabilizers on the live qubits are measured
            (:class:`LiveCode`), and corrections never touch an erased qubit.
        method: ``"lookup"`` (single-qubit errors, lowest weight) or ``"ml"`` (maximum likelihood over
            the four logical classes for i.i.d. Pauli noise ``noise``, exact; small groups only).
        noise: for ``"ml"``: per-qubit probabilities of ``(I, X, Y, Z)``, shape ``(4,)`` or
            ``(2n + 1, 4)`` (default: depolarizing 1 %).

    Examples:
        >>> dec = Decoder(2, erasures=frozenset({3, 4}))        # N_1 and N_2 lost: {A, S_1, S_2} remains
        >>> dec.num_checks
        0
    """

    def __init__(self, clones: int, *, erasures: frozenset[int] = frozenset(), method: str = "lookup",
                 noise: np.ndarray | None = None, ml_route: str = "auto") -> None:
        if ml_route not in ("auto", "structured", "enumerate"):
            raise InvalidArgumentError(f"unknown ml_route {ml_route!r}; choose auto, structured or enumerate")
        if method not in METHODS:
            raise InvalidArgumentError(f"unknown decoding method {method!r}; choose one of {', '.join(METHODS)}")
        self.clones = _check_n(clones)
        self.method = method
        self.code = live_code(self.clones, erasures)
        self.erasures = self.code.erasures
        m = 2 * self.clones + 1
        live = self.code.live
        checks = np.concatenate([self.code.gz, self.code.gx], axis=1)  # symplectic: x·gz + z·gx
        # pure errors: one per check, commuting with every other check and with both logical representatives
        full = np.concatenate([checks, np.concatenate([self.code.lz, self.code.lx], axis=1)], axis=0)
        full = full[:, np.concatenate([live, live])]
        inv = _right_inverse(full)
        ell = int(live.sum())
        tx = np.zeros((inv.shape[0], m), dtype=bool)
        tz = np.zeros((inv.shape[0], m), dtype=bool)
        tx[:, live], tz[:, live] = inv[:, :ell], inv[:, ell:]
        k = self.code.num_checks
        self._pure = (tx[:k], tz[:k])  # syndrome i, no logical flip
        self._logical_ops = (tx[k:], tz[k:])  # row 0 flips "anticommutes with X̄", row 1 with Z̄
        self.ml_route = "none"
        if method == "lookup":
            self._build_lookup()
        else:
            self._probs = _noise_table(noise, m)
            structured = not self.erasures and ml_route != "enumerate"
            if ml_route == "structured" and self.erasures:
                raise InvalidArgumentError("the structured maximum-likelihood decoder takes no erasures")
            self.ml_route = "structured" if structured else "enumerate"
            if not structured:
                self._build_ml()

    @property
    def num_checks(self) -> int:
        """m: the number of syndrome bits :meth:`decode` reads."""
        return self.code.num_checks

    # -- lookup
    def _build_lookup(self) -> None:
        m = 2 * self.clones + 1
        live = np.flatnonzero(self.code.live)
        ex = np.zeros((3 * live.size + 1, m), dtype=bool)
        ez = np.zeros_like(ex)
        rows = np.arange(live.size)
        for i, (bx, bz) in enumerate(((1, 0), (1, 1), (0, 1))):  # X, Y, Z on each live qubit
            ex[1 + i * live.size + rows, live] = bool(bx)
            ez[1 + i * live.size + rows, live] = bool(bz)
        keys = _pack_keys(self.code.syndrome(ex, ez)) if self.num_checks else np.zeros((ex.shape[0], 0), np.uint8)
        table: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            table.setdefault(key.tobytes(), i)  # lowest weight first (row 0 is the identity)
        self._table = table
        self._lookup_errors = (ex, ez)

    # -- maximum likelihood
    def _build_ml(self) -> None:
        m = 2 * self.clones + 1
        probs = self._probs
        live = self.code.live
        ell = int(live.sum())
        # the errors acting trivially on the output: no syndrome, commuting with both logical representatives
        checks = np.concatenate([np.concatenate([self.code.gz, self.code.gx], axis=1),
                                 np.concatenate([self.code.lz, self.code.lx], axis=1)], axis=0)
        checks = checks[:, np.concatenate([live, live])]
        group = gf2.nullspace(checks) if checks.size else np.eye(2 * ell, dtype=bool)
        if group.shape[0] > MAX_ML_DIMENSION:
            raise TooLargeError(
                f"maximum-likelihood decoding enumerates 2^{group.shape[0]} errors per class here "
                f"(at most 2^{MAX_ML_DIMENSION}); use method='lookup'")
        coeffs = np.array(list(itertools.product((0, 1), repeat=group.shape[0])), dtype=np.int64).reshape(-1, group.shape[0])
        elems = (coeffs @ group.astype(np.int64)) % 2 == 1  # (2^d, 2 ell)
        gx_all = np.zeros((elems.shape[0], m), dtype=bool)
        gz_all = np.zeros_like(gx_all)
        gx_all[:, live], gz_all[:, live] = elems[:, :ell], elems[:, ell:]
        self._ml_group = (gx_all, gz_all)
        self._logp = np.log(np.clip(probs, 1e-300, None))
        self._ml_cache: dict[bytes, np.ndarray] = {}

    def _class_logprob(self, ex: np.ndarray, ez: np.ndarray) -> float:
        """log of the total probability of the errors ``E · G`` over the group G (E one row)."""
        gx, gz = self._ml_group
        px, pz = gx ^ ex, gz ^ ez
        live = self.code.live
        letter = (px.astype(np.int64) + 2 * pz.astype(np.int64))  # 0 I, 1 X, 3 Y, 2 Z
        col = np.array([0, 1, 3, 2])[letter]  # index into (I, X, Y, Z)
        lp = self._logp[np.arange(px.shape[1])[None, :], col]
        total = lp[:, live].sum(axis=1)
        top = float(total.max())
        return top + float(np.log(np.exp(total - top).sum()))

    def _ml_correction(self, syn: np.ndarray) -> np.ndarray:
        """For one syndrome: the index 0..3 of the most likely logical class (bits: flips X̄, flips Z̄)."""
        base = self._apply(syn[None, :], self._pure)
        best, best_lp = 0, -np.inf
        for cls in range(4):
            fx, fz = base[0][0].copy(), base[1][0].copy()
            for bit in range(2):
                if (cls >> bit) & 1:
                    fx ^= self._logical_ops[0][bit]
                    fz ^= self._logical_ops[1][bit]
            lp = self._class_logprob(fx, fz)
            if lp > best_lp:
                best, best_lp = cls, lp
        return np.array([best & 1, best >> 1], dtype=bool)

    # -- shared
    @staticmethod
    def _apply(coeffs: np.ndarray, basis: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        # float32 BLAS: the sums are at most the number of checks, far below 2^24, so exact
        c = coeffs.astype(np.float32)
        x = (c @ basis[0].astype(np.float32)).astype(np.int64) % 2 == 1
        z = (c @ basis[1].astype(np.float32)).astype(np.int64) % 2 == 1
        return x, z

    def _check_syndrome(self, syndrome: np.ndarray) -> np.ndarray:
        s = np.asarray(syndrome)
        if s.ndim == 1:
            s = s[None, :]
        if s.ndim != 2 or s.shape[1] != self.num_checks:
            raise InvalidArgumentError(f"expected syndromes of shape (shots, {self.num_checks}), got {np.shape(syndrome)}")
        if s.dtype != bool:
            if s.size and not np.isin(s, (0, 1)).all():
                raise InvalidArgumentError("syndrome bits must be 0 or 1")
            s = s.astype(bool)
        return s

    def decode(self, syndrome: np.ndarray) -> Correction:
        """Corrections for syndromes ``(shots, m)``: x and z bits ``(shots, 2n + 1)`` (zero on erased qubits).

        Applying the correction leaves no syndrome; whether it also fixes the logical class is the
        decoder's bet (certain for one error on a live qubit, with ``"lookup"`` or ``"ml"``).
        """
        s = self._check_syndrome(syndrome)
        shots, m = s.shape[0], 2 * self.clones + 1
        if shots == 0:
            return Correction(np.zeros((0, m), bool), np.zeros((0, m), bool))
        if self.ml_route == "structured":
            return self._decode_structured(s)
        keys = _pack_keys(s) if self.num_checks else np.zeros((shots, 1), np.uint8)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        if self.method == "lookup":
            ex, ez = self._lookup_errors
            rows = np.array([self._table.get(u.tobytes(), 0) if self.num_checks else 0 for u in uniq], dtype=np.int64)
            known = np.array([u.tobytes() in self._table for u in uniq]) if self.num_checks else np.ones(len(uniq), bool)
            cx, cz = ex[rows][inverse], ez[rows][inverse]
            if not known.all():
                # no single-qubit error explains it: bring the syndrome back to zero, no logical bet
                px, pz = self._apply(s, self._pure)
                unknown = ~known[inverse]
                cx[unknown], cz[unknown] = px[unknown], pz[unknown]
            return Correction(cx, cz)
        first = np.zeros(len(uniq), dtype=np.int64)
        first[inverse[::-1]] = np.arange(shots)[::-1]
        classes = np.zeros((len(uniq), 2), dtype=bool)
        for i, u in enumerate(uniq):
            key = u.tobytes()
            if key not in self._ml_cache:
                self._ml_cache[key] = self._ml_correction(s[first[i]])
            classes[i] = self._ml_cache[key]
        px, pz = self._apply(s, self._pure)
        lx, lz = self._apply(classes[inverse], self._logical_ops)
        return Correction(px ^ lx, pz ^ lz)

    def _decode_structured(self, s: np.ndarray) -> Correction:
        """Exact ML for i.i.d. noise through the code's structure, O(n) per shot (see :func:`_ml_classes`)."""
        n = self.clones
        shots = s.shape[0]
        letters = np.zeros(shots, dtype=np.int64)
        chunk = max(1, (1 << 22) // (4 * n))
        for start in range(0, shots, chunk):
            letters[start : start + chunk] = _ml_classes(n, s[start : start + chunk], self._probs)
        px, pz = self._apply(s, self._pure)
        # the candidate corrections T(s) · L̄_k; keep the one whose pulled-back letter on A is the ML letter
        ax, az = pullback_pauli(px, pz, n)
        base = ax[:, 0].astype(np.int64) + 2 * az[:, 0].astype(np.int64)
        ox, oz = self._logical_ops
        opx, opz = pullback_pauli(ox, oz, n)
        op_letter = opx[:, 0].astype(np.int64) + 2 * opz[:, 0].astype(np.int64)  # 2 rows: the A letters of L̄_0, L̄_1
        want = letters ^ base
        k = np.full(shots, -1, dtype=np.int64)
        for cls in range(4):
            got = (op_letter[0] if cls & 1 else 0) ^ (op_letter[1] if cls & 2 else 0)
            k[(want == got) & (k < 0)] = cls
        if (k < 0).any():
            raise RuntimeError("internal error: no logical class has the decided letter")
        coeff = np.stack([k & 1, k >> 1], axis=1).astype(bool)
        lx, lz = self._apply(coeff, self._logical_ops)
        return Correction(px ^ lx, pz ^ lz)

    def predict_flips(self, syndrome: np.ndarray) -> np.ndarray:
        """``(shots, 2)``: the decoder's bet on whether the error anticommutes with X̄ and with Z̄."""
        c = self.decode(syndrome)
        return self.code.logical_flips(c.x, c.z)


def decode_logical(decoder: Decoder, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """For errors (x, z): ``(shots, 2)`` residual logical flips after the decoder's correction (0 0: fixed)."""
    xs, zs = _bits(x, z, 2 * decoder.clones + 1)
    live = decoder.code.live
    xs, zs = xs & live, zs & live  # what happens on erased qubits never reaches the output
    corr = decoder.decode(decoder.code.syndrome(xs, zs))
    return decoder.code.logical_flips(xs ^ corr.x, zs ^ corr.z)


def _noise_table(noise: np.ndarray | None, m: int) -> np.ndarray:
    probs = np.asarray([0.99, 0.01 / 3, 0.01 / 3, 0.01 / 3] if noise is None else noise, dtype=float)
    if probs.shape == (4,):
        probs = np.tile(probs, (m, 1))
    if probs.shape != (m, 4) or not np.isfinite(probs).all() or (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1.0):
        raise InvalidArgumentError(f"noise must be probabilities of I, X, Y, Z: shape (4,) or ({m}, 4), rows summing to 1")
    return probs


#: letter index (x bit + 2 z bit: 0 I, 1 X, 2 Z, 3 Y) -> column of a (I, X, Y, Z) probability row
_COLUMN = np.array([0, 1, 3, 2])
#: characters of Z2 x Z2: chi . sigma for chi, sigma letter indices (x bit + 2 z bit)
_CHAR = np.array([[(-1) ** (bin(c & s).count("1")) for s in range(4)] for c in range(4)], dtype=float)


def _ml_classes(n: int, syndrome: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The maximum-likelihood letter (x bit + 2 z bit) of the pulled-back error on A, per shot.

    In the frame before encryption an error E is ``E' = E · c`` on A and every S (``c``: the parity
    letter, x bit ``b = z(e_A) + Σ z(s_l)``, z bit ``a = x(e_A) + Σ x(s_l) + b (n + 1)``); the
    syndrome gives each pair's relative letter ``r_l = s_l · c · n_l``; the output sees ``e_A · c``.
    For each of the 4 letters c, the pairs are independent given r: the distribution of
    ``(Σ x(s_l), Σ z(s_l))`` is a convolution over Z2², a product of 4-point Walsh–Hadamard
    transforms. Exact, O(n) per shot; logs keep it finite at any n.
    """
    shots = syndrome.shape[0]
    s = syndrome.astype(bool)
    # relative letters per pair: r^z_1, r^x_1 from the two encrypted-Bell generators, then the chains
    rz = np.empty((shots, n), dtype=bool)
    rx = np.empty((shots, n), dtype=bool)
    rz[:, 0], rx[:, 0] = s[:, 2 * n - 2], s[:, 2 * n - 1]
    if n > 1:
        rz[:, 1:] = s[:, [2 * n - 2]] ^ np.logical_xor.accumulate(s[:, : n - 1], axis=1)
        rx[:, 1:] = s[:, [2 * n - 1]] ^ np.logical_xor.accumulate(s[:, n - 1 : 2 * n - 2], axis=1)
    rel = rx.astype(np.int64) + 2 * rz.astype(np.int64)  # (shots, n) letter indices
    p_a = probs[0][_COLUMN]  # by letter index
    p_s = probs[1 : n + 1][:, _COLUMN]  # (n, 4)
    p_n = probs[n + 1 :][:, _COLUMN]
    sigma = np.arange(4)
    # per pair l and u = r_l · c: the Walsh–Hadamard spectrum of f(σ) = p_S(σ) p_N(u σ), as log |.| and sign
    partner = sigma[None, :, None] ^ sigma[None, None, :]  # [u, σ] -> u σ
    f = p_s[:, None, :] * p_n[np.arange(n)[:, None, None], np.broadcast_to(partner, (n, 4, 4))]  # (n, u, σ)
    spectrum = f @ _CHAR.T  # (n, u, χ)
    log_abs = np.log(np.abs(spectrum) + 1e-300)
    negative = spectrum < 0
    pairs = np.arange(n)[None, :]
    uniform = bool((p_s == p_s[0]).all() and (p_n == p_n[0]).all())
    logpost = np.full((shots, 4), -np.inf)
    for c in range(4):
        u = rel ^ c
        if uniform:  # every pair alike: only how many pairs show each u matters
            counts = np.stack([np.count_nonzero(u == k, axis=1) for k in range(4)], axis=1).astype(float)
            mag = counts @ log_abs[0]
            sign = np.where((counts @ negative[0].astype(float)) % 2 == 1, -1.0, 1.0)
        else:
            mag = log_abs[pairs, u].sum(axis=1)  # (shots, χ)
            sign = np.where(np.count_nonzero(negative[pairs, u], axis=1) % 2 == 1, -1.0, 1.0)
        top = mag.max(axis=1, keepdims=True)
        g = sign * np.exp(mag - top)  # G(chi) / e^top
        parity = (g @ _CHAR) / 4  # P(Σ letters = pi) / e^top, pi a letter index (x bit + 2 z bit)
        b, a_bit = c & 1, c >> 1
        for e_a in range(4):
            ex, ez = e_a & 1, e_a >> 1
            sx = (a_bit + ex + b * (n + 1)) % 2  # the Σ x(s_l) this (c, e_A) needs
            sz = (b + ez) % 2
            val = parity[:, sx + 2 * sz] * p_a[e_a]
            lp = np.log(np.clip(val, 1e-300, None)) + top[:, 0]
            lp = np.where(val > 0, lp, -np.inf)
            out_letter = (ex ^ b) + 2 * (ez ^ a_bit)
            logpost[:, out_letter] = np.logaddexp(logpost[:, out_letter], lp)
    result: np.ndarray = np.argmax(logpost, axis=1)
    return result


# --- distance ------------------------------------------------------------------------------------------------------


def _low_weight_paulis(m: int, weight: int) -> tuple[np.ndarray, np.ndarray]:
    """Every Pauli of exactly ``weight`` (1 or 2) on m qubits, as x and z bits."""
    letters = np.array([(1, 0), (1, 1), (0, 1)], dtype=bool)
    if weight == 1:
        q = np.repeat(np.arange(m), 3)
        lt = np.tile(np.arange(3), m)
        xs = np.zeros((3 * m, m), dtype=bool)
        zs = np.zeros_like(xs)
        xs[np.arange(3 * m), q] = letters[lt, 0]
        zs[np.arange(3 * m), q] = letters[lt, 1]
        return xs, zs
    i, j = np.triu_indices(m, k=1)
    pairs = i.size
    li, lj = np.repeat(np.arange(3), 3), np.tile(np.arange(3), 3)
    rows = np.arange(9 * pairs)
    qi, qj = np.repeat(i, 9), np.repeat(j, 9)
    ai, aj = np.tile(li, pairs), np.tile(lj, pairs)
    xs = np.zeros((9 * pairs, m), dtype=bool)
    zs = np.zeros_like(xs)
    xs[rows, qi], zs[rows, qi] = letters[ai, 0], letters[ai, 1]
    xs[rows, qj], zs[rows, qj] = letters[aj, 0], letters[aj, 1]
    return xs, zs


def distance(clones: int) -> int:
    """The code distance, by algebra: every Pauli of weight 1 and 2 is enumerated (vectorised) and its
    syndrome and logical action computed; if none is an undetected logical, the weight-3
    representative of :func:`logical_x` settles it at 3.

    Examples:
        >>> [distance(n) for n in (1, 2, 3, 4)]
        [1, 3, 3, 3]
    """
    n = _check_n(clones)
    if n > 400:
        raise TooLargeError(f"distance() enumerates weight-2 Paulis; at most n = 400 (got {n}); the proof in the module doc covers every n")
    m = 2 * n + 1
    lzx, lzz = _pauli_bits(_logical(n, "Z"))
    lxx, lxz = _pauli_bits(_logical(n, "X"))
    rx, rz = np.stack([lxx, lzx]), np.stack([lxz, lzz])
    for w in (1, 2):
        xs, zs = _low_weight_paulis(m, w)
        for start in range(0, xs.shape[0], 1 << 15):
            bx, bz = xs[start : start + (1 << 15)], zs[start : start + (1 << 15)]
            undetected = ~syndrome_of(bx, bz, n).any(axis=1)
            if undetected.any() and _commutes_with(bx[undetected], bz[undetected], rx, rz).any():
                return w
    weight = int(np.count_nonzero(lxx | lxz))
    if weight != 3 or syndrome_of(lxx, lxz, n).any():
        raise RuntimeError("internal error: the logical representative is not a weight-3 logical")
    return 3
