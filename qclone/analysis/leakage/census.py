"""How many sets of qubits of the bare protocol are authorized, partial or non-informative.

Every subset of the ``2n + 1`` qubits A, S_1..S_n, N_1..N_n is classified by
the exact engine, counted separately for sets with and without A (the empty
set and the whole set included: ``2^(2n)`` sets on each side).

Two methods give the same counts:

* ``"enumeration"``: every subset, one query each (n <= 8; the default up to
  n = :data:`MAX_ENUMERATION_CLONES`).
* ``"orbits"``: the encoded state is invariant under permuting the pairs
  (S_k, N_k) among themselves (every pair at the encrypted stage; every pair
  but the decrypted one after a decryption). That invariance is *checked* on
  the stabilizer state (one transposition per pair, which generate all
  permutations) before it is used. A set is then described up to symmetry by
  whether it holds A, what it holds of each special pair, and how many of the
  other pairs it holds completely, only S of, only N of; one query per such
  orbit, weighted by the multinomial number of its sets. Polynomial in n.

Examples:
    >>> c = subset_census(3)
    >>> c.without_input.partial, c.with_input.partial, c.without_input.authorized
    (4, 4, 19)
    >>> o = subset_census(3, method="orbits")
    >>> (o.with_input, o.without_input) == (c.with_input, c.without_input), o.queries < c.queries
    (True, True)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations, product
from math import factorial
from typing import Any

from qclone.analysis.leakage.analyzer import KINDS, Classification
from qclone.analysis.leakage.stages import canonical_stage, parse_stage, protocol_analyzer
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Layout
from qclone.protocol.layout import check_clones

#: Largest n counted by enumerating every subset when ``method="auto"`` (2^13 sets).
MAX_ENUMERATION_CLONES = 6
#: Largest n enumeration accepts at all (2^17 sets, about a minute).
MAX_FORCED_ENUMERATION_CLONES = 8
#: Largest n counted by orbits (about 2·C(n+3, 3) queries; ~13 000 at n = 32).
MAX_CENSUS_CLONES = 32
METHODS: tuple[str, ...] = ("auto", "enumeration", "orbits")


@dataclass(frozen=True)
class KindCounts:
    """Numbers of sets of each kind; ``partial_leaks`` splits the partial ones by what leaks."""

    authorized: int = 0
    partial: int = 0
    none: int = 0
    partial_leaks: tuple[tuple[str, int], ...] = ()

    @property
    def total(self) -> int:
        return self.authorized + self.partial + self.none

    def to_dict(self) -> dict[str, Any]:
        return {"authorized": self.authorized, "partial": self.partial, "none": self.none, "total": self.total,
                "partial_leaks": dict(self.partial_leaks)}


@dataclass(frozen=True)
class SubsetCensus:
    """Counts over all subsets, split by whether the set holds A."""

    clones: int
    stage: str
    method: str
    with_input: KindCounts
    without_input: KindCounts
    queries: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clones": self.clones,
            "stage": self.stage,
            "method": self.method,
            "queries": self.queries,
            "with_A": self.with_input.to_dict(),
            "without_A": self.without_input.to_dict(),
        }


class _Tally:
    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.leaks: Counter[str] = Counter()

    def add(self, c: Classification, weight: int) -> None:
        self.kinds[c.kind] += weight
        if c.kind == "partial":
            self.leaks[",".join(c.leaked)] += weight

    def counts(self) -> KindCounts:
        return KindCounts(self.kinds["authorized"], self.kinds["partial"], self.kinds["none"], tuple(sorted(self.leaks.items())))


def enumerate_sets(clones: int, *, stage: str = "encrypted", kind: str | None = None,
                   max_clones: int = MAX_FORCED_ENUMERATION_CLONES) -> Iterator[tuple[tuple[str, ...], Classification]]:
    """Every subset of the protocol's qubits with its classification (smallest sets first).

    Args:
        kind: only sets of this kind (``authorized``, ``partial``, ``none``).
        max_clones: refuse larger n (``2^(2n+1)`` sets).

    Raises:
        TooLargeError: when n > ``max_clones``.

    Examples:
        >>> [s for s, _ in enumerate_sets(1, kind="partial")]
        [('S1',), ('A', 'N1')]
    """
    n = check_clones(clones)
    if kind is not None and kind not in KINDS:
        raise InvalidArgumentError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if n > max_clones:
        raise TooLargeError(f"going through all 2^{2 * n + 1} sets is limited to n <= {max_clones}; "
                            "counts for larger n come from the orbits of the pair symmetry")
    analyzer = protocol_analyzer(n, stage=stage)
    labels = Layout(n).labels

    def sets() -> Iterator[tuple[tuple[str, ...], Classification]]:
        for size in range(len(labels) + 1):
            for chosen in combinations(range(len(labels)), size):
                c = analyzer.classify(chosen)
                if kind is None or c.kind == kind:
                    yield tuple(labels[q] for q in chosen), c

    return sets()


def subset_census(clones: int, *, stage: str = "encrypted", method: str = "auto") -> SubsetCensus:
    """Count authorized / partial / none sets, with and without A (see the module docstring).

    Raises:
        TooLargeError: for n above :data:`MAX_CENSUS_CLONES` (orbits) or
            :data:`MAX_FORCED_ENUMERATION_CLONES` (enumeration).
        InvalidArgumentError: for an unknown method, or if the pair symmetry
            the orbit method relies on does not hold.
    """
    n = check_clones(clones)
    stage = canonical_stage(n, stage)
    if method not in METHODS:
        raise InvalidArgumentError(f"unknown census method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "auto":
        method = "enumeration" if n <= MAX_ENUMERATION_CLONES else "orbits"
    if method == "enumeration":
        return _by_enumeration(n, stage)
    if n > MAX_CENSUS_CLONES:
        raise TooLargeError(f"counting all subsets is limited to n <= {MAX_CENSUS_CLONES} "
                            f"(about 2·C(n+3, 3) exact queries); got n = {n}")
    return _by_orbits(n, stage)


def _by_enumeration(n: int, stage: str) -> SubsetCensus:
    tallies = {True: _Tally(), False: _Tally()}
    queries = 0
    for labels, c in enumerate_sets(n, stage=stage):
        tallies["A" in labels].add(c, 1)
        queries += 1
    return SubsetCensus(n, stage, "enumeration", tallies[True].counts(), tallies[False].counts(), queries)


def _symmetric_pairs(n: int, stage: str) -> tuple[list[int], list[int]]:
    target = parse_stage(n, stage)
    special = [target] if isinstance(target, int) else []
    return special, [j for j in range(1, n + 1) if j not in special]


def _check_pair_symmetry(n: int, stage: str, pairs: list[int]) -> None:
    lay = Layout(n)
    analyzer = protocol_analyzer(n, stage=stage)
    if not pairs:
        return
    first = pairs[0]
    for other in pairs[1:]:
        perm = list(range(lay.num_qubits))
        for a, b in ((lay.S(first), lay.S(other)), (lay.N(first), lay.N(other))):
            perm[a], perm[b] = b, a
        if not analyzer.invariant_under(perm):
            raise InvalidArgumentError(f"the state at stage {stage} is not symmetric under exchanging pairs "
                                       f"{first} and {other}; count by enumeration instead")


def _multinomial(total: int, parts: tuple[int, ...]) -> int:
    out = factorial(total)
    for p in parts:
        out //= factorial(p)
    return out // factorial(total - sum(parts))


def _by_orbits(n: int, stage: str) -> SubsetCensus:
    lay = Layout(n)
    special, pairs = _symmetric_pairs(n, stage)
    _check_pair_symmetry(n, stage, pairs)
    analyzer = protocol_analyzer(n, stage=stage)
    tallies = {True: _Tally(), False: _Tally()}
    queries = 0
    size = len(pairs)
    # what a set holds of one pair: nothing, S only, N only, both
    patterns = ((), ("S",), ("N",), ("S", "N"))
    for with_a in (False, True):
        for held_special in product(patterns, repeat=len(special)):
            base = [lay.A()] if with_a else []
            for j, held in zip(special, held_special):
                base += [lay.S(j) if r == "S" else lay.N(j) for r in held]
            for both in range(size + 1):
                for s_only in range(size - both + 1):
                    for n_only in range(size - both - s_only + 1):
                        chosen = list(base)
                        it = iter(pairs)
                        for _ in range(both):
                            j = next(it)
                            chosen += [lay.S(j), lay.N(j)]
                        chosen += [lay.S(next(it)) for _ in range(s_only)]
                        chosen += [lay.N(next(it)) for _ in range(n_only)]
                        weight = _multinomial(size, (both, s_only, n_only))
                        tallies[with_a].add(analyzer.classify(chosen), weight)
                        queries += 1
    return SubsetCensus(n, stage, "orbits", tallies[True].counts(), tallies[False].counts(), queries)
