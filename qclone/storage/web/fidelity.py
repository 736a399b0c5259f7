"""The fidelity a get would return now, from the memory-noise model.

A stored qubit ages by the substrate's channel (:func:`qclone.sim.noise.twirled_relaxation`,
the Pauli twirl of T1/T2 relaxation for the time it has been stored, at its holder's T1/T2).
The protocol's decryption of clone j maps a Pauli error on any qubit it uses onto a Pauli on
the output (:func:`qclone.analysis.recovery.output_images`), so the output is the input through
one Pauli channel, whatever the input. This module computes that channel's *average* fidelity
over all input states, ``(d·F_e + 1)/(d + 1)`` with the entanglement fidelity
``F_e = 4^-k Σ_P λ_P`` (λ_P: the channel's eigenvalue on the output Pauli P, the product over the
aged qubits). The fidelity a get reports for one particular state differs from it (a state on the
axis of a dephasing channel loses nothing); the average over the six states ±x, ±y, ±z equals it
exactly (they form a 2-design), which is how the tests check it against real gets.

Examples:
    >>> round(predicted_average_fidelity(1, 4, 0.0, (3600.0, 3600.0), (3600.0, 3600.0)), 12)
    1.0
    >>> 0.5 < predicted_average_fidelity(1, 4, 600.0, (3600.0, 3600.0), (3600.0, 3600.0)) < 1.0
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from qclone.analysis.recovery import output_images, plain_recovery
from qclone.protocol import Layout
from qclone.sim.noise import twirled_relaxation

__all__ = ["MAX_LIST_QUBITS", "predicted_average_fidelities", "predicted_average_fidelity"]

#: The objects page predicts the fidelity of objects of at most this many qubits (4^k output Paulis each).
MAX_LIST_QUBITS = 4
_PARITY = np.array([bin(i).count("1") & 1 for i in range(256)], dtype=np.uint8)


def _parity(v: np.ndarray) -> np.ndarray:
    return _PARITY[v & 0xFF]  # masks of at most 8 output qubits (MAX_QUBITS)


@lru_cache(maxsize=128)
def _images(k: int, n: int, clone: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(xx, xz, zx, zz)`` per row of the clone's qubits and of the key qubits."""
    lay = Layout(n, qubits=k)
    images = output_images(plain_recovery(lay, clone))
    rows = {q: (a[0], a[1], b[0], b[1]) for q, (a, b) in images.items()}
    clone_rows = np.array([rows[q] for q in lay.clone(clone)], dtype=np.int64).reshape(-1, 4)
    key_rows = np.array([rows[q] for q in lay.keys], dtype=np.int64).reshape(-1, 4)
    return clone_rows, key_rows


def _log_eigenvalues(rows: np.ndarray, p: np.ndarray, px_m: np.ndarray, pz_m: np.ndarray) -> np.ndarray:
    """Σ over ``rows`` (the aged qubits) of log λ_P, for each channel ``p[i] = (px, py, pz)``:
    shape ``(len(p), 4^k)``. Vectorised over the qubits, their errors X, Y, Z, the channels and
    the output Paulis."""
    if rows.size == 0:
        return np.zeros((p.shape[0], px_m.size), dtype=float)
    xx, xz, zx, zz = rows.T
    ex = np.stack([xx, xx ^ zx, zx], axis=1)[:, :, None]  # (qubits, 3 errors, 1)
    ez = np.stack([xz, xz ^ zz, zz], axis=1)[:, :, None]
    anti = _parity((ex & pz_m[None, None, :]) ^ (ez & px_m[None, None, :])).astype(float)  # (qubits, 3, 4^k)
    lam = 1.0 - 2.0 * np.einsum("ce,qep->cqp", p, anti)  # (channels, qubits, 4^k)
    return np.log(np.maximum(lam, 1e-300)).sum(axis=1)


def predicted_average_fidelities(k: int, n: int, elapsed: Sequence[float], clone_times: tuple[float, float],
                                 key_times: tuple[float, float], *, clone: int = 1) -> np.ndarray:
    """:func:`predicted_average_fidelity` for many storage times at once (one array)."""
    times = np.asarray(elapsed, dtype=float)
    clone_rows, key_rows = _images(int(k), int(n), int(clone))
    d = 2 ** int(k)
    idx = np.arange(d * d, dtype=np.int64)
    px_m, pz_m = idx // d, idx % d
    pc = np.array([twirled_relaxation(max(0.0, float(t)), *clone_times) for t in times]).reshape(-1, 3)
    pk = np.array([twirled_relaxation(max(0.0, float(t)), *key_times) for t in times]).reshape(-1, 3)
    log_lam = _log_eigenvalues(clone_rows, pc, px_m, pz_m) + _log_eigenvalues(key_rows, pk, px_m, pz_m)
    f_e = np.exp(log_lam).mean(axis=1)
    return (d * f_e + 1) / (d + 1)


def predicted_average_fidelity(k: int, n: int, elapsed: float, clone_times: tuple[float, float],
                               key_times: tuple[float, float], *, clone: int = 1) -> float:
    """The average fidelity of a plain decryption of clone ``clone`` after ``elapsed`` seconds of storage.

    Args:
        k, n: qubits and clones of the object.
        elapsed: seconds since it was stored.
        clone_times: ``(T1, T2)`` of the provider holding the clone (every qubit of a clone is at one provider).
        key_times: ``(T1, T2)`` of the key's holder.
    """
    if elapsed <= 0:
        return 1.0
    return float(predicted_average_fidelities(k, n, [elapsed], clone_times, key_times, clone=clone)[0])
