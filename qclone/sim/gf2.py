"""Linear algebra over GF(2) on bit-packed numpy matrices.

A matrix with ``c`` columns is stored row by row in ``ceil(c / 64)``
little-endian ``uint64`` words (bit ``j`` of a row is bit ``j % 64`` of word
``j // 64``), the layout ``np.packbits(..., bitorder="little")`` and stim's
``bit_packed`` outputs use. Gauss–Jordan elimination loops in Python over the
*columns* only; each step XORs the pivot row into every other row holding the
pivot's bit in one vectorised numpy operation. Put the short dimension in the
columns: a ``20000 x 6`` matrix costs six numpy steps.

Examples:
    >>> import numpy as np
    >>> m = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=bool)
    >>> rank(m)
    2
    >>> nullspace(m).astype(int).tolist()
    [[1, 1, 1]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qclone.errors import InvalidArgumentError

_ONE = np.uint64(1)


def words_for(columns: int) -> int:
    """How many 64-bit words hold one row of ``columns`` bits (at least one)."""
    return max(1, (columns + 63) // 64)


def pack_rows(bits: np.ndarray) -> np.ndarray:
    """A boolean ``(r, c)`` matrix as ``(r, words_for(c))`` little-endian ``uint64`` words."""
    b = _as_bool_matrix(bits)
    r, c = b.shape
    padded = np.zeros((r, 64 * words_for(c)), dtype=bool)
    padded[:, :c] = b
    return np.packbits(padded, axis=1, bitorder="little").view("<u8")


def packed_from_bytes(packed: np.ndarray) -> np.ndarray:
    """``uint8`` rows packed little-endian (stim's ``bit_packed`` layout) as ``uint64`` words."""
    p = np.ascontiguousarray(packed, dtype=np.uint8)
    if p.ndim != 2:
        raise InvalidArgumentError("a packed matrix must be two-dimensional")
    pad = 8 if p.shape[1] == 0 else (-p.shape[1]) % 8
    if pad:
        p = np.concatenate([p, np.zeros((p.shape[0], pad), dtype=np.uint8)], axis=1)
    return p.view("<u8")


def unpack_rows(words: np.ndarray, columns: int) -> np.ndarray:
    """Inverse of :func:`pack_rows`: the first ``columns`` bits of every row as booleans."""
    w = np.ascontiguousarray(words, dtype="<u8")
    return np.unpackbits(w.view(np.uint8), axis=1, bitorder="little", count=columns).astype(bool)


@dataclass(frozen=True)
class Echelon:
    """Reduced row echelon form of a GF(2) matrix.

    Attributes:
        rows: the ``rank`` non-zero reduced rows, booleans ``(rank, columns)``.
        pivots: the pivot column of each row, increasing.
        columns: the number of columns.
    """

    rows: np.ndarray
    pivots: tuple[int, ...]
    columns: int

    @property
    def rank(self) -> int:
        return len(self.pivots)


def row_reduce_packed(words: np.ndarray, columns: int, *, pivot_columns: int | None = None) -> Echelon:
    """Gauss–Jordan elimination of a packed matrix (see the module docstring for the layout).

    Args:
        words: ``(r, words_for(columns))`` uint64 words; not modified.
        columns: the number of meaningful bits per row.
        pivot_columns: look for pivots only among the first this many columns
            (default: all). The remaining columns are carried along, which
            records how each reduced row was combined.

    Returns:
        The reduced rows and their pivots. With ``pivot_columns`` set, rows
        whose first ``pivot_columns`` bits are all zero are returned after the
        pivot rows (their "pivot" is the column they would have had, ``>=
        pivot_columns``), so that nothing is lost.
    """
    m = np.array(words, dtype="<u8", copy=True, order="C")
    if m.ndim != 2 or m.shape[1] != words_for(columns):
        raise InvalidArgumentError(f"expected {words_for(columns)} words per row, got shape {m.shape}")
    r = m.shape[0]
    limit = columns if pivot_columns is None else min(pivot_columns, columns)
    rank = 0
    pivots: list[int] = []
    for j in range(limit):
        if rank == r:
            break
        w, b = divmod(j, 64)
        shift = np.uint64(b)
        below = np.flatnonzero((m[rank:, w] >> shift) & _ONE)
        if below.size == 0:
            continue
        p = rank + int(below[0])
        if p != rank:
            m[[rank, p]] = m[[p, rank]]
        hit = ((m[:, w] >> shift) & _ONE).astype(bool)
        hit[rank] = False
        # the pivot row is zero left of column j, so only words w.. change
        m[hit, w:] ^= m[rank, w:]
        pivots.append(j)
        rank += 1
    rows = unpack_rows(m[:rank], columns)
    if pivot_columns is not None and rank < r:
        rest = unpack_rows(m[rank:], columns)
        keep = rest.any(axis=1)
        rest = rest[keep]
        if rest.size:
            tail = row_reduce(rest)
            rows = np.concatenate([rows, tail.rows])
            pivots.extend(tail.pivots)
    return Echelon(rows=rows, pivots=tuple(pivots), columns=columns)


def row_reduce(bits: np.ndarray, *, pivot_columns: int | None = None) -> Echelon:
    """Reduced row echelon form of a boolean matrix (see :func:`row_reduce_packed`).

    Examples:
        >>> e = row_reduce(np.array([[0, 1, 1], [0, 1, 0]], dtype=bool))
        >>> e.rows.astype(int).tolist(), e.pivots
        ([[0, 1, 0], [0, 0, 1]], (1, 2))
    """
    b = _as_bool_matrix(bits)
    return row_reduce_packed(pack_rows(b), b.shape[1], pivot_columns=pivot_columns)


def rank(bits: np.ndarray) -> int:
    """Rank over GF(2) of a boolean matrix."""
    return row_reduce(bits).rank


def nullspace_packed(words: np.ndarray, columns: int) -> np.ndarray:
    """A basis of ``{a : M a = 0}`` for a packed ``M``: booleans ``(columns - rank, columns)``."""
    e = row_reduce_packed(words, columns)
    is_free = np.ones(columns, dtype=bool)
    is_free[list(e.pivots)] = False
    free = np.flatnonzero(is_free)
    basis = np.zeros((free.size, columns), dtype=bool)
    basis[np.arange(free.size), free] = True
    if e.rank:
        basis[:, list(e.pivots)] = e.rows[:, free].T
    return basis


def nullspace(bits: np.ndarray) -> np.ndarray:
    """A basis (rows) of the right null space ``{a : M a = 0}`` of a boolean matrix."""
    b = _as_bool_matrix(bits)
    return nullspace_packed(pack_rows(b), b.shape[1])


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Matrix product over GF(2) of two boolean matrices."""
    a = _as_bool_matrix(a)
    b = _as_bool_matrix(b)
    if a.shape[1] != b.shape[0]:
        raise InvalidArgumentError(f"cannot multiply {a.shape} by {b.shape}")
    # exact: the integer sums are at most a.shape[1] < 2^31
    return (a.astype(np.int32) @ b.astype(np.int32)) % 2 == 1


def _as_bool_matrix(bits: np.ndarray) -> np.ndarray:
    b = np.asarray(bits)
    if b.ndim != 2:
        raise InvalidArgumentError(f"a GF(2) matrix must be two-dimensional, got shape {b.shape}")
    if b.dtype != bool:
        if b.size and not np.isin(b, (0, 1)).all():
            raise InvalidArgumentError("a GF(2) matrix may only hold 0 and 1")
        b = b.astype(bool)
    return b
