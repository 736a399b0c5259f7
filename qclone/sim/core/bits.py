"""Bit-packed rows of GF(2) data (Pauli frames, parity checks) with numpy.

A row of ``m`` bits is stored as ``ceil(m / 64)`` little-endian ``uint64``
words, so the parity of ``a & b`` over a million bits is a handful of
vectorised word operations (``np.bitwise_count``).

Examples:
    >>> import numpy as np
    >>> a = pack_rows(np.array([[1, 0, 1, 1]], dtype=bool))
    >>> b = pack_rows(np.array([1, 1, 1, 0], dtype=bool))
    >>> parity_and(a, b).tolist()
    [False]
    >>> unpack_rows(a, 4).astype(int).tolist()
    [[1, 0, 1, 1]]
"""

from __future__ import annotations

import numpy as np


def words_for(bits: int) -> int:
    """How many 64-bit words hold ``bits`` bits."""
    return (int(bits) + 63) // 64


def bytes_to_words(packed: np.ndarray) -> np.ndarray:
    """Little-endian packed bytes (…, nbytes) as uint64 words (…, ceil(nbytes / 8))."""
    packed = np.asarray(packed, dtype=np.uint8)
    pad = (-packed.shape[-1]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros(packed.shape[:-1] + (pad,), dtype=np.uint8)], axis=-1)
    return np.ascontiguousarray(packed).view(np.uint64)


def pack_rows(bits: np.ndarray) -> np.ndarray:
    """Pack booleans along the last axis into uint64 words."""
    return bytes_to_words(np.packbits(np.asarray(bits, dtype=bool), axis=-1, bitorder="little"))


def unpack_rows(words: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of :func:`pack_rows`: booleans (…, bits)."""
    w = np.ascontiguousarray(words, dtype=np.uint64)
    raw = w.view(np.uint8).reshape(w.shape[:-1] + (w.shape[-1] * 8,))
    return np.unpackbits(raw, axis=-1, count=bits, bitorder="little").astype(bool)


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
        part = unpack_rows(flat[start : start + chunk], bits)
        wide = np.zeros((part.shape[0], total), dtype=bool)
        wide[:, offset : offset + bits] = part
        out[start : start + chunk] = pack_rows(wide)
    return out.reshape(lead + (out.shape[-1],))
