"""Coalition audit: which groups of parties holding qubits learn what about the stored state.

Given a :class:`~qclone.analysis.leakage.placement.Placement`,
:func:`audit_placement` classifies the qubits held by every coalition of up
to ``max_coalition`` parties with the exact engine and reports each one that
is authorized or partially informed, with what it learns and an operator it
can measure to learn it.

Intended coalitions. Unless the placement names its own, a coalition is
*intended* when the protocol's decryption circuits let it recover the state
on purpose: at the encrypted stage, when it holds the whole key N_1..N_n and
at least one clone S_j (or A, for even n, where A is one more clone); after a
decryption, when it holds the qubit with the decrypted state. With names
given, a coalition is intended when it contains one of the named coalitions.
The report is ``safe`` when no coalition learns anything except intended ones
(which learn everything): no partial coalition, no unintended authorized one.

Registers. ``qubits=k`` audits a k-qubit register whose qubits are encrypted
independently with the same placement (a party holding ``S1`` holds S_1 of
every register qubit). The state is then the tensor product of k copies, so a
coalition learns the same components of every register qubit (and products
of them) and its mutual information is k times that for one qubit.

Examples:
    >>> r = audit_placement(3, builtin_placement("providers", 3))
    >>> r.safe, [f.coalition for f in r.findings if f.classification.kind == "partial"]
    (False, [('vault', 'client')])
    >>> r.clone_holders_classification.leaked
    ('Y',)
    >>> audit_placement(4, builtin_placement("providers", 4)).safe
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Any

from qclone.analysis.leakage.analyzer import Classification, Witness, abbreviate
from qclone.analysis.leakage.placement import Placement, builtin_placement
from qclone.analysis.leakage.stages import canonical_stage, parse_stage, protocol_analyzer
from qclone.errors import InvalidArgumentError, TooLargeError, is_int
from qclone.protocol import Layout
from qclone.protocol.layout import check_clones, single_clone_warning

#: An audit examines at most this many coalitions (choose a smaller ``max_coalition``).
MAX_COALITIONS = 100_000
#: Largest register size ``qubits`` accepted.
MAX_REGISTER_QUBITS = 1024


@dataclass(frozen=True)
class Finding:
    """A coalition that learns something: who, which qubits, what, and whether that was intended.

    Unpacks as ``(coalition, classification)``.
    """

    coalition: tuple[str, ...]
    classification: Classification
    qubits: tuple[str, ...]
    intended: bool
    minimal: bool
    witnesses: tuple[Witness, ...] = ()

    def __iter__(self) -> Iterator[Any]:
        return iter((self.coalition, self.classification))

    @property
    def learns(self) -> str:
        c = self.classification
        return "everything" if c.kind == "authorized" else ", ".join(c.leaked)

    def to_dict(self) -> dict[str, Any]:
        return {
            "coalition": list(self.coalition),
            "qubits": list(self.qubits),
            **self.classification.to_dict(),
            "learns": self.learns,
            "intended": self.intended,
            "minimal": self.minimal,
            "witnesses": [w.to_dict() for w in self.witnesses],
        }


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`audit_placement` (frozen; ``to_dict()`` is JSON-ready)."""

    clones: int
    stage: str
    qubits: int
    placement: Placement
    max_coalition: int
    examined: int
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...]
    safe: bool
    clone_holders: tuple[str, ...] = ()
    clone_holders_classification: Classification | None = None
    unplaced: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        """Whether every coalition (of any size) was examined."""
        return self.max_coalition >= len(self.placement.parties)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clones": self.clones,
            "stage": self.stage,
            "register_qubits": self.qubits,
            "placement": self.placement.to_dict(),
            "max_coalition": self.max_coalition,
            "coalitions_examined": self.examined,
            "complete": self.complete,
            "safe": self.safe,
            "findings": [f.to_dict() for f in self.findings],
            "clone_holders": list(self.clone_holders),
            "clone_holders_classification": None if self.clone_holders_classification is None
            else self.clone_holders_classification.to_dict(),
            "unplaced_qubits": list(self.unplaced),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


def _scaled(c: Classification, k: int) -> Classification:
    return c if k == 1 else Classification(c.kind, c.leaked, c.mutual_information_bits * k, c.generators)


def _join(coalition: tuple[str, ...]) -> str:
    return abbreviate(coalition)


def audit_placement(clones: int, placement: Placement | str, *, max_coalition: int = 2, qubits: int = 1,
                    stage: str = "encrypted") -> AuditReport:
    """Audit every coalition of up to ``max_coalition`` parties (see the module docstring).

    Args:
        clones: n >= 1.
        placement: a :class:`Placement` (patterns are resolved for n) or a
            built-in policy name.
        max_coalition: the largest coalition examined (>= 0; 0 examines no coalition by size,
            only all clone holders together, as ``max_coalition: 0`` of a storage plan's trust
            asks no coalition by size to learn nothing).
        qubits: k, the size of a register encrypted qubit by qubit.
        stage: ``"encrypted"`` (storage) or ``"decrypted:J"``.

    Returns:
        An :class:`AuditReport`; its ``findings`` list every authorized or
        partially informed coalition, in order of size.

    Raises:
        InvalidArgumentError: for bad arguments or an invalid placement.
        TooLargeError: when more than :data:`MAX_COALITIONS` coalitions would be examined.
    """
    n = check_clones(clones)
    stage = canonical_stage(n, stage)
    if not is_int(max_coalition) or max_coalition < 0:
        raise InvalidArgumentError(f"max_coalition must be an integer >= 0, got {max_coalition!r}")
    if not is_int(qubits) or not 1 <= qubits <= MAX_REGISTER_QUBITS:
        raise InvalidArgumentError(f"the register size must be an integer in 1..{MAX_REGISTER_QUBITS}, got {qubits!r}")
    if isinstance(placement, str):
        placement = builtin_placement(placement, n)
    elif not isinstance(placement, Placement):
        raise InvalidArgumentError(f"expected a Placement or a policy name, got {type(placement).__name__}")
    placement = placement.resolve(n)
    parties = placement.party_names
    size_limit = min(max_coalition, len(parties))
    total = sum(comb(len(parties), s) for s in range(1, size_limit + 1))
    if total > MAX_COALITIONS:
        raise TooLargeError(f"{total} coalitions of up to {max_coalition} of {len(parties)} parties exceed the limit of "
                            f"{MAX_COALITIONS}; lower --max-coalition")
    lay = Layout(n)
    analyzer = protocol_analyzer(n, stage=stage)
    target = parse_stage(n, stage)
    order = {label: i for i, label in enumerate(lay.labels)}
    cache: dict[frozenset[str], Classification] = {}

    def classify_qubits(held: frozenset[str]) -> Classification:
        if held not in cache:
            cache[held] = analyzer.classify(held)
        return cache[held]

    def sorted_qubits(held: frozenset[str]) -> tuple[str, ...]:
        return tuple(sorted(held, key=order.__getitem__))

    def intended(coalition: tuple[str, ...], held: frozenset[str]) -> bool:
        if placement.intended:
            return any(c <= set(coalition) for c in placement.intended)
        return _protocol_intends(n, target, held)

    dims: dict[tuple[str, ...], float] = {}
    findings: list[Finding] = []
    for size in range(1, size_limit + 1):
        for coalition in combinations(parties, size):
            held = placement.qubits_of(coalition)
            c = classify_qubits(held)
            dims[coalition] = c.mutual_information_bits
            if c.kind == "none":
                continue
            minimal = all(dims[sub] < c.mutual_information_bits for sub in combinations(coalition, size - 1)) if size > 1 else True
            witnesses = analyzer.witnesses(held) if c.kind == "partial" else ()
            findings.append(Finding(coalition, _scaled(c, qubits), sorted_qubits(held), intended(coalition, held), minimal, witnesses))

    warnings: list[str] = []
    notes: list[str] = []
    n1 = single_clone_warning(n)
    if n1:
        warnings.append(n1)

    holders = tuple(p for p in parties if any(label.startswith("S") for label in placement.parties[p]))
    holders_class: Classification | None = None
    holders_bad = False
    if holders:
        held = placement.qubits_of(holders)
        holders_class = classify_qubits(held)
        if holders_class.kind == "partial":
            holders_bad = True
            shown = "; ".join(w.text(limit=8) for w in analyzer.witnesses(held))
            count = sum(label.startswith("S") for label in held)
            warnings.append(
                f"LEAK: the {len(holders)} part{'y' if len(holders) == 1 else 'ies'} holding clones ({_join(holders)}) "
                f"together learn the {', '.join(holders_class.leaked)} component of the stored state without any key "
                f"({shown}); they hold {count} clone{'s' if count != 1 else ''} and n = {n} is "
                f"{'odd' if n % 2 else 'even'}. Use an even number of clones."
            )
        elif holders_class.kind == "authorized" and not intended(holders, held):
            holders_bad = True
            warnings.append(f"the parties holding clones ({_join(holders)}) together can recover the whole state "
                            "without an intended decryption")
        holders_class = _scaled(holders_class, qubits)

    partial = [f for f in findings if f.classification.kind == "partial"]
    unintended = [f for f in findings if f.classification.kind == "authorized" and not f.intended]
    if partial:
        shown = ", ".join(f"{_join(f.coalition)} ({f.learns})" for f in partial[:5])
        warnings.append(f"{len(partial)} coalition(s) learn part of the state without being able to recover it: "
                        f"{shown}{', ...' if len(partial) > 5 else ''}")
    if unintended:
        shown = ", ".join(_join(f.coalition) for f in unintended[:5])
        warnings.append(f"{len(unintended)} coalition(s) not meant to decrypt can recover the whole state: "
                        f"{shown}{', ...' if len(unintended) > 5 else ''}")
    everyone = classify_qubits(placement.qubits_of(parties))
    if everyone.kind != "authorized":
        warnings.append(f"even all parties together cannot recover the state (they learn: {', '.join(everyone.leaked) or 'nothing'})")
    for wanted in placement.intended:
        members = tuple(p for p in parties if p in wanted)
        c = classify_qubits(placement.qubits_of(members))
        if c.kind != "authorized":
            warnings.append(f"intended coalition {_join(members)} cannot recover the state "
                            f"(it learns: {', '.join(c.leaked) or 'nothing'})")
    unplaced = tuple(label for label in lay.labels if placement.holder_of(label) is None)
    if unplaced:
        notes.append(f"held by no party (discarded): {' '.join(unplaced)}")
    if size_limit < len(parties):
        notes.append(f"coalitions of more than {size_limit} of the {len(parties)} parties were not examined "
                     "(except all clone holders together)")
    safe = not partial and not unintended and not holders_bad
    return AuditReport(n, stage, qubits, placement, max_coalition, total, tuple(findings), tuple(warnings), safe,
                       holders, holders_class, unplaced, tuple(notes))


def _protocol_intends(n: int, target: object, held: frozenset[str]) -> bool:
    """The protocol's own access structure (see the module docstring)."""
    if target is not None:
        return ("A" if target == "A" else f"S{target}") in held
    key = all(f"N{j}" in held for j in range(1, n + 1))
    clone = any(f"S{j}" in held for j in range(1, n + 1)) or (n % 2 == 0 and "A" in held)
    return key and clone


def fewest_clones(clones: int, held: Any, *, stage: str = "encrypted") -> tuple[str, ...] | None:
    """The fewest clones ``S_j`` that, with the qubits ``held`` (``A`` and key qubits ``N_j``, no
    clone), recover the whole state; ``None`` when even every clone with them cannot.

    The encoded state is invariant under permuting the pairs (``S_j``, ``N_j``) (checked by
    :func:`~qclone.analysis.leakage.census.subset_census`'s orbit method), so a set of clones
    matters only by how many lie in pairs whose key qubit is held: for each count m, in
    increasing order, every such split is classified, and the first authorized set is returned.
    This is what a key holder together with that many providers can do without any other key
    holder: a clone stands in for its own key qubit.

    Examples:
        >>> fewest_clones(4, ["N3", "N4"])             # half the key: the other pairs' clones and one more
        ('S1', 'S2', 'S3')
        >>> fewest_clones(4, ["N1", "N2", "N3", "N4"]), fewest_clones(4, ["A"])
        (('S1',), ('S1', 'S2', 'S3', 'S4'))
    """
    n = check_clones(clones)
    analyzer = protocol_analyzer(n, stage=stage)
    base = frozenset(held)
    if any(label.startswith("S") for label in base):
        raise InvalidArgumentError("fewest_clones: the held qubits are A and key qubits only")
    own = [j for j in range(1, n + 1) if f"N{j}" in base]
    other = [j for j in range(1, n + 1) if f"N{j}" not in base]
    for m in range(n + 1):
        for y in range(min(m, len(other)), -1, -1):  # clones of the pairs it lacks first
            x = m - y
            if x > len(own):
                break
            chosen = tuple(f"S{j}" for j in sorted(other[:y] + own[:x]))
            if analyzer.classify(base | set(chosen)).kind == "authorized":
                return chosen
    return None
