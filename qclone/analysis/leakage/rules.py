"""The published classification of the bare protocol, as closed-form rules.

These are the published leakage rules (derived from the leakage
papers and checked there by exhaustive simulation for n <= 5), written out so
that users and tests can compare the exact engine with them. The engine
(:mod:`qclone.analysis.leakage.analyzer`) never uses them.

For a set C of storage qubits (S's and N's) let c be the number of pairs
(S_k, N_k) held completely, s the number of pairs of which only S_k is held,
t the number of pairs touched at all.

* Encrypted, without A: authorized iff c >= 1 and t = n; partial iff c = 0,
  t = n, n odd and s odd, and then exactly the Y component leaks; otherwise
  non-informative (so for even n no set of storage qubits leaks anything).
* Encrypted, with A: non-informative iff c = 0 and |C| < n; partial (Y only)
  iff c = 0, |C| = n, n odd and the number of S's in C is even; otherwise
  authorized.
* After decrypting clone j, S_j holds the input and every other qubit is in a
  Bell pair independent of it: authorized iff S_j is held, else nothing.
  After decrypting A (even n): authorized iff A is held.

Examples:
    >>> published_classification(3, ["S1", "S2", "S3"]).leaked
    ('Y',)
    >>> published_classification(3, ["A", "N1", "N2", "N3"]).kind
    'partial'
    >>> published_classification(4, ["A", "N1", "N2", "N3", "N4"]).kind
    'authorized'
"""

from __future__ import annotations

from collections.abc import Iterable

from qclone.analysis.leakage.analyzer import Classification
from qclone.analysis.leakage.stages import parse_stage, protocol_labels

_AUTHORIZED = Classification("authorized", ("X", "Y", "Z"), 2.0, ("X", "Z"))
_PARTIAL_Y = Classification("partial", ("Y",), 1.0, ("Y",))
_NONE = Classification("none", (), 0.0, ())


def pair_counts(clones: int, qubits: Iterable[str]) -> tuple[bool, int, int, int, int]:
    """``(A held, c, s, t, number of S's)`` of a set of protocol qubits (see the module docstring)."""
    labels = set(protocol_labels(clones, qubits))
    held_s = {j for j in range(1, clones + 1) if f"S{j}" in labels}
    held_n = {j for j in range(1, clones + 1) if f"N{j}" in labels}
    return "A" in labels, len(held_s & held_n), len(held_s - held_n), len(held_s | held_n), len(held_s)


def published_classification(clones: int, qubits: Iterable[str], *, stage: str = "encrypted") -> Classification:
    """The classification the published rules predict (see the module docstring).

    Args and labels as for :func:`qclone.analysis.leakage.classify`.
    """
    qubits = protocol_labels(clones, qubits)
    target = parse_stage(clones, stage)
    if target is not None:
        holder = "A" if target == "A" else f"S{target}"
        return _AUTHORIZED if holder in qubits else _NONE
    n = clones
    with_a, c, s, t, signals = pair_counts(n, qubits)
    if not with_a:
        if c >= 1 and t == n:
            return _AUTHORIZED
        if c == 0 and t == n and n % 2 == 1 and s % 2 == 1:
            return _PARTIAL_Y
        return _NONE
    storage = len(qubits) - 1
    if c == 0 and storage < n:
        return _NONE
    if c == 0 and storage == n and n % 2 == 1 and signals % 2 == 0:
        return _PARTIAL_Y
    return _AUTHORIZED
