"""Bit-packed noise frames: the few operations the core engine adds to :mod:`qclone.sim.gf2`.

Rows of bits use :mod:`qclone.sim.gf2`'s layout (``gf2.words_for(m)``
little-endian ``uint64`` words per row of m bits); the helpers here accept
any leading shape, which the (events × 2 × words) frame arrays need.

Examples:
    >>> import numpy as np
    >>> a = pack(np.array([[1, 0, 1, 1]], dtype=bool))
    >>> b = pack(np.array([1, 1, 1, 0], dtype=bool))
    >>> parity_and(a, b).tolist()
    [False]
    >>> unpack(a, 4).astype(int).tolist()
    [[1, 0, 1, 1]]
"""

from __future__ import annotations

import numpy as np

from qclone.sim import gf2

words_for = gf2.words_for


def pack(bits: np.ndarray) -> np.ndarray:
    """Pack booleans along the last axis (any leading shape) into uint64 words."""
    b = np.asarray(bits, dtype=bool)
    flat = gf2.pack_rows(b.reshape(-1, b.shape[-1]))
    return flat.reshape(b.shape[:-1] + (flat.shape[-1],))


def unpack(words: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of :func:`pack`: booleans (…, bits)."""
    w = np.asarray(words, dtype=np.uint64)
    flat = gf2.unpack_rows(w.reshape(-1, w.shape[-1]), bits)
    return flat.reshape(w.shape[:-1] + (bits,))


def from_bytes(packed: np.ndarray) -> np.ndarray:
    """stim's ``bit_packed`` rows (uint8, any leading shape) as uint64 words."""
    p = np.asarray(packed, dtype=np.uint8)
    flat = gf2.packed_from_bytes(p.reshape(-1, p.shape[-1]))
    return flat.reshape(p.shape[:-1] + (flat.shape[-1],))


def parity_and(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Parity of ``popcount(a & b)`` along the last (word) axis, broadcasting."""
    return (np.bitwise_count(np.bitwise_and(a, b)).sum(axis=-1, dtype=np.int64) & 1).astype(bool)


def place_bits(words: np.ndarray, bits: int, offset: int, total: int, *, chunk: int = 2048) -> np.ndarray:
    """Move packed rows of ``bits`` bits to position ``offset`` inside rows of ``total`` bits."""
    lead = words.shape[:-1]
    flat = words.reshape(-1, words.shape[-1])
    out = np.zeros((flat.shape[0], words_for(total)), dtype=np.uint64)
    if offset == 0:
        out[:, : flat.shape[1]] = flat
        return out.reshape(lead + (out.shape[-1],))
    for start in range(0, flat.shape[0], chunk):
        part = unpack(flat[start : start + chunk], bits)
        wide = np.zeros((part.shape[0], total), dtype=bool)
        wide[:, offset : offset + bits] = part
        out[start : start + chunk] = pack(wide)
    return out.reshape(lead + (out.shape[-1],))
