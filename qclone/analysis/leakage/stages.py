"""The bare protocol at each point of its lifecycle, and :func:`classify`, the one-call query.

Stages (:func:`parse_stage`):

* ``"encrypted"``: Bell pairs, then encryption; the state while clones are stored.
* ``"decrypted:J"``: then the decryption of clone ``J`` (``1..n``), or of
  ``A`` (``"decrypted:A"``, even n only).

Qubit labels are those of :class:`qclone.protocol.Layout`: ``A``, ``S1..Sn``,
``N1..Nn`` (``s_3`` and ``S_3`` are accepted for ``S3``).

Examples:
    >>> classify(3, ["S1", "S2", "S3"])
    Classification(kind='partial', leaked=('Y',), mutual_information_bits=1.0, generators=('Y',))
    >>> classify(4, ["S1", "S2", "S3", "S4"]).kind
    'none'
    >>> classify(3, ["S2", "N1", "N2", "N3"]).leaked
    ('X', 'Y', 'Z')
    >>> classify(3, ["S2", "N1", "N2", "N3"], stage="decrypted:1").kind
    'none'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from qclone.analysis.leakage.analyzer import Classification, LeakageAnalyzer
from qclone.analysis.leakage.encoding import CliffordEncoding
from qclone.errors import InvalidArgumentError
from qclone.protocol import DecryptTarget, Layout, protocol_circuit
from qclone.protocol.layout import check_clones

#: Stage names, for messages and ``--help``.
STAGE_HELP = "encrypted, or decrypted:J for clone J = 1..n, or decrypted:A (even n)"


def parse_stage(clones: int, stage: str) -> DecryptTarget | None:
    """The decryption target of a stage name (``None`` for ``"encrypted"``).

    Examples:
        >>> parse_stage(3, "decrypted:2"), parse_stage(4, "Decrypted:a"), parse_stage(3, "encrypted")
        (2, 'A', None)
    """
    lay = Layout(check_clones(clones))
    if not isinstance(stage, str):
        raise InvalidArgumentError(f"a stage is a string ({STAGE_HELP}), got {stage!r}")
    s = stage.strip().lower()
    if s == "encrypted":
        return None
    found = re.fullmatch(r"decrypted\s*:\s*(\S+)", s)
    if not found:
        raise InvalidArgumentError(f"unknown stage {stage!r}; use {STAGE_HELP}")
    return lay.check_target(found.group(1))


def stage_name(target: DecryptTarget | None) -> str:
    """The canonical name of a stage (inverse of :func:`parse_stage`)."""
    return "encrypted" if target is None else f"decrypted:{target}"


def canonical_stage(clones: int, stage: str) -> str:
    """``stage`` validated and spelled canonically (``"Decrypted: a"`` → ``"decrypted:A"``)."""
    return stage_name(parse_stage(clones, stage))


def protocol_encoding(clones: int, *, stage: str = "encrypted") -> CliffordEncoding:
    """The bare protocol with n clones, as a Clifford encoding of the input qubit A.

    Qubits and labels are those of :class:`qclone.protocol.Layout`; the
    circuit is :func:`qclone.protocol.protocol_circuit` up to the given stage.

    Examples:
        >>> protocol_encoding(2, stage="decrypted:A").name
        'encrypted cloning, n = 2, decrypted:A'
    """
    target = parse_stage(clones, stage)
    lay = Layout(clones)
    circuit = protocol_circuit(lay, decrypt=target)
    return CliffordEncoding(circuit, (lay.A(),), lay.labels, f"encrypted cloning, n = {clones}, {stage_name(target)}")


@lru_cache(maxsize=16)
def cached_analyzer(clones: int, stage: str) -> LeakageAnalyzer:
    """The analyzer of the protocol at a canonical stage, built once per (n, stage) (``cache_clear()`` empties it)."""
    return LeakageAnalyzer(protocol_encoding(clones, stage=stage))


def protocol_analyzer(clones: int, *, stage: str = "encrypted") -> LeakageAnalyzer:
    """A (cached) :class:`LeakageAnalyzer` of the bare protocol at ``stage``."""
    return cached_analyzer(check_clones(clones), canonical_stage(clones, stage))


_PROTOCOL_LABEL = re.compile(r"\s*([ASNasn])\s*_?\s*(\d*)\s*")


def normalize_protocol_label(label: str) -> str:
    """Canonical spelling of a protocol qubit label: ``"s_3"`` → ``"S3"``, ``" a "`` → ``"A"``.

    Anything that does not look like ``A``, ``S<j>`` or ``N<j>`` is returned
    unchanged (and then rejected with the list of valid labels).

    Examples:
        >>> normalize_protocol_label("s_03"), normalize_protocol_label("A"), normalize_protocol_label("R")
        ('S3', 'A', 'R')
    """
    if not isinstance(label, str):
        return label
    found = _PROTOCOL_LABEL.fullmatch(label)
    if not found:
        return label
    letter, digits = found.group(1).upper(), found.group(2)
    if (letter == "A") != (digits == ""):
        return label
    return letter + (str(int(digits)) if digits else "")


@lru_cache(maxsize=16)
def protocol_label_index(clones: int) -> dict[str, int]:
    """Label -> qubit index of the protocol's qubits (built once per n: O(1) look-ups)."""
    return {label: i for i, label in enumerate(Layout(check_clones(clones)).labels)}


def check_protocol_label(clones: int, label: str) -> str:
    """The canonical form of ``label`` if it names a qubit of the n-clone protocol, else an error."""
    canonical = normalize_protocol_label(label)
    if canonical not in protocol_label_index(clones):
        raise InvalidArgumentError(f"unknown qubit {label!r}; expected one of A, S1..S{clones}, N1..N{clones}")
    return canonical


def protocol_labels(clones: int, qubits: Iterable[str]) -> tuple[str, ...]:
    """Validated, canonical labels of protocol qubits (order kept, repeats dropped)."""
    check_clones(clones)
    if isinstance(qubits, (str, bytes)):
        raise InvalidArgumentError("give the qubits as a collection of labels, e.g. ['S1', 'S2'], not one string")
    return tuple(dict.fromkeys(check_protocol_label(clones, q) for q in qubits))


def classify(clones: int, qubits: Iterable[str], *, stage: str = "encrypted") -> Classification:
    """Classify a set of qubits of the bare protocol with ``clones`` clones at ``stage``.

    Args:
        clones: n >= 1.
        qubits: labels ``"A"``, ``"S<j>"``, ``"N<j>"`` (j = 1..n).
        stage: ``"encrypted"`` or ``"decrypted:J"`` (J = 1..n, or A for even n).

    Returns:
        ``authorized`` / ``partial`` / ``none``, the leaking Bloch
        components, and ``I(R : qubits)`` in bits (0, 1 or 2).

    Raises:
        InvalidArgumentError: for n < 1, an unknown label or stage.
        UnsupportedError: for ``decrypted:A`` with odd n.
    """
    labels = protocol_labels(clones, qubits)
    return protocol_analyzer(clones, stage=stage).classify(labels)
