"""Retrieval modes: ``plain`` (decrypt one clone with the key, or recover from the fewest holders)
and ``corrected`` (measure the code's stabilizers among every live holder, correct, then decrypt).

The substrate emulates the corrected retrieval's joint measurement exactly: the output is the
average over syndrome outcomes of (correction ∘ projection) applied to the aged joint state,
then decrypted (:func:`qclone.analysis.corrected.logical_channel` gives that channel per register
qubit; :func:`corrected_output` applies it to the stored input). A corrected retrieval falls back
to the plain one, with the reason, when it could not correct anything (:func:`fallback_reason`).

Examples:
    >>> from qclone.protocol import Layout
    >>> lay = Layout(3)
    >>> fallback_reason(1, 3, [lay.S(1), *lay.keys]) is None   # S_1 and the key: checks among them? no
    False
    >>> fallback_reason(1, 3, [q for q in range(lay.num_qubits) if q != lay.A()]) is None
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from qclone.analysis.corrected import MAX_CORRECTED_CLONES, block_qubits, live_checks, logical_channel, pauli_probabilities
from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout

__all__ = ["DEFAULT_RETRIEVAL", "RETRIEVALS", "check_retrieval", "corrected_output", "fallback_reason"]

#: The retrieval modes.
RETRIEVALS = ("plain", "corrected")
#: The default (docs/storage.md, "Retrieval modes", says why).
DEFAULT_RETRIEVAL = "plain"


def check_retrieval(value: object) -> str:
    """A retrieval mode (None: the default)."""
    if value is None:
        return DEFAULT_RETRIEVAL
    if not isinstance(value, str) or value not in RETRIEVALS:
        raise InvalidArgumentError(f"retrieval must be one of {', '.join(RETRIEVALS)}, got {value!r}")
    return value


def _erased(lay: Layout, i: int, live: set[int]) -> list[int]:
    """Local indices (A, S_1.., N_1..) of register qubit i's block that are not live."""
    return [local for local, q in enumerate(block_qubits(lay, i)) if q not in live]


def fallback_reason(k: int, n: int, live: Iterable[int]) -> str | None:
    """Why a corrected retrieval from the qubits ``live`` (layout indices) would be the plain one;
    None when it corrects: every register qubit's block has a stabilizer within the live qubits
    and n is within the exact emulation's limit."""
    if n > MAX_CORRECTED_CLONES:
        return (f"the substrate emulates the stabilizer measurement exactly up to {MAX_CORRECTED_CLONES} clones "
                f"and this object has {n}")
    lay = Layout(n, qubits=k)
    alive = set(live)
    for i in range(k):
        if live_checks(n, _erased(lay, i, alive)) == 0:
            return "too few holders are live: no stabilizer of the code lies within their qubits, nothing to measure"
    return None


def corrected_output(k: int, n: int, rho: np.ndarray, noise: Sequence[tuple[int, float, float, float]],
                     live: Iterable[int]) -> tuple[np.ndarray, dict[str, Any]]:
    """The output of a corrected retrieval from the qubits ``live`` and what to record of it.

    ``rho`` is the stored input (np.kron order of the register), ``noise`` the ageing record
    ``(qubit, p_x, p_y, p_z)`` of the joint state. Per register qubit i the logical channel
    (:func:`~qclone.analysis.corrected.logical_channel`, the qubits not in ``live`` erased) acts on
    bit ``k − 1 − i`` of ``rho``'s index.

    Returns:
        ``(output, {"retrieval": "corrected", "checks": syndrome bits measured per register qubit,
        "erased": qubits per register qubit treated as erasures})``.
    """
    lay = Layout(n, qubits=k)
    alive = set(live)
    channels: dict[int, list[tuple[float, float, float]]] = {}
    for q, px, py, pz in noise:
        channels.setdefault(q, []).append((px, py, pz))
    out = np.array(rho, dtype=complex)
    checks, erased = [], []
    for i in range(k):
        qubits = block_qubits(lay, i)
        probs = np.array([pauli_probabilities(channels.get(q, ())) for q in qubits])
        gone = _erased(lay, i, alive)
        p_i, p_x, p_y, p_z = logical_channel(n, probs, erased=gone)
        bit = 1 << (k - 1 - i)
        out = (p_i * out + p_x * _conjugate(out, bit, 0) + p_y * _conjugate(out, bit, bit)
               + p_z * _conjugate(out, 0, bit))
        checks.append(live_checks(n, gone))
        erased.append(len(gone))
    return out, {"retrieval": "corrected", "checks": checks, "erased": erased}


def _conjugate(rho: np.ndarray, xm: int, zm: int) -> np.ndarray:
    """``P ρ P†`` for ``P = X^xm Z^zm`` (bit masks of the index)."""
    idx = np.arange(rho.shape[0])
    flipped = idx ^ xm
    sign = 1 - 2 * (np.array([bin(int(v) & zm).count("1") for v in flipped]) & 1)
    return np.outer(sign, sign) * rho[np.ix_(flipped, flipped)]
