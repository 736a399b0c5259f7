"""Durability of a placement under independent and correlated (zone) failures: exact, and by Monte Carlo.

Failure model (one storage period). Every party (provider, vault, custodian)
fails with its own probability p; every zone fails with its own probability
r, and a zone failure takes down all of its parties. Failures of parties and
zones are independent. A party with no zone fails only by itself.

Schemes. A :class:`Scheme` says which party holds each stored unit (qubit or
qudit) and which sets of surviving units recover the state. Units are grouped
in *blocks* of one or two units (a pair S_j, N_j of encrypted cloning; the
input qubit A; one share of a threshold scheme), and the scheme's access
structure depends only on how many blocks of each kind are in each survival
status: for encrypted cloning that is the clone permutation symmetry of the
encrypted state (pairs (S_j, N_j) are interchangeable), for a threshold scheme
it is the threshold. So a scheme carries a table indexed by those counts,
holding ``I(R : survivors)`` in units of log2 d (``full`` means authorized,
0 means the survivors learn nothing). For encrypted cloning the table is
filled by the exact authorization test of :mod:`qclone.analysis.recovery` on
one representative set per class (:func:`pair_class_table`); the tests check
it against the leakage analyzer and the dense engine.

Durability is the probability that the surviving units are authorized:

* :func:`exact_durability` sums over failure patterns exactly: it enumerates
  a small set of *hub* parties (a vertex cover of the parties that share
  blocks: the vault of a star-shaped placement) and their zones; given those,
  every other party touches only its own blocks, a zone without hubs is a
  mixture (all its parties down, or each independently), and parties with the
  same survival probability and the same contribution form one binomial group.
  The cost is ``2^(hubs + their zones)`` patterns times convolutions over the
  groups, instead of ``2^(parties + zones)``.
* :func:`naive_durability` enumerates every pattern of parties and zones
  (vectorised numpy): the peer the exact method is checked and timed against.
* :func:`monte_carlo_durability` draws patterns (vectorised, in chunks) and
  reports a Wilson 95 % interval; it is the route beyond the exact limit.

Examples:
    >>> model = FailureModel.from_dict({"zones": {"eu": 0.01},
    ...     "parties": {"p1": {"failure": 0.1, "zone": "eu"}, "p2": {"failure": 0.1},
    ...                 "vault": {"failure": 0.01, "kind": "vault"}}})
    >>> from qclone.analysis.leakage import Placement
    >>> s = encrypted_scheme(Placement({"p1": ["S1"], "p2": ["S2"], "vault": ["N*"]}), 2, model)
    >>> round(exact_durability(s, model), 10)  # (1 − 0.01) · (1 − (0.01 + 0.99·0.1) · 0.1)
    0.979209
    >>> round(exact_durability(s, model), 12) == round(naive_durability(s, model), 12)
    True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qclone.analysis.leakage import Placement
from qclone.analysis.leakage.placement import read_document
from qclone.analysis.recovery import authorized_many
from qclone.errors import InvalidArgumentError, TooLargeError, check_int, is_real
from qclone.protocol import Layout
from qclone.protocol.layout import check_clones
from qclone.sim.stabilizer import wilson_interval

__all__ = [
    "KINDS",
    "MAX_EXACT_BITS",
    "MAX_PARTIES",
    "MAX_SAMPLES",
    "MAX_TABLE_CLONES",
    "MAX_ZONES",
    "FailureModel",
    "Party",
    "Scheme",
    "coalition_information",
    "encrypted_scheme",
    "exact_durability",
    "load_model",
    "max_secret_coalition",
    "min_recovering_coalition",
    "monte_carlo_durability",
    "naive_durability",
    "pair_class_table",
    "threshold_scheme",
]

#: Party kinds.
KINDS = ("provider", "vault", "custodian")
#: Most parties in a failure model.
MAX_PARTIES = 256
#: Most zones in a failure model.
MAX_ZONES = 64
#: Exact durability enumerates at most 2^MAX_EXACT_BITS patterns of zones and hub parties.
MAX_EXACT_BITS = 16
#: Largest n whose class table is built (2·C(n+3, 3) classes, two vectorised authorization tests).
MAX_TABLE_CLONES = 64
#: Most Monte Carlo samples.
MAX_SAMPLES = 100_000_000
#: Random draws per chunk (samples × (parties + zones)).
_CHUNK_DRAWS = 4_000_000
#: naive_durability enumerates at most 2^this patterns.
_MAX_NAIVE_BITS = 24

_PARTY_KEYS = {"failure", "zone", "kind", "t1", "t2"}
_MODEL_KEYS = {"name", "zones", "parties", "trust", "budget", "description"}


def _probability(value: object, what: str) -> float:
    if not is_real(value) or not math.isfinite(value) or not 0 <= value <= 1:
        raise InvalidArgumentError(f"{what} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _time(value: object, what: str) -> float | None:
    if value is None:
        return None
    if not is_real(value) or not math.isfinite(value) or value <= 0:
        raise InvalidArgumentError(f"{what} must be a number of seconds > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Party:
    """A place that holds stored units: a provider, a key vault or a custodian.

    Attributes:
        name: unique name.
        failure: probability that the party loses what it holds during the period (by itself).
        zone: the zone whose failure also takes it down (None: no correlated failure).
        kind: ``provider``, ``vault`` or ``custodian`` (what the planner may place on it).
        t1, t2: memory coherence times in seconds (None: the caller's default).
    """

    name: str
    failure: float
    zone: str | None = None
    kind: str = "provider"
    t1: float | None = None
    t2: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 100:
            raise InvalidArgumentError(f"a party needs a name of 1..100 characters, got {self.name!r}")
        _probability(self.failure, f"party {self.name!r}: failure")
        if self.kind not in KINDS:
            raise InvalidArgumentError(f"party {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.zone is not None and (not isinstance(self.zone, str) or not self.zone.strip()):
            raise InvalidArgumentError(f"party {self.name!r}: zone must be a zone name, got {self.zone!r}")
        _time(self.t1, f"party {self.name!r}: t1")
        _time(self.t2, f"party {self.name!r}: t2")


@dataclass(frozen=True, eq=False)
class FailureModel:
    """Parties and zones with their failure probabilities (see the module docstring).

    Raises:
        InvalidArgumentError: for duplicate names, a party in an undeclared zone, bad probabilities.
        TooLargeError: above :data:`MAX_PARTIES` parties or :data:`MAX_ZONES` zones.
    """

    parties: tuple[Party, ...]
    zones: Mapping[str, float]

    def __post_init__(self) -> None:
        parties = tuple(self.parties)
        zones = dict(self.zones)
        if not parties:
            raise InvalidArgumentError("a failure model needs at least one party")
        if len(parties) > MAX_PARTIES:
            raise TooLargeError(f"{len(parties)} parties exceed the limit of {MAX_PARTIES}")
        if len(zones) > MAX_ZONES:
            raise TooLargeError(f"{len(zones)} zones exceed the limit of {MAX_ZONES}")
        seen: set[str] = set()
        for p in parties:
            if not isinstance(p, Party):
                raise InvalidArgumentError(f"expected Party values, got {type(p).__name__}")
            if p.name in seen:
                raise InvalidArgumentError(f"party {p.name!r} is listed twice")
            seen.add(p.name)
            if p.zone is not None and p.zone not in zones:
                raise InvalidArgumentError(f"party {p.name!r} is in zone {p.zone!r}, which is not declared; "
                                           f"declared zones: {', '.join(zones) or 'none'}")
        for z, r in zones.items():
            if not isinstance(z, str) or not z.strip() or len(z) > 100:
                raise InvalidArgumentError(f"a zone needs a name of 1..100 characters, got {z!r}")
            _probability(r, f"zone {z!r}: failure")
        object.__setattr__(self, "parties", parties)
        object.__setattr__(self, "zones", {z: float(r) for z, r in zones.items()})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parties)

    def index(self, name: str) -> int:
        for i, p in enumerate(self.parties):
            if p.name == name:
                return i
        raise InvalidArgumentError(f"unknown party {name!r}; the parties are {', '.join(self.names)}")

    def of_kind(self, kind: str) -> tuple[Party, ...]:
        return tuple(p for p in self.parties if p.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "zones": dict(self.zones),
            "parties": {p.name: {"failure": p.failure, "zone": p.zone, "kind": p.kind, "t1": p.t1, "t2": p.t2}
                        for p in self.parties},
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "failure model") -> FailureModel:
        """A model from parsed YAML/JSON: ``zones: {name: failure}``, ``parties: {name: {failure, zone, kind, t1, t2}}``.

        Other top-level keys (``trust``, ``budget``, ``name``, ``description``) are read by the planner.
        """
        if not isinstance(data, Mapping):
            raise InvalidArgumentError(f"{source}: expected a mapping with 'parties' (and optional 'zones')")
        unknown = sorted(set(map(str, data)) - _MODEL_KEYS)
        if unknown:
            raise InvalidArgumentError(f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_MODEL_KEYS))}")
        zones = data.get("zones") or {}
        if not isinstance(zones, Mapping):
            raise InvalidArgumentError(f"{source}: 'zones' maps zone names to failure probabilities")
        parties = data.get("parties")
        if not isinstance(parties, Mapping) or not parties:
            raise InvalidArgumentError(f"{source}: 'parties' maps party names to {{failure, zone, kind, t1, t2}}")
        if len(parties) > MAX_PARTIES:
            raise TooLargeError(f"{source}: {len(parties)} parties exceed the limit of {MAX_PARTIES}")
        out = []
        for name, spec in parties.items():
            if is_real(spec):
                spec = {"failure": spec}
            if not isinstance(spec, Mapping):
                raise InvalidArgumentError(f"{source}: party {str(name)!r} needs a mapping such as {{failure: 0.01}}")
            bad = sorted(set(map(str, spec)) - _PARTY_KEYS)
            if bad:
                raise InvalidArgumentError(f"{source}: party {str(name)!r}: unknown key(s) {', '.join(bad)}; "
                                           f"allowed: {', '.join(sorted(_PARTY_KEYS))}")
            if "failure" not in spec:
                raise InvalidArgumentError(f"{source}: party {str(name)!r} needs 'failure' (a probability)")
            zone = spec.get("zone")
            out.append(Party(str(name), spec["failure"], None if zone is None else str(zone),
                             str(spec.get("kind", "provider")), spec.get("t1"), spec.get("t2")))
        return cls(tuple(out), {str(z): r for z, r in zones.items()})


def load_model(path: str | Path) -> tuple[FailureModel, dict[str, Any]]:
    """A failure model from a YAML/JSON file, and the file's parsed document (for ``trust`` and ``budget``)."""
    data = read_document(path, "parties")
    return FailureModel.from_dict(data, source=Path(path).name), dict(data)


# --- schemes -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Scheme:
    """Where a scheme's stored units are, and which survivors recover the state.

    Attributes:
        name: for reports.
        widths: for each block kind, how many units a block of that kind has (1 or 2).
        blocks: ``(kind, holders)`` per block; ``holders[b]`` is the model index of the party
            holding unit b of the block, or -1 when nobody holds it (discarded).
        table: ``I(R : survivors)`` in units of log2(d) (0..``full``), indexed by the counts of
            blocks in each non-empty status (status = bitmask of the block's surviving units),
            kind after kind (a kind of width w contributes 2^w − 1 axes, status 1 first).
        full: the table value of an authorized set.
        units: how many units are stored (held by some party).
        dimension: d of a unit (2 for qubits).
    """

    name: str
    widths: tuple[int, ...]
    blocks: tuple[tuple[int, tuple[int, ...]], ...]
    table: np.ndarray
    full: int
    units: int
    dimension: int = 2

    @property
    def holders(self) -> tuple[int, ...]:
        """Model indices of the parties holding something, in order of first appearance."""
        seen: dict[int, None] = {}
        for _, hs in self.blocks:
            for h in hs:
                if h >= 0:
                    seen.setdefault(h)
        return tuple(seen)

    def axis(self, kind: int, status: int) -> int:
        """The table axis counting blocks of ``kind`` in ``status`` (1 .. 2^w − 1)."""
        return sum(2**w - 1 for w in self.widths[:kind]) + status - 1

    @property
    def num_axes(self) -> int:
        return sum(2**w - 1 for w in self.widths)

    def counts(self, up: Iterable[int]) -> tuple[int, ...]:
        """The table index of a set of surviving parties (model indices)."""
        alive = set(up)
        out = [0] * self.num_axes
        for kind, hs in self.blocks:
            status = sum(1 << b for b, h in enumerate(hs) if h >= 0 and h in alive)
            if status:
                out[self.axis(kind, status)] += 1
        return tuple(out)


@lru_cache(maxsize=8)
def pair_class_table(clones: int) -> np.ndarray:
    """``I(R : C)`` in bits for every class of sets C of the encrypted state with n clones.

    A class is ``(a, c, s, t)``: whether C holds A, how many pairs it holds completely, how
    many only by S_j, how many only by N_j (pairs are interchangeable: the encrypted state is
    invariant under any permutation of the clone indices applied to S and N together). Each
    entry is decided on one representative set by the exact authorization test
    (:func:`qclone.analysis.recovery.authorized_many`, vectorised over the classes): 2 bits
    when the set is authorized, 0 when its complement is (the state with the reference is
    pure, so I(R : C) + I(R : complement) = 2), else 1. Entries with c + s + t > n are -1.
    Shape ``(2, n+1, n+1, n+1)`` as axes (A, both, S only, N only).

    Examples:
        >>> t = pair_class_table(2)
        >>> int(t[0, 1, 1, 0]), int(t[1, 0, 0, 0]), int(t[0, 0, 1, 1])  # {S1,N1,S2}, {A}, {S1,N2}
        (2, 0, 0)
        >>> int(pair_class_table(3)[0, 0, 3, 0])  # S1 S2 S3 with n = 3: the Y component leaks
        1
    """
    n = check_clones(clones)
    if n > MAX_TABLE_CLONES:
        raise TooLargeError(f"n = {n} clones: the class table is built up to n = {MAX_TABLE_CLONES}")
    r = np.arange(n + 1)
    a, c, s, t = (x.ravel() for x in np.meshgrid([0, 1], r, r, r, indexing="ij"))
    valid = c + s + t <= n
    a, c, s, t = a[valid], c[valid], s[valid], t[valid]
    j = np.arange(n)[None, :]  # pair index j (0-based): pairs [0, c) whole, [c, c+s) S only, [c+s, c+s+t) N only
    signal = j < (c + s)[:, None]
    key = (j < c[:, None]) | ((j >= (c + s)[:, None]) & (j < (c + s + t)[:, None]))
    masks = np.concatenate([a[:, None].astype(bool), signal, key], axis=1)  # layout order A, S_1..S_n, N_1..N_n
    layout = Layout(n)
    info = np.where(authorized_many(layout, masks), 2, np.where(authorized_many(layout, ~masks), 0, 1))
    table = np.full((2, n + 1, n + 1, n + 1), -1, dtype=np.int8)
    table[a, c, s, t] = info
    return table


def encrypted_scheme(placement: Placement, clones: int, model: FailureModel, *, name: str | None = None) -> Scheme:
    """The encrypted state with n clones held as ``placement`` says (a qubit nobody holds is discarded).

    Block kinds: 0 = A (width 1), 1 = a pair (S_j, N_j) (width 2, bit 0 = S_j, bit 1 = N_j).

    Raises:
        InvalidArgumentError: for a party the model does not know, or an invalid placement.
    """
    n = check_clones(clones)
    resolved = placement if placement.resolved_for == n else placement.resolve(n)
    index = {p: model.index(p) for p in resolved.party_names}

    def holder(label: str) -> int:
        h = resolved.holder_of(label)
        return -1 if h is None else index[h]

    blocks: list[tuple[int, tuple[int, ...]]] = [(0, (holder("A"),))]
    blocks += [(1, (holder(f"S{j}"), holder(f"N{j}"))) for j in range(1, n + 1)]
    base = pair_class_table(n)
    # axes: A-up, then pair status 1 (S only), 2 (N only), 3 (both)
    table = np.transpose(base, (0, 2, 3, 1))
    units = sum(h >= 0 for _, hs in blocks for h in hs)
    return Scheme(name or resolved.name or "placement", (1, 2), tuple(blocks), table, 2, units, 2)


def threshold_scheme(threshold: int, holders: Sequence[str], model: FailureModel, *, dimension: int,
                     name: str | None = None) -> Scheme:
    """A pure ((k, 2k − 1)) threshold scheme: share i held by ``holders[i]``; any k shares recover, fewer learn nothing.

    The access structure is the threshold; :mod:`qclone.analysis.secret_sharing` builds the
    codes and its tests check the structure against the encoded states.
    """
    m = len(holders)
    k = check_int(threshold, "threshold", 1, MAX_PARTIES)
    if m != 2 * k - 1:
        raise InvalidArgumentError(f"a pure ((k, 2k-1)) scheme with k = {k} has {2 * k - 1} shares, got {m} holders")
    idx = [model.index(h) for h in holders]
    table = np.where(np.arange(m + 1) >= k, 2, 0).astype(np.int8)
    return Scheme(name or f"(({k},{m}))", (1,), tuple((0, (h,)) for h in idx), table, 2, m, dimension)


def coalition_information(scheme: Scheme, coalition: Iterable[int]) -> int:
    """``I(R : units held by the coalition)`` in the scheme's units (``scheme.full`` = authorized)."""
    return int(scheme.table[scheme.counts(coalition)])


def _coalitions(scheme: Scheme, size: int) -> Iterable[tuple[int, ...]]:
    return itertools.combinations(scheme.holders, size)


#: Most coalitions examined by max_secret_coalition / min_recovering_coalition.
MAX_COALITION_CHECKS = 200_000


def _budget(scheme: Scheme, size: int) -> None:
    if math.comb(len(scheme.holders), size) > MAX_COALITION_CHECKS:
        raise TooLargeError(f"more than {MAX_COALITION_CHECKS} coalitions of {size} of {len(scheme.holders)} parties")


def max_secret_coalition(scheme: Scheme) -> int:
    """The largest c such that every coalition of c holders learns nothing (0: some single holder learns)."""
    for size in range(1, len(scheme.holders) + 1):
        _budget(scheme, size)
        if any(coalition_information(scheme, c) > 0 for c in _coalitions(scheme, size)):
            return size - 1
    return len(scheme.holders)


def min_recovering_coalition(scheme: Scheme) -> int | None:
    """The fewest holders that together recover the state (None: not even all of them)."""
    for size in range(1, len(scheme.holders) + 1):
        _budget(scheme, size)
        if any(coalition_information(scheme, c) == scheme.full for c in _coalitions(scheme, size)):
            return size
    return None


# --- durability ----------------------------------------------------------------------------


def _zone_of(model: FailureModel, parties: Sequence[int]) -> tuple[list[str], dict[int, int]]:
    zones: list[str] = []
    where: dict[int, int] = {}
    for i in parties:
        z = model.parties[i].zone
        if z is None:
            continue
        if z not in zones:
            zones.append(z)
        where[i] = zones.index(z)
    return zones, where


def _hubs(scheme: Scheme) -> list[int]:
    """Parties to enumerate so that every block has at most one other holder (greedy vertex cover)."""
    shared = [set(h for h in hs if h >= 0) for _, hs in scheme.blocks]
    shared = [s for s in shared if len(s) > 1]
    hubs: list[int] = []
    while shared:
        degree: dict[int, int] = {}
        for s in shared:
            for h in s:
                degree[h] = degree.get(h, 0) + len(s) - 1
        best = max(degree, key=lambda h: (degree[h], -h))
        hubs.append(best)
        shared = [s - {best} for s in shared]
        shared = [s for s in shared if len(s) > 1]
    return hubs


#: A distribution of count vectors, each coded as one integer (mixed radix: adding codes adds vectors).
Dist = dict[int, float]


def _convolve(a: Dist, b: Dist) -> Dist:
    out: Dist = {}
    for va, pa in a.items():
        for vb, pb in b.items():
            out[va + vb] = out.get(va + vb, 0.0) + pa * pb
    return out


def _groups(members: Iterable[tuple[float, int, int]], zero: int) -> Dist:
    """The distribution of the summed contribution of independent parties: (P(up), code if up, code if down) each.

    Parties with the same triple form one binomial group.
    """
    groups: dict[tuple[float, int, int], int] = {}
    for q_up, u, d in members:
        if u == d or q_up == 0.0:
            q_up, u = 1.0, d
        elif q_up == 1.0:
            d = u
        groups[(q_up, u, d)] = groups.get((q_up, u, d), 0) + 1
    dist: Dist = {zero: 1.0}
    for (q_up, u, d), m in groups.items():
        terms: Dist = {}
        for j in range(m + 1):
            pj = math.comb(m, j) * q_up**j * (1 - q_up) ** (m - j)
            if pj:
                key = j * u + (m - j) * d
                terms[key] = terms.get(key, 0.0) + pj
        dist = _convolve(dist, terms)
    return dist


def exact_durability(scheme: Scheme, model: FailureModel) -> float:
    """Probability that the surviving units are authorized, summed exactly over failure patterns.

    Enumerated: the hub parties and the zones that hold a hub. Every other party
    touches only blocks whose other holders are hubs; given the hubs, such parties
    are independent except through their zone, so a zone without hubs is a mixture
    (down with probability r: all its parties down; else its parties independently),
    and parties with the same survival probability and contributions form binomial
    groups. Raises :class:`TooLargeError` when more than 2^:data:`MAX_EXACT_BITS`
    patterns would be enumerated.
    """
    holders = scheme.holders
    zones, zone_of = _zone_of(model, holders)
    hubs = _hubs(scheme)
    hub_set = set(hubs)
    hub_zones = sorted({zone_of[h] for h in hubs if h in zone_of})
    bits = len(hub_zones) + len(hubs)
    if bits > MAX_EXACT_BITS:
        raise TooLargeError(f"exact durability would enumerate 2^{bits} patterns of {len(hubs)} shared parties and "
                            f"{len(hub_zones)} of their zones (limit 2^{MAX_EXACT_BITS}); use the Monte Carlo")
    axes = scheme.num_axes
    radix = len(scheme.blocks) + 1  # no count reaches it, so codes add without carries
    weights = [radix**i for i in range(axes)]
    accepted = np.zeros(radix**axes, dtype=bool)
    ok = np.argwhere(scheme.table == scheme.full)
    accepted[ok @ np.array(weights, dtype=np.int64)] = True
    zero = 0
    # blocks by their non-hub holder (at most one per block, by construction of the hubs)
    own: dict[int, list[int]] = {}
    fixed: list[int] = []
    for b, (_, hs) in enumerate(scheme.blocks):
        others = {h for h in hs if h >= 0 and h not in hub_set}
        if others:
            own.setdefault(others.pop(), []).append(b)
        else:
            fixed.append(b)
    p_fail = {i: model.parties[i].failure for i in holders}
    r_zone = [model.zones[z] for z in zones]
    depends = {x: sorted({h for b in blocks for h in scheme.blocks[b][1] if h in hub_set}) for x, blocks in own.items()}
    # parties whose zone is enumerated (or who have none) are independent given the pattern; the others by zone
    free_zones: dict[int, list[int]] = {}
    known: list[int] = []
    for x in own:
        if x in zone_of and zone_of[x] not in hub_zones:
            free_zones.setdefault(zone_of[x], []).append(x)
        else:
            known.append(x)

    def vector(blocks: Iterable[int], alive: Mapping[int, bool]) -> int:
        out = 0
        for b in blocks:
            kind, hs = scheme.blocks[b]
            st = sum(1 << j for j, h in enumerate(hs) if h >= 0 and alive.get(h, False))
            if st:
                out += weights[scheme.axis(kind, st)]
        return out

    vectors: dict[tuple[int, tuple[bool, ...]], tuple[int, int]] = {}

    def contribution(x: int, alive: Mapping[int, bool]) -> tuple[int, int]:
        key = (x, tuple(alive[h] for h in depends[x]))
        if key not in vectors:
            state = {h: alive[h] for h in depends[x]}
            vectors[key] = (vector(own[x], {**state, x: True}), vector(own[x], {**state, x: False}))
        return vectors[key]

    zone_dists: dict[tuple[int, tuple[bool, ...]], Dist] = {}

    def zone_mixture(z: int, alive: Mapping[int, bool]) -> Dist:
        members = free_zones[z]
        hubs_seen = sorted({h for x in members for h in depends[x]})
        key = (z, tuple(alive[h] for h in hubs_seen))
        if key not in zone_dists:
            contrib = [(1 - p_fail[x], *contribution(x, alive)) for x in members]
            up = _groups(contrib, zero)
            down = sum(d for _, _, d in contrib)
            mixed = {v: (1 - r_zone[z]) * pv for v, pv in up.items()}
            mixed[down] = mixed.get(down, 0.0) + r_zone[z]
            zone_dists[key] = mixed
        return zone_dists[key]

    total = 0.0
    for pattern in itertools.product((False, True), repeat=bits):
        zone_up = dict(zip(hub_zones, pattern[: len(hub_zones)]))
        weight = 1.0
        for z, up in zone_up.items():
            weight *= (1 - r_zone[z]) if up else r_zone[z]
        alive: dict[int, bool] = {}
        for h, up in zip(hubs, pattern[len(hub_zones):]):
            in_zone = zone_up[zone_of[h]] if h in zone_of else True
            if up and not in_zone:
                weight = 0.0
                break
            # a hub is down either with its zone (then certainly) or by itself
            weight *= (1 - p_fail[h]) if up else (1.0 if not in_zone else p_fail[h])
            alive[h] = up
        if weight == 0.0:
            continue
        members = []
        for x in known:
            q_up = (1 - p_fail[x]) if zone_up.get(zone_of.get(x, -1), True) else 0.0
            members.append((q_up, *contribution(x, alive)))
        dist = _groups(members, vector(fixed, alive))
        for z in free_zones:
            dist = _convolve(dist, zone_mixture(z, alive))
        total += weight * sum(pv for v, pv in dist.items() if accepted[v])
    return min(1.0, max(0.0, total))


def _party_columns(scheme: Scheme, model: FailureModel) -> tuple[list[int], list[str], np.ndarray]:
    holders = list(scheme.holders)
    zones, zone_of = _zone_of(model, holders)
    zcol = np.array([zone_of.get(h, -1) for h in holders], dtype=np.int64)
    return holders, zones, zcol


def _accepted(scheme: Scheme, up: np.ndarray, column: Mapping[int, int]) -> np.ndarray:
    """For rows of party survival (columns as ``column`` says), whether the survivors are authorized."""
    rows = up.shape[0]
    ext = np.concatenate([up, np.zeros((rows, 1), dtype=bool)], axis=1)  # last column: nobody (always lost)
    none_col = up.shape[1]
    counts = np.zeros((scheme.num_axes, rows), dtype=np.int64)
    for kind, width in enumerate(scheme.widths):
        hs = np.array([[column[h] if h >= 0 else none_col for h in holders]
                       for k, holders in scheme.blocks if k == kind], dtype=np.int64).reshape(-1, width)
        if hs.size == 0:
            continue
        st = np.zeros((rows, hs.shape[0]), dtype=np.int64)
        for b in range(width):
            st |= ext[:, hs[:, b]].astype(np.int64) << b
        for s in range(1, 2**width):
            counts[scheme.axis(kind, s)] = np.count_nonzero(st == s, axis=1)
    return scheme.table[tuple(counts)] == scheme.full


def naive_durability(scheme: Scheme, model: FailureModel) -> float:
    """The same probability as :func:`exact_durability`, by enumerating every pattern of parties and zones."""
    holders, zones, zcol = _party_columns(scheme, model)
    bits = len(holders) + len(zones)
    if bits > _MAX_NAIVE_BITS:
        raise TooLargeError(f"naive enumeration of 2^{bits} patterns exceeds 2^{_MAX_NAIVE_BITS}")
    column = {h: i for i, h in enumerate(holders)}
    p = np.array([model.parties[h].failure for h in holders])
    r = np.array([model.zones[z] for z in zones])
    total = 0.0
    chunk_bits = min(bits, 18)
    for high in range(2 ** (bits - chunk_bits)):
        idx = (np.arange(2**chunk_bits, dtype=np.int64) | (high << chunk_bits))
        pattern = ((idx[:, None] >> np.arange(bits)) & 1).astype(bool)  # True = failed
        fail, zdown = pattern[:, : len(holders)], pattern[:, len(holders):]
        weight = np.prod(np.where(fail, p, 1 - p), axis=1) * np.prod(np.where(zdown, r, 1 - r), axis=1)
        up = ~fail
        if zones:
            up &= ~np.where(zcol >= 0, zdown[:, np.maximum(zcol, 0)], False)
        total += float(weight[_accepted(scheme, up, column)].sum())
    return min(1.0, max(0.0, total))


def monte_carlo_durability(scheme: Scheme, model: FailureModel, samples: int, *, seed: int | None = None) -> dict[str, Any]:
    """Monte Carlo of the durability: ``{"durability", "ci" (Wilson 95 %), "samples", "retrievable", "lost"}``."""
    m = check_int(samples, "samples", 1, MAX_SAMPLES)
    if seed is not None:
        check_int(seed, "seed", 0, 2**63 - 1)
    holders, zones, zcol = _party_columns(scheme, model)
    column = {h: i for i, h in enumerate(holders)}
    p = np.array([model.parties[h].failure for h in holders])
    r = np.array([model.zones[z] for z in zones])
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_DRAWS // (len(holders) + len(zones) + 1))
    ok = 0
    done = 0
    while done < m:
        size = min(chunk, m - done)
        up = rng.random((size, len(holders))) >= p
        if zones:
            zdown = rng.random((size, len(zones))) < r
            up &= ~np.where(zcol >= 0, zdown[:, np.maximum(zcol, 0)], False)
        ok += int(np.count_nonzero(_accepted(scheme, up, column)))
        done += size
    lo, hi = wilson_interval(ok, m)
    return {"durability": ok / m, "ci": [lo, hi], "samples": m, "retrievable": ok, "lost": m - ok, "confidence": 0.95}
