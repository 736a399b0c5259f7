"""A comb (tree) layout on heavy-hex: the key qubits on one path, the clones on branches off it.

On today's path (:mod:`qclone.hardware.schedule`) clones and key qubits alternate,
so the decrypted pair (s = S_j, t = N_j) must be swapped past every other clone:
6 of the 10 CNOTs per pair of the decryption's walk move it past clones it may not
act on. Here the key qubits sit on one path of the coupling map (the *spine*)

    R, A, s, t, N_p1, N_p2, ..., N_pm           (m = n − 1)

and every other clone S_pk sits *off* the spine, on a branch: a qubit next to its
key qubit where the lattice has one (heavy-hex: every second qubit of a row has a
bridge qubit beside it), else a few steps away through the branches of other
pairs. The decryption then walks (s, t) along key qubits only: 4 CNOTs per key
(CZ(s, N_k) and CX(t, N_k), each merged with the SWAP that moves the walker on),
the clones untouched — it acts on s, t and the key qubits alone, as the protocol
requires (who can decrypt is unchanged).

**Encryption** (an isometry from A, exact; the same joint state up to where the
qubits sit). Write the encrypted state as the one-clone encryption on (A, s, t)
with, for every other pair, the Pauli σ_μ of the branch applied to a Bell pair:
(σ_μ ⊗ I)|Φ+⟩ = (I ⊗ σ_μᵀ)|Φ+⟩, so the Pauli can act on the key qubit.

1. every other pair is made a Bell pair |Φ+⟩ along its branch (``transports``):
   H on the key qubit, CX to the next qubit of the branch, then each further step
   a move into a qubit still in |0⟩ (two CNOTs), so the qubits between are back in
   |0⟩ (2d − 1 CNOTs for a clone d steps away; the longest branches first, while
   the qubits they pass are still unused);
2. the bits (a, b) of the seed pair in the B-frame (t in |+⟩ holds b, copied to s,
   X^b onto A, H makes s a fresh bit a, Z^a onto A) with the branch phases: S† on
   both and a CZ(s, t) for every n (the linear schedule's CZ for odd n, times (−1)^(ab)
   for each of the n − 1 keys, where the walk applies X^b before Z^a: Z^a X^b = (−1)^(ab) X^b Z^a);
3. (s, t) walk the spine: t applies CX(t, N_k) (X^b on the key), s applies
   CZ(s, N_k) (Z^a), each merged with the SWAP past N_k;
4. B = CX(s → t)·H(s) on the seed pair, at the far end of the spine.

The encryption moves s, t to the far end and every key qubit two places back
(``encrypted_slots``); the decryption (CX(s, t) H(s), the walk back, S S CZ H CX)
returns them. Both stages are checked exact by
:func:`qclone.hardware.check.check_schedule` (the dense engine for n ≤ 5, stim
tableaux above), with the textbook decryption applied where the encryption left
the qubits.

Without a backend the branches follow a heavy-hex row: the odd-numbered key
qubits have their clone beside them, the others reach theirs through the previous
pair (key, clone, then one step further: 5 CNOTs). :func:`tree_layout` finds the
spine and the branches on a device: the spine may be any simple path of the coupling
map (:func:`simple_paths`; it may turn at any bridge and go round a bad coupler), a
cheap score ranks them all (:func:`ranked_spines`), and the scheduled stim model of
:mod:`qclone.hardware.predict` picks the best of the first few
(:func:`tree_candidates`) — the placement is chosen by the fidelity it predicts.

Examples:
    >>> from qclone.hardware.check import check_schedule
    >>> check_schedule(tree_schedule(4, decrypt=2)).passed
    True
    >>> check_schedule(tree_schedule(40, decrypt=7), method="stim").passed
    True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from qiskit.providers import BackendV2

from qclone.errors import InvalidArgumentError, TooLargeError, is_int
from qclone.hardware.dynamic import Walker
from qclone.hardware.layout import DeviceLayout, coupling_adjacency, long_path
from qclone.hardware.schedule import SLOT_REGISTER, Schedule, protocol_schedule, slot_labels
from qclone.protocol import Circuit
from qclone.protocol.layout import check_clones

#: A branch: slots from a key qubit to its clone (the qubits between are back in |0⟩ afterwards).
Branch = tuple[int, ...]


def _empty(m: int) -> Circuit:
    return Circuit(((SLOT_REGISTER, m),))


def spine_slots(clones: int) -> tuple[int, ...]:
    """Slots along the spine: R, A, s, t, then the other key qubits (N of pair_order[0], [1], ...)."""
    n = check_clones(clones)
    return (0, 1, 2 * n, 2 * n + 1, *(3 + 2 * i for i in range(n - 1)))


def row_branches(clones: int) -> tuple[Branch, ...]:
    """The device-free branches (a heavy-hex row): key i (0-based) has its clone beside it for even i,
    else through the previous pair: N_i, N_(i-1), S_(i-1), S_i."""
    n = check_clones(clones)
    out: list[Branch] = []
    for i in range(n - 1):
        key, clone = 3 + 2 * i, 2 + 2 * i
        out.append((key, clone) if i % 2 == 0 else (key, key - 2, clone - 2, clone))
    return tuple(out)


def _check_branches(clones: int, branches: Sequence[Branch]) -> tuple[Branch, ...]:
    """Branches in the order they run (longest first), validated: one per other pair, from its key to
    its clone, through slots that are still in |0⟩ when it runs."""
    n = check_clones(clones)
    brs = sorted((tuple(int(x) for x in b) for b in branches), key=lambda b: -len(b))
    if sorted((b[0], b[-1]) for b in brs) != [(3 + 2 * i, 2 + 2 * i) for i in range(n - 1)]:
        raise InvalidArgumentError("one branch per other pair, from its key qubit to its clone")
    populated: set[int] = set()
    for b in brs:
        inner = set(b[1:-1])
        if len(set(b)) != len(b) or inner & populated or inner & {0, 1, 2 * n, 2 * n + 1} or not all(0 <= x < 2 * n + 2 for x in b):
            raise InvalidArgumentError(f"branch {b} passes a qubit that is not free at that time")
        populated |= {b[0], b[-1]}
    return tuple(brs)


def tree_encryption(clones: int, branches: Sequence[Branch] | None = None) -> tuple[Circuit, list[int]]:
    """Bell pairs + U_enc on the tree's slots; returns the circuit and the walker's slot contents
    (``content[slot]`` = slot the qubit started in)."""
    n = check_clones(clones)
    m = 2 * n + 2
    brs = _check_branches(n, row_branches(n) if branches is None else branches)
    c = _empty(m)
    for b in brs:  # 1. Bell pairs |Φ+⟩ along the branches
        c = c.append("H", [b[0]]).append("CX", [b[0], b[1]])
        for x, y in zip(b[1:], b[2:]):
            c = c.append("CX", [x, y]).append("CX", [y, x])
    a, s, t = 1, 2 * n, 2 * n + 1
    # 2. the seed pair's bits in the B-frame (t = b, s = a) with X^b Z^a on A, and the branch phases
    c = c.append("H", [t]).append("CX", [t, s]).append("CX", [s, a]).append("H", [s]).append("CZ", [s, a])
    c = c.append("S_DAG", [s, t]).append("CZ", [s, t])
    # 3. the walk: t then s meet every key qubit (CX, CZ), each merged with the SWAP past it
    w = Walker(m)
    pos = spine_slots(n)[2:]
    for i in range(n - 1):
        w.cx_swap(pos[i + 1], pos[i + 2])
        w.cz_swap(pos[i], pos[i + 1])
    s_at, t_at = pos[n - 1], pos[n]
    c = c + w.c
    return c.append("H", [s_at]).append("CX", [s_at, t_at]), w.content  # 4. B on the seed pair


def tree_decryption(clones: int) -> tuple[Circuit, list[int]]:
    """U_dec of the seed pair from where the encryption left it: the walk back along the spine."""
    n = check_clones(clones)
    w = Walker(2 * n + 2)
    pos = spine_slots(n)[2:]
    s_at, t_at = pos[n - 1], pos[n]
    w.add("CX", s_at, t_at)
    w.add("H", s_at)
    for i in range(n - 2, -1, -1):  # the key that started at pos[i + 2] is at pos[i]
        w.cz_swap(pos[i + 1], pos[i])
        w.cx_swap(pos[i + 2], pos[i + 1])
    s_at, t_at = pos[0], pos[1]
    c = w.c.append("S", [s_at, t_at]).append("CZ", [s_at, t_at]).append("H", [s_at]).append("CX", [s_at, t_at])
    return c, w.content


def tree_schedule(clones: int, decrypt: int = 1, pair_order: tuple[int, ...] | None = None,
                  branches: Sequence[Branch] | None = None) -> Schedule:
    """The comb schedule (n = 1: today's textbook circuit). ``pair_order``: the other pairs along the
    spine, then ``decrypt`` (default 1..n with ``decrypt`` last); ``branches``: slot paths from each
    key qubit to its clone (default :func:`row_branches`)."""
    n = check_clones(clones)
    if not is_int(decrypt) or not 1 <= decrypt <= n:
        raise InvalidArgumentError(f"the decrypted clone must be in 1..{n}, got {decrypt!r}")
    if pair_order is None:
        pair_order = tuple(k for k in range(1, n + 1) if k != decrypt) + (decrypt,)
    if n == 1:
        return protocol_schedule(1, pair_order=pair_order)
    if sorted(pair_order) != list(range(1, n + 1)) or pair_order[-1] != decrypt:
        raise InvalidArgumentError("pair_order must list every clone once, the decrypted one last")
    labels = slot_labels(n, tuple(pair_order))
    enc, mid = tree_encryption(n, branches)
    dec, end = tree_decryption(n)
    return Schedule(
        clones=n,
        pair_order=tuple(pair_order),
        encryption=enc,
        decryption=dec,
        initial_slots={lab: i for i, lab in enumerate(labels)},
        final_slots={labels[mid[start]]: slot for slot, start in enumerate(end)},
        encrypted_slots={labels[start]: slot for slot, start in enumerate(mid)},
    )


# --- on a device -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeLayout(DeviceLayout):
    """A :class:`~qclone.hardware.layout.DeviceLayout` whose ``path`` is the slot → physical qubit map
    of the comb (not one path of the device: the spine is ``path`` at :func:`spine_slots`, the clones
    hang off it), with the ``branches`` (slot paths from each key qubit to its clone)."""

    branches: tuple[Branch, ...] = ()

    @property
    def spine(self) -> tuple[int, ...]:
        return tuple(self.path[s] for s in spine_slots(self.clones))


def _branches(adj: Sequence[Sequence[int]], spine: Sequence[int]) -> dict[int, tuple[int, ...]] | None:
    """Physical branch (key, ..., clone) for every key qubit of ``spine[4:]``, or None.

    Pass 1: a free neighbour (keys with fewer choices first). Pass 2: the nearest free qubit reached
    through key qubits and clones found so far (they must still be in |0⟩ when the branch runs, which
    :func:`_check_branches` verifies; the caller skips a spine where that fails)."""
    keys = list(spine[4:])
    used = set(spine)
    claimed: dict[int, tuple[int, ...]] = {}
    taken: set[int] = set()
    order = sorted(keys, key=lambda k: (sum(v not in used for v in adj[k]), keys.index(k)))
    for k in order:
        free = [v for v in adj[k] if v not in used and v not in taken]
        if free:
            v = min(free, key=lambda v: (sum(u not in used and u not in taken for u in adj[v]), v))
            claimed[k] = (k, v)
            taken.add(v)
    for k in keys:
        if k in claimed:
            continue
        inner = set(keys) | {b[-1] for b in claimed.values()}
        prev = {k: -1}
        queue, found = deque([k]), None
        while queue and found is None:
            u = queue.popleft()
            for v in adj[u]:
                if v in prev:
                    continue
                if v not in used and v not in taken:
                    prev[v], found = u, v
                    break
                if v in inner:
                    prev[v] = u
                    queue.append(v)
        if found is None:
            return None
        path = [found]
        while prev[path[-1]] != -1:
            path.append(prev[path[-1]])
        claimed[k] = tuple(reversed(path))
        taken.add(found)
    return claimed


def _error(backend: BackendV2, a: int, b: int) -> float:
    target = backend.target
    two_q = next((g for g in ("cz", "ecr", "cx") if g in target.operation_names), None)
    props = (target[two_q].get((a, b)) or target[two_q].get((b, a))) if two_q else None
    return float(props.error or 0.0) if props is not None else 0.0


#: A two-qubit gate error at or above this marks a broken coupler; no window uses one.
DEAD_EDGE = 0.5
#: Seconds a walk spends per key qubit (two merged CNOTs per walker, one after the other), for the layout's score.
WALK_STEP = 0.4e-6


def _decay_rate(backend: BackendV2, qubit: int) -> float:
    """1/(2·T2) + 1/(4·T1): the twirled relaxation's error rate at short times (T2 capped at 2·T1)."""
    props = backend.target.qubit_properties[qubit] if backend.target.qubit_properties else None
    t1, t2 = getattr(props, "t1", None), getattr(props, "t2", None)
    if not t1 or not t2:
        return 0.0
    return 1 / (2 * min(t2, 2 * t1)) + 1 / (4 * t1)


#: Simple paths enumerated at most per spine length; above, the spines are the windows of the long path.
MAX_SPINES = 250_000
#: Spines the scheduled stim model scores by default (the best of the heuristic ranking, distinct ones).
MODEL_CANDIDATES = 24


def simple_paths(adj: Sequence[Sequence[int]], length: int, *, limit: int | None = None,
                 avoid: Callable[[int, int], bool] | None = None) -> list[tuple[int, ...]] | None:
    """Every simple path of ``length`` qubits of the coupling graph, each direction once (a path and its
    reverse are two spines: R sits at the first qubit), none with an edge ``avoid`` rejects. None if there
    are more than ``limit``. On heavy-hex (degree ≤ 3) there are about 26 000 paths of 18 qubits on a
    156-qubit device.

    Examples:
        >>> len(simple_paths(((1,), (0, 2), (1,)), 2))
        4
    """
    out: list[tuple[int, ...]] = []
    path: list[int] = []
    used: set[int] = set()

    def grow(u: int) -> bool:
        path.append(u)
        used.add(u)
        if len(path) == length:
            out.append(tuple(path))
        else:
            for v in adj[u]:
                if v not in used and (avoid is None or not avoid(u, v)) and not grow(v):
                    return False
        path.pop()
        used.discard(u)
        return limit is None or len(out) <= limit

    for start in range(len(adj)):
        path.clear()
        used.clear()
        if not grow(start):
            return None
    return out


@dataclass(frozen=True)
class _Calibration:
    """The numbers the heuristic score reads, looked up once per device."""

    edge: dict[tuple[int, int], float]
    readout: dict[int, float]
    decay: dict[int, float]

    @classmethod
    def of(cls, backend: BackendV2, adj: Sequence[Sequence[int]]) -> _Calibration:
        edge = {(a, b): _error(backend, a, b) for a in range(len(adj)) for b in adj[a]}
        measure = backend.target["measure"] if "measure" in backend.target.operation_names else {}
        readout = {q: float(measure[(q,)].error or 0.0) for q in range(len(adj))
                   if (q,) in measure and measure[(q,)] is not None}
        return cls(edge, readout, {q: _decay_rate(backend, q) for q in range(len(adj))})

    def dead(self, a: int, b: int) -> bool:
        return self.edge.get((a, b), 0.0) >= DEAD_EDGE


def _placement(cal: _Calibration, adj: Sequence[Sequence[int]], spine: Sequence[int],
               clones: int) -> tuple[float, dict[int, tuple[int, ...]]] | None:
    """Branches for ``spine`` and its heuristic expected error (see :func:`ranked_spines`), or None if
    the spine takes no comb or a branch crosses a broken coupler."""
    n = clones
    w = tuple(spine)
    brs = _branches(adj, w)
    if brs is None:
        return None
    where = {phys: 3 + 2 * i for i, phys in enumerate(w[4:])} | {b[-1]: 2 + 2 * i for i, b in enumerate(brs[k] for k in w[4:])}
    try:
        _check_branches(n, [tuple(where[p] for p in brs[k]) for k in w[4:]])
    except (InvalidArgumentError, KeyError):
        return None
    e = cal.edge
    if any(cal.dead(x, y) for x, y in zip(w, w[1:])) or any(cal.dead(x, y) for b in brs.values() for x, y in zip(b, b[1:])):
        return None  # a coupler the calibration reports as broken
    # the expected gate errors: each spine edge carries about 8 CNOTs (both walks), each branch edge
    # 1 (a clone beside its key) or 2 (a move), plus the readout of R and of the decrypted clone
    err = 8 * sum(e.get((x, y), 0.0) for x, y in zip(w[2:], w[3:]))
    err += 2 * e.get((w[1], w[2]), 0.0) + e.get((w[0], w[1]), 0.0)  # the seed's gates on A; R's Bell pair
    err += sum((1 if len(b) == 2 else 2) * e.get((x, y), 0.0) for b in brs.values() for x, y in zip(b, b[1:]))
    err += cal.readout.get(w[0], 0.0) + cal.readout.get(w[2], 0.0)
    # and the relaxation of the key qubits while they wait between the two walks: the encryption's walk
    # passes spine qubit 2 + i at step i, the decryption's walk back reaches it at step 2n − i
    err += sum(2 * (n - i) * WALK_STEP * cal.decay[q] for i, q in enumerate(w[2:]))
    return err, brs


def place_comb(device: str, clones: int, decrypt: int, spine: Sequence[int], brs: Mapping[int, Sequence[int]]) -> TreeLayout:
    """The :class:`TreeLayout` of a spine (physical qubits R, A, s, t, then the key qubits) and its branches
    (physical qubits from each key qubit to its clone), as :func:`ranked_spines` gives them."""
    n = check_clones(clones)
    if not is_int(decrypt) or not 1 <= decrypt <= n:
        raise InvalidArgumentError(f"the decrypted clone must be in 1..{n}, got {decrypt!r}")
    order = tuple(k for k in range(1, n + 1) if k != decrypt) + (decrypt,)
    slots = [0] * (2 * n + 2)
    for slot, phys in zip(spine_slots(n), spine):
        slots[slot] = phys
    for i, key in enumerate(spine[4:]):
        slots[2 + 2 * i] = brs[key][-1]
    where = {phys: slot for slot, phys in enumerate(slots)}
    branches = tuple(tuple(where[p] for p in brs[key]) for key in spine[4:])
    return TreeLayout(device=device, clones=n, decrypt=decrypt, path=tuple(slots), pair_order=order, branches=branches)


#: The two sets of spines :func:`ranked_spines` searches.
SPINE_SETS: tuple[str, ...] = ("paths", "windows")


def ranked_spines(backend: BackendV2, clones: int, *, spines: str = "paths") -> list[tuple[float, tuple[int, ...], dict[int, tuple[int, ...]]]]:
    """Every spine that takes a comb for n clones, with its branches (:func:`_branches`), best heuristic
    score first: (score, spine, branches by key qubit).

    The score is the expected error: the CZ error of every spine edge the walks cross times 8 (about 8
    CNOTs), of the edges (A, s) and (R, A) times 2 and 1 (the seed's gates on A, the input's Bell pair),
    of every branch edge times the CNOTs its branch puts on it, plus the readout error of R and of the
    decrypted clone, plus the relaxation of the qubits from the third of the spine on while they wait
    between the two walks: 2(n − i) walk steps (:data:`WALK_STEP`) for the qubit 2 + i (the encryption's
    walk passes it at step i, the decryption's walk back at step 2n − i). Spines with a broken coupler
    (error ≥ :data:`DEAD_EDGE`) are left out.

    ``spines``: ``"paths"``: every simple path of n + 3 qubits (:func:`simple_paths`; the spine may turn
    at any bridge and go round a bad coupler), or the windows of the long path if the device has more
    than :data:`MAX_SPINES` of them; ``"windows"``: the windows of the device's long path
    (:func:`~qclone.hardware.layout.long_path`) in both directions.
    """
    n = check_clones(clones)
    if spines not in SPINE_SETS:
        raise InvalidArgumentError(f"spines must be one of {', '.join(SPINE_SETS)}, got {spines!r}")
    adj = coupling_adjacency(backend)
    cal = _Calibration.of(backend, adj)
    length = n + 3
    found = simple_paths(adj, length, limit=MAX_SPINES, avoid=cal.dead) if spines == "paths" else None
    if found is None:
        path = long_path(adj)
        windows = [path[i : i + length] for i in range(len(path) - length + 1)]
        found = windows + [w[::-1] for w in windows]
    ranked = []
    for w in found:
        placed = _placement(cal, adj, w, n)
        if placed is not None:
            ranked.append((placed[0], tuple(w), placed[1]))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return ranked


@dataclass(frozen=True)
class TreeCandidate:
    """A placement of the comb the model scored: its layout, heuristic score (:func:`ranked_spines`; lower
    is better) and the scheduled stim model's average fidelity (higher is better)."""

    layout: TreeLayout
    score: float
    fidelity: float


_CHOSEN: dict[tuple[int, int, str, int], tuple[BackendV2, tuple[TreeCandidate, ...]]] = {}


def tree_candidates(backend: BackendV2, clones: int, *, spines: str = "paths",
                    candidates: int = MODEL_CANDIDATES) -> tuple[TreeCandidate, ...]:
    """The best ``candidates`` placements of the heuristic ranking (:func:`ranked_spines`; two spines that
    differ only in R count once: the model never touches R), each scored by the scheduled stim model
    (:func:`~qclone.hardware.predict.predict`, ALAP, no DD; decrypted clone 1), in ranking order; with
    ``spines="paths"`` the first choice among the windows of the long path (the placement before paths
    were searched) is scored too, last, if it is not among them. Cached per device object, n and arguments.

    Raises:
        TooLargeError: if no spine holds n clones this way.
    """
    n = check_clones(clones)
    if not is_int(candidates) or candidates < 1:
        raise InvalidArgumentError(f"candidates must be a positive integer, got {candidates!r}")
    key = (id(backend), n, spines, int(candidates))
    if key not in _CHOSEN or _CHOSEN[key][0] is not backend:
        from qclone.hardware.predict import DeviceCircuit, predict
        from qclone.hardware.variants import compile_variant

        device = str(getattr(backend, "name", "device"))
        ranked = ranked_spines(backend, n, spines=spines)
        if not ranked:
            raise TooLargeError(f"{n} clones do not fit {device} as a comb (spine of {n + 3} qubits with a branch per key)")
        picked: list[tuple[float, tuple[int, ...], dict[int, tuple[int, ...]]]] = []
        seen: set[tuple] = set()
        windows = ranked_spines(backend, n, spines="windows")[:1] if spines == "paths" else []
        for i, (score, spine, brs) in enumerate(ranked + windows):
            if len(picked) >= candidates and i < len(ranked):
                continue
            same = (spine[1:], tuple(sorted(brs.items())))
            if same not in seen:
                seen.add(same)
                picked.append((score, spine, brs))
        out = []
        for score, spine, brs in picked:
            lay = place_comb(device, n, 1, spine, brs)
            comp = compile_variant("tree", backend, n, 1, input="bell", layout=lay)
            dc = DeviceCircuit(comp.circuit, comp.reference_qubit, lay.A, comp.clone_qubit, "tree")
            out.append(TreeCandidate(lay, score, predict(backend, n, 1, circuit=dc).average_fidelity))
        _CHOSEN[key] = (backend, tuple(out))
    return _CHOSEN[key][1]


def tree_layout(backend: BackendV2, clones: int, decrypt: int = 1, *, name: str | None = None,
                spines: str = "paths", candidates: int = MODEL_CANDIDATES) -> TreeLayout:
    """Place the comb on the device: of the spines :func:`ranked_spines` ranks (every simple path of
    n + 3 qubits by default), the best ``candidates`` by the heuristic score are scored by the scheduled
    stim model (:func:`tree_candidates`) and the one with the largest average fidelity is used — a
    placement chosen by the model itself, as mapomatic scores layouts. ``candidates=1``: the heuristic's
    first choice, without the model. The decrypted clone's label does not change the placement (its
    pair ends at the spine's third qubit whichever it is).

    Raises:
        TooLargeError: if no spine holds n clones this way.
    """
    n = check_clones(clones)
    if not is_int(decrypt) or not 1 <= decrypt <= n:
        raise InvalidArgumentError(f"the decrypted clone must be in 1..{n}, got {decrypt!r}")
    device = str(name or getattr(backend, "name", "device"))
    if n == 1:
        from qclone.hardware.layout import device_layout

        base = device_layout(backend, 1, 1, name=name)
        return TreeLayout(device=base.device, clones=1, decrypt=1, path=base.path, pair_order=base.pair_order)
    if candidates == 1:
        ranked = ranked_spines(backend, n, spines=spines)
        if not ranked:
            raise TooLargeError(f"{n} clones do not fit {device} as a comb (spine of {n + 3} qubits with a branch per key)")
        _, spine, brs = ranked[0]
        return place_comb(device, n, decrypt, spine, brs)
    best = max(tree_candidates(backend, n, spines=spines, candidates=candidates), key=lambda c: c.fidelity)
    return replace(best.layout, device=device, decrypt=decrypt,
                   pair_order=tuple(k for k in range(1, n + 1) if k != decrypt) + (decrypt,))


_MAX_CLONES: dict[int, tuple[BackendV2, int]] = {}


def max_tree_clones(backend: BackendV2) -> int:
    """The largest n some spine of :func:`ranked_spines` holds as a comb (searched by bisection; beyond
    :data:`MAX_SPINES` paths of a length, the windows of the long path only). Cached per device object:
    where no path of a length holds the comb, every one is tried (a minute or two on a Heron)."""
    if id(backend) in _MAX_CLONES and _MAX_CLONES[id(backend)][0] is backend:
        return _MAX_CLONES[id(backend)][1]
    adj = coupling_adjacency(backend)
    cal = _Calibration.of(backend, adj)
    path = long_path(adj)

    def fits(n: int) -> bool:
        windows = [path[i : i + n + 3] for i in range(len(path) - n - 2)]
        if any(_placement(cal, adj, w, n) is not None for w in windows + [w[::-1] for w in windows]):
            return True
        found = simple_paths(adj, n + 3, limit=MAX_SPINES, avoid=cal.dead)
        return found is not None and any(_placement(cal, adj, w, n) is not None for w in found)

    lo, hi = 1, len(path)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    _MAX_CLONES[id(backend)] = (backend, lo)
    return lo
