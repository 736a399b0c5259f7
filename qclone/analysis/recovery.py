"""Recovery from any authorized set of surviving qubits: which sets recover, and the Clifford that does it.

For one register qubit the encrypted state on ``A, S_1..S_n, N_1..N_n`` is a
``[[2n + 1, 1]]`` stabilizer code (distance 3 for n >= 2); a k-qubit register
is k independent copies of it (:class:`~qclone.protocol.Layout`). A set ``C``
of surviving qubits is *authorized* when it holds a logical ``X̄`` and a
logical ``Z̄`` of every copy (operators supported in ``C`` acting on the code
as the input's X and Z). Then a Clifford ``V`` on ``C`` mapping ``X̄ → X_t``
and ``Z̄ → Z_t`` leaves the input's state, and any entanglement it had, on the
one qubit ``t``; the stabilizers, which commute with both, act trivially on
``t``, so ``t`` is in a product with everything else.

How the logical operators are found (two routes that must agree):

* **generic** (``route="generic"``): the leakage engine's GF(2) elimination
  on the stabilizer description (:meth:`~qclone.analysis.leakage.LeakageAnalyzer.witnesses`):
  a witness of X and one of Z inside ``C``, with their signs. Cost grows as
  ``|C|² · n``: fine up to n ≈ 10³.
* **structured** (``route="structured"``, the default for large n): the code's
  own structure. Pull a Pauli ``P`` on ``C`` back through
  ``U_enc = exp(−iπ/4 X_A X_S…) exp(−iπ/4 Z_A Z_S…)``: it becomes ``P``,
  ``P·XX``, ``P·ZZ`` or ``P·XX·ZZ`` (two anticommutation bits ``a``, ``b``
  decide), and before the encryption the state is the input on A with Bell
  pairs ``(S_l, N_l)``. So ``P`` is a stabilizer times a logical iff on every
  pair its pulled-back letters on ``S_l`` and ``N_l`` agree; the logical is
  its pulled-back part on A. With ``c`` pairs held whole, ``s`` pairs held
  only by ``S_l``, ``e`` pairs not touched and ``A`` held or not, this is two
  equations over GF(2) in ``a``, ``b`` and four more bits, whatever n: a set
  is authorized iff (``c >= 1`` and (``e = 0`` or A held)) or (``c = 0``, A
  held, ``e = 0`` and (``s`` odd or n even)). Otherwise it learns nothing,
  except for odd n with ``c = 0``, ``e = 0`` and exactly one of "A held" and
  "``s`` odd": then exactly the Y component. A solution gives explicit
  operators: the letter ``(a, b)`` on one qubit of every pair and a correction
  on one whole pair and A, with the sign read off the pull-back; all numpy,
  no elimination, O(n).

The Clifford is then built in O(|C|) gates, in a few bulk layers: rotate
``X̄``'s letters to X and fan them into ``t`` with CNOTs, rotate the rest of
``Z̄`` to Z and fan it into ``t``, fix ``t``'s letter and the two signs. When
the survivors hold a whole clone and the whole key, :func:`find_recovery`
returns the protocol's own decryption of that clone instead
(:attr:`Recovery.plain_clone`).

Examples:
    >>> from qclone.protocol import Layout
    >>> lay = Layout(2)                                   # A S1 S2 N1 N2: the [[5,1,3]] code
    >>> is_authorized(lay, [0, 3, 4]), is_authorized(lay, [1, 2])
    (True, False)
    >>> rec = find_recovery(lay, [lay.A(), lay.S(1), lay.S(2)])   # no key at all
    >>> rec.targets, rec.plain_clone, set(rec.qubits) <= {0, 1, 2}
    ((1,), None, True)
    >>> find_recovery(lay, [lay.S(2), lay.N(1), lay.N(2)]).plain_clone
    2
    >>> try:
    ...     find_recovery(Layout(3), [1, 2, 3])
    ... except UnauthorizedSetError as e:
    ...     print(e.missing)
    the set holds no logical X or Z (it learns only the Y component)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import stim

from qclone.analysis.leakage import Classification, protocol_analyzer
from qclone.errors import InvalidArgumentError, is_int
from qclone.protocol import Circuit, Instruction, Layout, decryption, to_stim
from qclone.protocol.circuit import flat_pairs

__all__ = [
    "MAX_HOLDER_SUBSETS", "ROUTES", "Recovery", "UnauthorizedSetError", "authorized_many", "choose_recovery",
    "classify_set", "find_recovery", "is_authorized", "output_images", "plain_recovery",
]

Route = Literal["auto", "structured", "generic"]
#: The routes of :func:`find_recovery`.
ROUTES: tuple[str, ...] = ("auto", "structured", "generic")
#: :func:`choose_recovery` tries every subset of the (undominated) live holders, smallest first, up to this
#: many subsets; beyond, it drops holders one by one (worst-ranked first) while the rest stays authorized,
#: which gives an inclusion-minimal set, not always the smallest.
MAX_HOLDER_SUBSETS = 200_000
_CHUNK = 4096

_AUTHORIZED = Classification("authorized", ("X", "Y", "Z"), 2.0, ("X", "Z"))
_PARTIAL_Y = Classification("partial", ("Y",), 1.0, ("Y",))
_NONE = Classification("none", (), 0.0, ())


class UnauthorizedSetError(InvalidArgumentError):
    """A set of qubits that cannot recover the state, with the reason the algebra gives.

    Attributes:
        missing: what is missing, in words (e.g. ``"the set learns nothing about the state"``).
        classifications: per register qubit, what the set learns (the leakage audit's
            :class:`~qclone.analysis.leakage.Classification`).
    """

    def __init__(self, missing: str, classifications: tuple[Classification, ...] = ()) -> None:
        super().__init__(f"the surviving qubits cannot recover the state: {missing}")
        self.missing = missing
        self.classifications = classifications


@dataclass(frozen=True, eq=False)
class Recovery:
    """A Clifford on surviving qubits that puts the input register back on ``targets``.

    Attributes:
        layout: the object's layout (n clones, k-qubit register).
        qubits: the layout qubits the recovery acts on (sorted; a subset of the survivors given).
        circuit: the Clifford, a :class:`~qclone.protocol.Circuit` on ``layout.registers`` that
            acts on ``qubits`` only.
        targets: ``targets[i]`` holds input qubit ``A_i``'s state afterwards (its entanglement with
            outside qubits included), in a product with every other qubit.
        plain_clone: j when this is the protocol's own decryption of clone j (clone j and the whole
            key), else ``None``.
        route: ``"plain"``, ``"structured"`` or ``"generic"``: how the logical operators were found.
    """

    layout: Layout
    qubits: tuple[int, ...]
    circuit: Circuit
    targets: tuple[int, ...]
    plain_clone: int | None = None
    route: str = "structured"

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels of :attr:`qubits`."""
        return tuple(self.layout.label(q) for q in self.qubits)


# --- input -------------------------------------------------------------------------------------------------


def _protocol_size(layout: Layout) -> int:
    return (2 * layout.clones + 1) * layout.qubits


def _survivor_mask(layout: Layout, survivors: Iterable[int]) -> np.ndarray:
    """Boolean mask over the layout's protocol qubits (references excluded); validates the indices."""
    if not isinstance(layout, Layout):
        raise InvalidArgumentError(f"expected a qclone.protocol.Layout, got {type(layout).__name__}")
    if isinstance(survivors, (str, bytes)):
        raise InvalidArgumentError("give the surviving qubits as a collection of qubit indices, not a string")
    m = _protocol_size(layout)
    items = survivors if isinstance(survivors, np.ndarray) else list(survivors)
    # plain ints pass a C-speed type scan; anything else (numpy integers, ...) is checked one by one
    if not isinstance(items, np.ndarray) and not set(map(type, items)) <= {int} and not all(is_int(x) for x in items):
        raise InvalidArgumentError("surviving qubits must be integer qubit indices")
    arr = np.asarray(items)
    if arr.size and (arr.dtype.kind not in "iu" or arr.ndim != 1):
        raise InvalidArgumentError("surviving qubits must be integer qubit indices")
    idx = arr.astype(np.int64, copy=False).ravel()
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= m):
        raise InvalidArgumentError(f"surviving qubit indices must be in 0..{m - 1} (the protocol's qubits)")
    mask = np.zeros(m, dtype=bool)
    mask[idx] = True
    return mask


# --- the structured algebra ---------------------------------------------------------------------------------


def _counts(layout: Layout, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For masks ``(B, m)``: per mask and register qubit, (A held, c, s, e) as ``(B, k)`` arrays."""
    n, k = layout.clones, layout.qubits
    grid = masks.reshape(masks.shape[0], 2 * n + 1, k)
    held_a = grid[:, 0, :]
    s_in, n_in = grid[:, 1 : n + 1, :], grid[:, n + 1 :, :]
    both = np.count_nonzero(s_in & n_in, axis=1)
    s_only = np.count_nonzero(s_in & ~n_in, axis=1)
    neither = np.count_nonzero(~s_in & ~n_in, axis=1)
    return held_a, both, s_only, neither


def _kinds(clones: int, held_a: np.ndarray, both: np.ndarray, s_only: np.ndarray, neither: np.ndarray) -> np.ndarray:
    """0 none, 1 partial (Y), 2 authorized, elementwise (see the module docstring for the derivation)."""
    odd_n = clones % 2 == 1
    whole = both >= 1
    authorized = (whole & ((neither == 0) | held_a)) | (~whole & held_a & (neither == 0) & ((s_only % 2 == 1) | (not odd_n)))
    partial = ~whole & (neither == 0) & odd_n & np.where(held_a, s_only % 2 == 0, s_only % 2 == 1)
    return np.where(authorized, 2, np.where(partial, 1, 0))


def authorized_many(layout: Layout, masks: np.ndarray) -> np.ndarray:
    """Whether each row of a boolean ``(B, m)`` matrix (m = the protocol's qubits) is an authorized set.

    Vectorised over the rows: the closed form of the module docstring, O(B · m).
    """
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 2 or masks.shape[1] != _protocol_size(layout):
        raise InvalidArgumentError(f"expected masks of shape (B, {_protocol_size(layout)})")
    kinds = _kinds(layout.clones, *_counts(layout, masks))
    result: np.ndarray = np.all(kinds == 2, axis=1)
    return result


def is_authorized(layout: Layout, survivors: Iterable[int]) -> bool:
    """Whether the surviving qubits (layout indices) can recover the whole input register, exactly, any n.

    Examples:
        >>> lay = Layout(4)
        >>> is_authorized(lay, [lay.A(), *lay.signals])         # {A, S_1..S_n}: no key needed
        True
        >>> is_authorized(lay, lay.keys)                         # the key alone
        False
    """
    mask = _survivor_mask(layout, survivors)
    return bool(authorized_many(layout, mask[None, :])[0])


def classify_set(layout: Layout, survivors: Iterable[int]) -> tuple[Classification, ...]:
    """What the surviving qubits learn about each register qubit (structured algebra, any n).

    The answer is the leakage audit's (:func:`qclone.analysis.leakage.classify`), computed
    in closed form; the tests check the two agree.

    Examples:
        >>> [c.kind for c in classify_set(Layout(3, qubits=2), [2, 4, 6])]
        ['partial', 'none']
    """
    mask = _survivor_mask(layout, survivors)
    kinds = _kinds(layout.clones, *_counts(layout, mask[None, :]))[0]
    table = (_NONE, _PARTIAL_Y, _AUTHORIZED)
    return tuple(table[int(x)] for x in kinds)


def _missing(classifications: tuple[Classification, ...]) -> str:
    """The reason a set is not authorized, in words, from what it learns per register qubit."""
    parts = []
    for i, c in enumerate(classifications):
        if c.kind == "authorized":
            continue
        if not c.leaked:
            text = "the set learns nothing about the state"
        else:
            learned = sorted({letter for name in c.leaked for letter in name if letter != "I"})
            lacking = [p for p in ("X", "Z") if p not in c.leaked]
            text = (f"the set holds no logical {' or '.join(lacking)} "
                    f"(it learns only the {'/'.join(learned)} component)")
        parts.append(text if len(classifications) == 1 else f"register qubit {i}: {text}")
    return "; ".join(parts)


def _structured_logical(n: int, held: np.ndarray, logical: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, int] | None:
    """A Pauli on the held qubits of the plain layout ``Layout(n)`` acting on the code as ``logical``.

    ``held``: boolean mask over ``A, S_1..S_n, N_1..N_n``; ``logical``: ``(1, 0)`` for X, ``(0, 1)``
    for Z. Returns the Pauli's x bits, z bits and its sign (the Hermitian Pauli with these letters
    times the sign acts on the code as the logical operator), or ``None`` if the set holds none.
    """
    s_in, n_in = held[1 : n + 1], held[n + 1 :]
    both = s_in & n_in
    s_only, n_only = s_in & ~n_in, ~s_in & n_in
    a_held = bool(held[0])
    c, s, e = int(both.sum()), int(s_only.sum()), int((~s_in & ~n_in).sum())
    j0 = int(np.flatnonzero(both)[0]) if c else -1
    best: tuple[int, np.ndarray, np.ndarray] | None = None
    # unknowns: a, b (the pull-back's two anticommutation bits) and A's letter (u_A, v_A)
    for a, b, u_a, v_a in itertools.product((0, 1), repeat=4):
        if (e and (a or b)) or (not a_held and (u_a or v_a)):
            continue
        got = ((u_a + a) % 2, (v_a + b) % 2) if a_held else (a, b)
        if got != logical:
            continue
        # consistency: a = v_A + V + s b and b = u_A + U + s a + (n + 1) a (U, V: the whole pairs' letters)
        big_v = (a + v_a + s * b) % 2
        big_u = (b + u_a + s * a + (n + 1) * a) % 2
        if not c and (big_u or big_v):
            continue
        xs, zs = _letters(n, (a, b, u_a, v_a, big_u, big_v), s_only, n_only | both, j0)
        weight = int(np.count_nonzero(xs | zs))
        if best is None or weight < best[0]:
            best = (weight, xs, zs)
    if best is None:
        return None
    _, xs, zs = best
    return xs, zs, _logical_sign(n, xs, zs)


def _letters(n: int, bits: tuple[int, ...], s_only: np.ndarray, on_n: np.ndarray, j0: int) -> tuple[np.ndarray, np.ndarray]:
    """The Pauli of one solution: letter (a, b) on every S-only qubit and on N_l of every other held
    pair, except the whole pair j0, which carries (U, V) on S_j0 and (U + a, V + b) on N_j0."""
    a, b, u_a, v_a, big_u, big_v = bits
    m = 2 * n + 1
    xs = np.zeros(m, dtype=bool)
    zs = np.zeros(m, dtype=bool)
    xs[0], zs[0] = bool(u_a), bool(v_a)
    xs[1 : n + 1][s_only] = bool(a)
    zs[1 : n + 1][s_only] = bool(b)
    if j0 >= 0:
        on_n = on_n.copy()
        on_n[j0] = False
        xs[1 + j0], zs[1 + j0] = bool(big_u), bool(big_v)
        xs[n + 1 + j0], zs[n + 1 + j0] = bool((big_u + a) % 2), bool((big_v + b) % 2)
    xs[n + 1 :][on_n] = bool(a)
    zs[n + 1 :][on_n] = bool(b)
    return xs, zs


def _logical_sign(n: int, xs: np.ndarray, zs: np.ndarray) -> int:
    """The sign ``σ`` with (Hermitian Pauli of letters ``xs, zs``) = ``σ`` · logical on the code.

    Phases as ``i^p X^x Z^z`` (Y = i X Z). The pull-back through ``U_enc`` multiplies by ``i·XX``
    (when the Pauli anticommutes with XX, the factor applied last), then by ``i·ZZ``; before the
    encryption every pair (S_l, N_l) is in |Φ+⟩, where ``X^x Z^z ⊗ X^x Z^z`` is +1, so what is left
    is ``i^p`` times the logical ``X^x Z^z`` on A.
    """
    ss = slice(0, n + 1)  # A and the clones: where the encryption acts
    p = int(np.count_nonzero(xs & zs))
    x = xs.copy()
    z = zs.copy()
    if np.count_nonzero(z[ss]) % 2:
        p += 1
        x[ss] ^= True
    if np.count_nonzero(x[ss]) % 2:
        p += 1 + 2  # i·ZZ, and Z^1 X^x = (−1)^{|x|} X^x Z^1 with |x| odd
        z[ss] ^= True
    p %= 4
    if p % 2:
        raise RuntimeError("internal error: a logical representative with an imaginary phase")
    return 1 - p


# --- the generic route --------------------------------------------------------------------------------------


def _generic_logicals(n: int, held: np.ndarray) -> tuple[list[stim.PauliString] | None, Classification]:
    """(X̄, Z̄) on the held qubits of ``Layout(n)`` by the leakage engine's elimination, or None and what it learns."""
    analyzer = protocol_analyzer(n)
    labels = Layout(n).labels
    chosen = [labels[q] for q in np.flatnonzero(held).tolist()]
    found = {w.logical: w for w in analyzer.witnesses(chosen)}
    if "X" not in found or "Z" not in found:
        return None, analyzer.classify(chosen)
    index = {lab: i for i, lab in enumerate(labels)}
    out = []
    for letter in ("X", "Z"):
        w = found[letter]
        p = stim.PauliString(2 * n + 1)
        for lab, pauli in w.operator:
            p[index[lab]] = pauli
        out.append(p * w.sign)
    return out, _AUTHORIZED


# --- the Clifford ----------------------------------------------------------------------------------------


def _pick_target(n: int, xs: np.ndarray, zs: np.ndarray) -> int:
    """A qubit in the support of both X̄ and Z̄ (bits given as (2, m) arrays): a clone first, then A, then a key."""
    common = (xs[0] | zs[0]) & (xs[1] | zs[1])
    order = np.concatenate([np.arange(1, n + 1), [0], np.arange(n + 1, 2 * n + 1)])
    hits = order[common[order]]
    if not hits.size:
        raise RuntimeError("internal error: X̄ and Z̄ share no qubit")
    return int(hits[0])


def _synthesize(xbar: stim.PauliString, zbar: stim.PauliString, t: int) -> list[tuple[str, np.ndarray]]:
    """Bulk layers of a Clifford mapping ``xbar → +X_t`` and ``zbar → +Z_t`` (anticommuting, Hermitian).

    Acts on the union of the two supports only.
    """
    layers: list[tuple[str, np.ndarray]] = []

    def push(name: str, targets: np.ndarray, *paulis: stim.PauliString) -> list[stim.PauliString]:
        if not targets.size:
            return list(paulis)
        layers.append((name, targets))
        step = stim.Circuit(f"{name} {' '.join(map(str, targets.tolist()))}")  # text: far faster than append
        return [p.after(step) for p in paulis]

    x_bits, z_bits = xbar.to_numpy()
    # X̄: every letter to X (Z -H-> X, Y -S-> −X), then a CNOT fan out of t: X_t X_w -> X_t
    xbar, zbar = push("H", np.flatnonzero(z_bits & ~x_bits), xbar, zbar)
    xbar, zbar = push("S", np.flatnonzero(z_bits & x_bits), xbar, zbar)
    others = np.flatnonzero(x_bits | z_bits)
    others = others[others != t]
    xbar, zbar = push("CX", flat_pairs(np.full(others.size, t), others), xbar, zbar)
    # Z̄ now has Z or Y on t; the rest of it to Z (X -H-> Z, Y -SQRT_X-> Z), then fanned into t
    x_bits, z_bits = zbar.to_numpy()
    rest = np.flatnonzero(x_bits | z_bits)
    rest = rest[rest != t]
    xbar, zbar = push("H", rest[x_bits[rest] & ~z_bits[rest]], xbar, zbar)
    xbar, zbar = push("SQRT_X", rest[x_bits[rest] & z_bits[rest]], xbar, zbar)
    xbar, zbar = push("CX", flat_pairs(rest, np.full(rest.size, t)), xbar, zbar)
    if zbar[t] == 2:  # Y_t -> Z_t, keeping X_t
        xbar, zbar = push("SQRT_X", np.array([t]), xbar, zbar)
    if xbar.sign.real < 0:
        xbar, zbar = push("Z", np.array([t]), xbar, zbar)
    if zbar.sign.real < 0:
        xbar, zbar = push("X", np.array([t]), xbar, zbar)
    m = len(xbar)
    want_x, want_z = stim.PauliString(m), stim.PauliString(m)
    want_x[t], want_z[t] = "X", "Z"
    if xbar != want_x or zbar != want_z:
        raise RuntimeError("internal error: the recovery Clifford does not map the logical operators")
    return layers


def plain_recovery(layout: Layout, clone: int) -> Recovery:
    """The protocol's own decryption of ``clone`` (clone j and the whole key) as a :class:`Recovery`.

    Examples:
        >>> rec = plain_recovery(Layout(3), 2)
        >>> rec.targets, rec.labels
        ((2,), ('S2', 'N1', 'N2', 'N3'))
    """
    j = layout.check_target(clone)
    if j == "A":
        raise InvalidArgumentError("a plain recovery decrypts a clone 1..n")
    circuit = decryption(layout, j)
    qubits = tuple(sorted((*layout.clone(j), *layout.keys)))
    return Recovery(layout, qubits, circuit, layout.clone(j), j, "plain")


def find_recovery(layout: Layout, survivors: Iterable[int], *, route: Route = "auto", plain: bool = True) -> Recovery:
    """A recovery Clifford acting only on the surviving qubits (layout indices).

    Args:
        layout: the object's layout.
        survivors: the qubits that survive (layout indices; repeats count once).
        route: how the logical operators are found: ``"structured"`` (the code's structure, O(n),
            any n), ``"generic"`` (GF(2) elimination, grows as ``|C|² · n``) or ``"auto"``
            (structured).
        plain: when the survivors hold a whole clone and the whole key, return the protocol's
            decryption of the lowest such clone (:func:`plain_recovery`).

    Raises:
        UnauthorizedSetError: the survivors cannot recover the state (with what they lack).

    Examples:
        >>> lay = Layout(5)
        >>> rec = find_recovery(lay, [lay.A(), lay.S(3), lay.N(3)])
        >>> rec.labels, rec.targets
        (('A', 'S3', 'N3'), (3,))
    """
    if route not in ROUTES:
        raise InvalidArgumentError(f"unknown route {route!r}; choose one of {', '.join(ROUTES)}")
    mask = _survivor_mask(layout, survivors)
    n, k = layout.clones, layout.qubits
    grid = mask.reshape(2 * n + 1, k)
    kinds = _kinds(n, *_counts(layout, mask[None, :]))[0]
    if route != "generic" and not bool(np.all(kinds == 2)):
        table = (_NONE, _PARTIAL_Y, _AUTHORIZED)
        classes = tuple(table[int(x)] for x in kinds)
        raise UnauthorizedSetError(_missing(classes), classes)
    if plain:
        key_held = bool(grid[n + 1 :].all())
        clones = np.flatnonzero(grid[1 : n + 1].all(axis=1))
        if key_held and clones.size:
            return plain_recovery(layout, int(clones[0]) + 1)
    per_copy: list[tuple[stim.PauliString, stim.PauliString]] = []
    classes_seen: list[Classification] = []
    for i in range(k):
        held = grid[:, i]
        if route == "generic":
            pair, cls = _generic_logicals(n, held)
            classes_seen.append(cls)
            if pair is not None:
                per_copy.append((pair[0], pair[1]))
            continue
        ops = []
        for logical in ((1, 0), (0, 1)):
            found = _structured_logical(n, held, logical)
            if found is None:  # the closed form said authorized: a bug if we get here
                raise RuntimeError("internal error: no logical operator in an authorized set")
            xs, zs, sign = found
            ops.append(stim.PauliString.from_numpy(xs=xs, zs=zs) * sign)
        per_copy.append((ops[0], ops[1]))
    if route == "generic" and len(per_copy) < k:
        raise UnauthorizedSetError(_missing(tuple(classes_seen)), tuple(classes_seen))
    instructions: list[Instruction] = []
    targets: list[int] = []
    touched: list[np.ndarray] = []
    for i, (xbar, zbar) in enumerate(per_copy):
        bits = [xbar.to_numpy(), zbar.to_numpy()]
        xs = np.stack([bits[0][0], bits[1][0]])
        zs = np.stack([bits[0][1], bits[1][1]])
        t = _pick_target(n, xs, zs)
        embed = layout.embedding(i)
        for name, tg in _synthesize(xbar, zbar, t):
            instructions.append(Instruction(name, embed[tg]))
        targets.append(int(embed[t]))
        touched.append(embed[np.flatnonzero((xs | zs).any(axis=0))])
    qubits = tuple(np.unique(np.concatenate(touched)).tolist())
    circuit = Circuit(layout.registers, tuple(instructions))
    return Recovery(layout, qubits, circuit, tuple(targets), None, "generic" if route == "generic" else "structured")


# --- what errors become ---------------------------------------------------------------------------------


def output_images(recovery: Recovery) -> dict[int, tuple[tuple[int, int], tuple[int, int]]]:
    """Where a Pauli error on a recovery qubit ends up on the output, exactly.

    For every qubit ``q`` in ``recovery.qubits``: ``((x mask, z mask) of V X_q V†, (x mask, z
    mask) of V Z_q V†)`` restricted to the targets, signs dropped; bit ``i`` of a mask is
    ``recovery.targets[i]`` (little-endian, Qiskit's order). After the recovery the output is in a
    product with everything else, so a Pauli channel on ``q`` before the recovery is the same
    Pauli channel, through these images, on the output. A qubit outside ``recovery.qubits`` maps to
    the identity.

    Computed from the circuit: the x bit on target ``t`` is whether the Pauli anticommutes with
    ``V† Z_t V``, the z bit whether it anticommutes with ``V† X_t V`` (2k pull-backs in all).

    Examples:
        >>> rec = plain_recovery(Layout(2), 1)
        >>> output_images(rec)[Layout(2).S(1)]
        ((0, 1), (1, 1))
    """
    lay = recovery.layout
    m = _protocol_size(lay)
    circuit = to_stim(recovery.circuit)
    qubits = np.asarray(recovery.qubits, dtype=np.int64)
    x_img = np.zeros((qubits.size, 2), dtype=np.int64)  # column 0: x mask, 1: z mask
    z_img = np.zeros((qubits.size, 2), dtype=np.int64)
    for i, t in enumerate(recovery.targets):
        pulled = []
        for letter in "XZ":
            p = stim.PauliString(m)
            p[t] = letter
            pulled.append(p.before(circuit).to_numpy())
        (xl_x, xl_z), (zl_x, zl_z) = pulled  # V† X_t V and V† Z_t V
        bit = np.int64(1 << i)
        # X_q anticommutes with a Pauli iff it has z on q; Z_q iff it has x on q
        x_img[:, 0] |= np.where(zl_z[qubits], bit, 0)
        x_img[:, 1] |= np.where(xl_z[qubits], bit, 0)
        z_img[:, 0] |= np.where(zl_x[qubits], bit, 0)
        z_img[:, 1] |= np.where(xl_x[qubits], bit, 0)
    return {q: ((xx, xz), (zx, zz)) for q, xx, xz, zx, zz in
            zip(qubits.tolist(), *x_img.T.tolist(), *z_img.T.tolist())}


# --- choosing among holders ---------------------------------------------------------------------------------


def _holder_masks(layout: Layout, holders: Mapping[str, Iterable[int]], live: Iterable[str]) -> tuple[list[str], np.ndarray]:
    if isinstance(live, (str, bytes)):
        raise InvalidArgumentError("give the live holders as a collection of names, not one string")
    alive = set(live)
    names = [h for h in holders if h in alive]
    masks = np.stack([_survivor_mask(layout, holders[h]) for h in names]) if names else np.zeros((0, _protocol_size(layout)), bool)
    keep: np.ndarray = np.any(masks, axis=1)
    return [h for h, x in zip(names, keep.tolist()) if x], masks[keep]


def _union(masks: np.ndarray) -> np.ndarray:
    """The union (logical or) of the rows of a boolean matrix."""
    out: np.ndarray = np.any(masks, axis=0)
    return out


def _undominated(masks: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Indices of the holders not dominated by another: ``j`` dominates ``i`` when it holds every
    qubit ``i`` holds and ranks no worse (equal sets and ranks: the first is kept). Swapping a
    dominated holder for its dominator never makes a subset larger, costlier or unauthorized."""
    counts = masks.astype(np.int64)
    outside = counts @ (~masks).T.astype(np.int64)  # [i, j]: qubits of i that j lacks
    inside = outside == 0
    h = masks.shape[0]
    idx = np.arange(h)
    same = inside & inside.T
    better = (ranks[None, :] < ranks[:, None]) | ((ranks[None, :] == ranks[:, None]) & (~same | (idx[None, :] < idx[:, None])))
    dominated = (inside & better & (idx[None, :] != idx[:, None])).any(axis=1)
    out: np.ndarray = np.flatnonzero(~dominated)
    return out


def _fewest(names: list[str], masks: np.ndarray, ranks: np.ndarray, good: Callable[[np.ndarray], np.ndarray]) -> tuple[int, ...] | None:
    """The smallest subset of holders (ties: smallest rank sum, then order) whose union is ``good``.

    ``good`` must be monotone (a superset of a good union is good). Dominated holders are set aside
    (:func:`_undominated`); then every subset of the rest, smallest first, while within
    :data:`MAX_HOLDER_SUBSETS`; then, if none was found, the smallest of three inclusion-minimal
    ones: from all holders, drop holders while ``good`` stays true, worst-ranked first and, among
    equal ranks, the last, the smallest or the largest first.
    """
    if not names:
        return None
    keep = _undominated(masks, ranks)
    masks, ranks = masks[keep], ranks[keep]
    h = keep.size
    tried = 0
    for size in range(1, h + 1):
        count = math.comb(h, size)
        if tried + count > MAX_HOLDER_SUBSETS:
            break
        tried += count
        best: tuple[float, tuple[int, ...]] | None = None
        subsets = itertools.combinations(range(h), size)
        while chunk := list(itertools.islice(subsets, _CHUNK)):  # bounded memory: _CHUNK unions at a time
            combos = np.array(chunk, dtype=np.int64)
            union = np.zeros((combos.shape[0], masks.shape[1]), dtype=bool)
            for col in range(size):
                union |= masks[combos[:, col]]
            ok = np.flatnonzero(good(union))
            if ok.size:
                cost = ranks[combos[ok]].sum(axis=1)
                i = int(np.argmin(cost))  # argmin keeps the first (lexicographic) on ties
                if best is None or float(cost[i]) < best[0]:
                    best = (float(cost[i]), tuple(combos[ok[i]].tolist()))
        if best is not None:
            return tuple(keep[list(best[1])].tolist())
    if not bool(good(_union(masks)[None, :])[0]):
        return None
    sizes = masks.sum(axis=1)
    found: list[tuple[int, float, list[int]]] = []
    orders: list[Callable[[int], tuple[float, float]]] = [
        lambda x: (-ranks[x], -x), lambda x: (-ranks[x], sizes[x]), lambda x: (-ranks[x], -sizes[x])]
    for order in orders:
        chosen = list(range(h))
        for drop in sorted(range(h), key=order):
            trial = [c for c in chosen if c != drop]
            if trial and bool(good(_union(masks[trial])[None, :])[0]):
                chosen = trial
        found.append((len(chosen), float(ranks[chosen].sum()), chosen))
    return tuple(keep[min(found, key=lambda f: (f[0], f[1]))[2]].tolist())


def choose_recovery(layout: Layout, holders: Mapping[str, Iterable[int]], live: Iterable[str], *,
                    rank: Callable[[str], float] | None = None) -> tuple[Recovery, tuple[str, ...]]:
    """Among the live holders, an authorized subset and its recovery.

    The plain decryption of a clone when some clone and the whole key are live (the clone whose
    best-ranked holder ranks best, then the lowest j; the fewest holders covering it), else the
    fewest holders whose qubits together are authorized (ties: the smallest sum of ranks).
    ``rank``: lower is better (default: all equal; ties go to the holders' order in ``holders``).
    Live names that hold nothing here are ignored. The search is exact while the subsets to try
    stay within :data:`MAX_HOLDER_SUBSETS` (a holder whose qubits another no worse-ranked holder
    also holds is never needed, so it is not tried); beyond, the set is inclusion-minimal.

    Returns:
        The recovery (acting only on the chosen holders' qubits) and the names of those holders,
        in the order of ``holders``.

    Raises:
        UnauthorizedSetError: no subset of the live holders is authorized (the reason is that of
            all live holders together).

    Examples:
        >>> lay = Layout(3)
        >>> holders = {"client": [lay.A()], "vault": list(lay.keys),
        ...            **{f"p{j}": [lay.S(j)] for j in range(1, 4)}}
        >>> rec, used = choose_recovery(lay, holders, ["client", "p1", "p2", "p3", "vault"])
        >>> used, rec.plain_clone
        (('vault', 'p1'), 1)
        >>> rec, used = choose_recovery(lay, holders, ["client", "p1", "p2", "p3"])   # the vault is lost
        >>> used, rec.plain_clone
        (('client', 'p1', 'p2', 'p3'), None)
    """
    names, masks = _holder_masks(layout, holders, live)
    ranks = np.array([float(rank(h)) if rank else 0.0 for h in names], dtype=float)
    union = _union(masks) if names else np.zeros(_protocol_size(layout), dtype=bool)
    if not bool(authorized_many(layout, union[None, :])[0]):
        classes = classify_set(layout, np.flatnonzero(union))
        raise UnauthorizedSetError(_missing(classes), classes)
    n = layout.clones
    grid = union.reshape(2 * n + 1, layout.qubits)
    if grid[n + 1 :].all():
        candidates = []
        for j in np.flatnonzero(grid[1 : n + 1].all(axis=1)).tolist():
            clone = np.asarray(layout.clone(j + 1))
            holding = [r for r, mk in zip(ranks.tolist(), masks) if mk[clone].any()]
            candidates.append((min(holding), j + 1))
        for _, j in sorted(candidates):
            needed = np.zeros(union.size, dtype=bool)
            needed[list(layout.clone(j))] = True
            needed[list(layout.keys)] = True
            near = np.flatnonzero((masks & needed).any(axis=1))

            def covers(u: np.ndarray, need: np.ndarray = needed) -> np.ndarray:
                out: np.ndarray = np.all(u | ~need, axis=1)
                return out

            pick = _fewest([names[x] for x in near], masks[near], ranks[near], covers)
            if pick is not None:
                used = sorted(near[list(pick)].tolist())
                return plain_recovery(layout, j), tuple(names[x] for x in used)
    pick = _fewest(names, masks, ranks, lambda u: authorized_many(layout, u))
    if pick is None:  # unreachable: the union is authorized
        raise RuntimeError("internal error: no authorized subset of an authorized union")
    chosen = _union(masks[list(pick)])
    return find_recovery(layout, np.flatnonzero(chosen), plain=False), tuple(names[x] for x in sorted(pick))
