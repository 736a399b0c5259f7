"""Corrected retrieval, exactly: the channel of "measure the stabilizers, correct, decrypt".

The encrypted state of one register qubit is a [[2n + 1, 1, 3]] stabilizer code on
``A, S_1 … S_n, N_1 … N_n`` (:mod:`qclone.analysis.code`). A corrected retrieval measures
the code's stabilizers, corrects with the decoder (:class:`qclone.analysis.code.Decoder`)
and then decrypts. When the memory noise is a Pauli channel on each stored qubit (the
substrate's Pauli-twirled T1/T2 channel, :func:`qclone.sim.noise.twirled_relaxation`),
the whole operation is a Pauli channel on the output, computed here exactly:

* Holders that are down (and ``A`` when nobody keeps it) are *erasures*: only the stabilizers
  that lie within the live qubits are measured (:func:`qclone.analysis.code.live_code`), and the
  decoder knows which qubits are gone; nothing on an erased qubit reaches the output.
* A Pauli error E on the live qubits is a vector over GF(2); its syndrome s(E) and its image
  ``l(E)`` on the output (under a recovery from the live qubits: whether it anticommutes with the
  logical representatives that recovery reads) are linear in E. Errors on different qubits are
  independent, so the joint distribution D(s, l) is the XOR-convolution of one distribution per
  qubit: 2n + 1 passes over an array of 2^(r + 2) numbers (r: the measured generators, 2n at most).
* The measurement projects E ρ E† onto the outcome s(E) (the encrypted state is an eigenstate of
  every stabilizer), the decoder applies its correction C(s), which leaves no syndrome, so C(s)·E
  commutes with every measured stabilizer and its image is the same under every recovery from the
  live qubits: the output is ``Σ_L q(L) L ρ L`` with ``q(L) = Σ_s D(s, L ⊕ l(C(s)))``.

The cost is exponential in n (every syndrome is visited), so the exact computation stops at
:data:`MAX_CORRECTED_CLONES` clones; the service falls back to plain retrieval beyond it and
says so. The twirl is the only approximation: amplitude damping itself is not a Pauli channel;
its twirl keeps every qubit's Pauli eigenvalues (hence its average fidelity) and drops the drift
toward |0⟩.

Examples:
    >>> import numpy as np
    >>> p = np.tile([0.97, 0.01, 0.01, 0.01], (7, 1))          # n = 3: 7 stored qubits
    >>> plain = logical_channel(3, p, correct=False)
    >>> corrected = logical_channel(3, p, erased=[0])          # A discarded: an erasure
    >>> bool(corrected[0] > plain[0])
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from qclone.errors import InvalidArgumentError, TooLargeError, check_int

__all__ = [
    "MAX_CORRECTED_CLONES",
    "block_qubits",
    "corrected_fidelity",
    "live_checks",
    "logical_channel",
    "pauli_probabilities",
    "retrieval_fidelities",
]

#: Most clones the exact computation takes (it visits all 2^(2n) syndromes).
MAX_CORRECTED_CLONES = 8


def block_qubits(layout: Any, i: int) -> list[int]:
    """The layout indices of register qubit ``i``'s code block, in the order of a one-qubit layout:
    ``A_i, S_1, …, S_n, N_1, …, N_n`` (local index 0, 1..n, n+1..2n)."""
    n = layout.n
    return [layout.A(i), *(layout.S(j, i) for j in range(1, n + 1)), *(layout.N(j, i) for j in range(1, n + 1))]


def pauli_probabilities(channels: Iterable[tuple[float, float, float]], *, start: Sequence[float] | None = None) -> np.ndarray:
    """``[p_I, p_X, p_Y, p_Z]`` of a qubit after the Pauli channels ``(p_x, p_y, p_z)`` in turn
    (Pauli channels compose by convolution over the Pauli group mod phases)."""
    p = np.array([1.0, 0.0, 0.0, 0.0]) if start is None else np.array(start, dtype=float)
    for px, py, pz in channels:
        q = np.array([1 - px - py - pz, px, py, pz])
        out = np.zeros(4)
        for a in range(4):
            for b in range(4):
                out[_MUL[a][b]] += p[a] * q[b]
        p = out
    return p


#: Images are indexed x + 2 z (I, X, Z, Y); results are I, X, Y, Z.
_BY_LETTER = [0, 1, 3, 2]

#: The product of two Paulis (I, X, Y, Z = 0..3) mod phases.
_MUL = ((0, 1, 2, 3), (1, 0, 3, 2), (2, 3, 0, 1), (3, 2, 1, 0))


def _live(n: int, erased: tuple[int, ...]) -> Any:
    """The live code (:func:`qclone.analysis.code.live_code`): the generators that can be measured and
    the logical representatives a recovery from the live qubits reads."""
    from qclone.analysis.code import live_code

    return live_code(n, frozenset(erased))


def live_checks(n: int, erased: Iterable[int]) -> int:
    """How many independent stabilizers lie within the qubits that are not ``erased`` (local
    indices of a block): the syndrome bits a corrected retrieval gets (0: nothing to measure, a
    corrected retrieval is the plain one).

    Raises:
        InvalidArgumentError: the live qubits cannot recover the state.
    """
    return int(_live(n, tuple(sorted(set(erased)))).num_checks)


def _logical_images(code: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per qubit, the output image (bit 0: X, bit 1: Z) of X_q and of Z_q under a recovery from the
    live qubits: X on the output iff the Pauli anticommutes with Z̄, Z iff with X̄."""
    lx, lz = np.asarray(code.lx, dtype=np.int64), np.asarray(code.lz, dtype=np.int64)
    return lz[1] | lz[0] << 1, lx[1] | lx[0] << 1


def _distribution(checks: tuple[np.ndarray, np.ndarray], probs: np.ndarray, ix: np.ndarray,
                  iz: np.ndarray) -> np.ndarray:
    """D[s, l]: the probability that the stored errors have syndrome s (against the rows of
    ``checks`` = (x bits, z bits)) and output image l; shape (2^r, 4), by XOR-convolution qubit by qubit."""
    gx, gz = checks
    r = gx.shape[0]
    weights = 1 << np.arange(r, dtype=np.int64)
    # X_q flips the checks with z on q, Z_q those with x on q; the image in the 2 low bits
    fx = ((gz.T.astype(np.int64) @ weights) << 2) | ix
    fz = ((gx.T.astype(np.int64) @ weights) << 2) | iz
    size = 1 << (r + 2)
    d = np.zeros(size)
    d[0] = 1.0
    idx = np.arange(size, dtype=np.int64)
    for q in range(probs.shape[0]):
        pi, px, py, pz = probs[q]
        if pi == 1.0:
            continue
        out = pi * d
        for p, shift in ((px, fx[q]), (py, fx[q] ^ fz[q]), (pz, fz[q])):
            if p:
                out += p * d[idx ^ shift]
        d = out
    return d.reshape(1 << r, 4)


@lru_cache(maxsize=16)
def _correction_images(n: int, erased: tuple[int, ...], method: str) -> np.ndarray:
    """The output image (0..3) of the decoder's correction for every syndrome s (bit i: check i).
    The decoder's corrections leave no syndrome, so the residual C·E is a logical: its image is the
    same under every recovery."""
    from qclone.analysis.code import Decoder

    decoder = Decoder(n, erasures=frozenset(erased), method=method)
    r = decoder.num_checks
    s = np.arange(1 << r, dtype=np.int64)
    bits = ((s[:, None] >> np.arange(r)) & 1).astype(bool)
    c = decoder.decode(bits)
    flips = decoder.code.logical_flips(c.x, c.z).astype(np.int8)  # anticommutes with X̄, with Z̄
    out = flips[:, 1] | flips[:, 0] << 1
    out.setflags(write=False)
    return out


def logical_channel(n: int, probs: np.ndarray, *, erased: Iterable[int] = (), correct: bool = True,
                    method: str = "lookup", clone: int | None = None) -> np.ndarray:
    """``[q_I, q_X, q_Y, q_Z]``: the Pauli channel on the output of one register qubit's retrieval.

    Args:
        n: clones (at most :data:`MAX_CORRECTED_CLONES` with ``correct``).
        probs: ``(2n + 1, 4)`` array, ``[p_I, p_X, p_Y, p_Z]`` of each stored qubit's memory noise,
            local order ``A, S_1..S_n, N_1..N_n``.
        erased: local indices of qubits that are gone (down holders, A discarded): only the
            stabilizers among the others are measured, and the decoder knows it.
        correct: False gives the plain retrieval: no measurement, the protocol's decryption of
            ``clone`` (it needs that clone and the whole key), or with ``clone=None`` the recovery from
            the live qubits (the decryption of the lowest live clone when the whole key is live).
        method: the decoder's method (:class:`qclone.analysis.code.Decoder`: ``lookup`` or ``ml``).

    Raises:
        TooLargeError: more than :data:`MAX_CORRECTED_CLONES` clones with ``correct``.
        InvalidArgumentError: bad probabilities, or the live qubits cannot recover the state.
    """
    n = check_int(n, "clones", 1, None)
    if correct and n > MAX_CORRECTED_CLONES:
        raise TooLargeError(f"exact corrected retrieval visits every syndrome (2^(2n)); at most "
                            f"{MAX_CORRECTED_CLONES} clones, got {n}")
    p = np.array(probs, dtype=float)
    if p.shape != (2 * n + 1, 4) or np.any(p < -1e-15) or np.any(np.abs(p.sum(axis=1) - 1) > 1e-9):
        raise InvalidArgumentError(f"probs: one row [p_I, p_X, p_Y, p_Z] summing to 1 per stored qubit ({2 * n + 1})")
    gone = tuple(sorted({int(q) for q in erased}))
    if any(not 0 <= q <= 2 * n for q in gone):
        raise InvalidArgumentError(f"erased qubits are local indices 0..{2 * n}")
    p[list(gone)] = [1.0, 0.0, 0.0, 0.0]  # a qubit nobody reads never reaches the output
    if not correct:
        ix, iz = _plain_images(n, gone, clone)
        d = _distribution((np.zeros((0, 2 * n + 1), bool), np.zeros((0, 2 * n + 1), bool)), p, ix, iz)
        return d.sum(axis=0)[_BY_LETTER]
    code = _live(n, gone)
    ix, iz = _logical_images(code)
    d = _distribution((np.asarray(code.gx), np.asarray(code.gz)), p, ix, iz)
    c = _correction_images(n, gone, method)
    q = np.zeros(4)
    for shift in range(4):
        # the residual C·E has image l(E) ⊕ l(C): q[l ⊕ c] += D[s, l]
        q[np.arange(4) ^ shift] += d[c == shift].sum(axis=0)
    return q[_BY_LETTER]


@lru_cache(maxsize=256)
def _plain_images(n: int, gone: tuple[int, ...], clone: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Images under the protocol's decryption of ``clone``, or (None) under the recovery from the live
    qubits :func:`~qclone.analysis.recovery.find_recovery` finds (the decryption of the lowest live
    clone when the whole key is live)."""
    from qclone.analysis.recovery import find_recovery, output_images, plain_recovery
    from qclone.protocol import Layout

    if clone is None:
        rec = find_recovery(Layout(n), [q for q in range(2 * n + 1) if q not in gone])
    else:
        if not 1 <= clone <= n or clone in gone or any(n + i in gone for i in range(1, n + 1)):
            raise InvalidArgumentError(f"the plain decryption of clone {clone} needs S_{clone} and the whole key")
        rec = plain_recovery(Layout(n), clone)
    images = output_images(rec)
    ix = np.zeros(2 * n + 1, dtype=np.int64)
    iz = np.zeros(2 * n + 1, dtype=np.int64)
    for q, ((xx, xz), (zx, zz)) in images.items():
        ix[q], iz[q] = (xx & 1) | (xz & 1) << 1, (zx & 1) | (zz & 1) << 1
    return ix, iz


def corrected_fidelity(n: int, probs: np.ndarray, *, erased: Iterable[int] = (), method: str = "lookup") -> dict[str, float]:
    """The entanglement fidelity F_e = q_I and the average fidelity (2 F_e + 1)/3 of one register
    qubit retrieved with correction (:func:`logical_channel`)."""
    fe = float(logical_channel(n, probs, erased=erased, method=method)[0])
    return {"entanglement_fidelity": fe, "average_fidelity": (2 * fe + 1) / 3}


def retrieval_fidelities(n: int, probs: np.ndarray, erased: Iterable[int] = ()) -> dict[str, Any]:
    """Plain and corrected retrieval from the qubits not ``erased``, side by side (one register qubit).

    Returns:
        ``{"plain": F_e, "corrected": F_e, "checks": measured stabilizers, "fallback": bool}``: the
        entanglement fidelities; with no stabilizer among the live qubits a corrected retrieval is
        the plain one (``fallback``), as the service does. Average fidelity: (2 F_e + 1)/3.

    Raises:
        InvalidArgumentError: the live qubits cannot recover the state.
    """
    gone = tuple(sorted(set(int(q) for q in erased)))
    plain = float(logical_channel(n, probs, erased=gone, correct=False, clone=None)[0])
    checks = live_checks(n, gone)
    if checks == 0:
        return {"plain": plain, "corrected": plain, "checks": 0, "fallback": True}
    return {"plain": plain, "corrected": float(logical_channel(n, probs, erased=gone)[0]), "checks": checks,
            "fallback": False}
