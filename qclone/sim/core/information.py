"""What a set of qubits of a :class:`~qclone.sim.core.CoreState` can learn about the core input.

Exact F2 linear algebra, for sets of any size (noise is not included). A core
Pauli L is *available* on a set Q when some Pauli supported on Q pulls back to
±L ⊗ (Z's on |0⟩ qubits): then ⟨L⟩ of the input can be read from Q. The
available Paulis form a subspace of the core's Pauli space; ``pairs`` counts
its symplectic pairs (core qubits fully available) and ``dephased`` the
isolated directions (one Bloch component each). With a reference maximally
entangled with the core, the mutual information is I(R : Q) = 2·pairs +
dephased bits (tests check this against the dense engine).

The set is *authorized* when every core Pauli is available (pairs = k),
*non-informative* when none is, *partially informative* otherwise: the
classification of the leakage papers.

Cost: per block of m_b qubits holding q_b qubits of the set, a Gauss–Jordan
elimination of 2·q_b bit-packed rows, at most O(q_b² · m_b / 64) word
operations (far less for the sparse rows of the protocol circuits).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from qclone.sim import gf2
from qclone.sim.core.bits import pack, unpack, words_for
from qclone.sim.core.blocks import Block
from qclone.sim.core.frame import CoreFrame

#: Rows unpacked at a time when compressing columns.
_CHUNK = 2048


@dataclass(frozen=True)
class CoreInformation:
    """The leakage structure of a set of qubits (noise-free)."""

    set_size: int
    core_qubits: int
    pairs: int
    dephased: int
    basis: tuple[str, ...]
    leaked: tuple[str, ...]

    @property
    def bits(self) -> int:
        """I(R : set) in bits for a reference R maximally entangled with the core."""
        return 2 * self.pairs + self.dephased

    @property
    def kind(self) -> str:
        """``"authorized"``, ``"partial"`` or ``"none"``."""
        if self.core_qubits and self.pairs == self.core_qubits:
            return "authorized"
        return "none" if self.bits == 0 else "partial"

    def to_dict(self) -> dict[str, Any]:
        return {
            "set_size": self.set_size, "kind": self.kind, "bits": self.bits, "pairs": self.pairs,
            "dephased": self.dephased, "basis": list(self.basis), "leaked": list(self.leaked),
        }


def _letters(v: np.ndarray, k: int) -> str:
    x, z = v[:k], v[k:]
    return "".join("_XZY"[int(a) + 2 * int(b)] for a, b in zip(x, z))


def _compress_columns(restx: np.ndarray, bits: int) -> np.ndarray:
    """Keep only the columns that are nonzero in some row (packed in, packed out)."""
    used = np.bitwise_or.reduce(restx, axis=0) if restx.shape[0] else np.zeros(restx.shape[1], np.uint64)
    cols = np.flatnonzero(unpack(used[None, :], bits)[0])
    out = np.zeros((restx.shape[0], words_for(cols.size)), dtype=np.uint64)
    for start in range(0, restx.shape[0], _CHUNK):
        part = unpack(restx[start : start + _CHUNK], bits)[:, cols]
        out[start : start + _CHUNK] = pack(part)
    return out


def _block_vectors(frame: CoreFrame, b: Block, locals_: np.ndarray) -> np.ndarray:
    """Core Paulis (2k bits, global core order) available from the block's part of the set."""
    k = frame.num_core_qubits
    m = b.size
    fx, fzc = b.frames(locals_)  # (q_b, 2, words), (q_b, 2, k_b): rows X_t then Z_t of each qubit
    fx = fx.reshape(-1, fx.shape[-1])
    word, bit = b.core_local // 64, (b.core_local % 64).astype(np.uint64)
    xbits_core = ((fx[:, word] >> bit) & np.uint64(1)).astype(bool)
    zbits_core = fzc.reshape(-1, fzc.shape[-1])
    restx = fx & pack(b.rest_mask())[None, :]
    payload = np.zeros((restx.shape[0], 2 * k), dtype=bool)
    payload[:, b.core_index] = xbits_core
    payload[:, k + b.core_index] = zbits_core
    # eliminate the X bits on |0⟩ qubits; rows left without any carry the available core Paulis
    compressed = _compress_columns(restx, m)
    width = 64 * compressed.shape[1]
    ech = gf2.row_reduce_packed(np.concatenate([compressed, pack(payload)], axis=1), width + 2 * k, pivot_columns=width)
    return np.array([row[width:] for row, piv in zip(ech.rows, ech.pivots) if piv >= width], dtype=bool).reshape(-1, 2 * k)


def information(frame: CoreFrame, qs: np.ndarray) -> CoreInformation:
    """The leakage structure of the qubits ``qs`` (valid indices) of the state ``frame`` represents."""
    k = frame.num_core_qubits
    qs = np.unique(qs)
    vectors = [np.zeros((0, 2 * k), dtype=bool)]
    if qs.size and k:
        frame.ensure_blocks(qs)
        bids = frame.block_of[qs]
        for bid in np.unique(bids).tolist():
            b = frame.blocks[int(bid)]
            if not b.core_local.size:
                continue  # a block without core qubits carries nothing about the input
            b.flush()
            vectors.append(_block_vectors(frame, b, np.sort(frame.local[qs[bids == bid]])))
    basis = gf2.row_reduce(np.concatenate(vectors)).rows if k else np.zeros((0, 0), dtype=bool)
    dim = basis.shape[0]
    # the symplectic Gram matrix's rank counts the paired directions
    srank = gf2.rank(gf2.matmul(basis, np.concatenate([basis[:, k:], basis[:, :k]], axis=1).T)) if dim else 0
    names = tuple(_letters(v, k) for v in basis)
    if dim <= 6:
        span = {_letters(np.bitwise_xor.reduce(basis[list(np.flatnonzero(c))], axis=0), k)
                for c in product([0, 1], repeat=dim) if any(c)}
        leaked = tuple(sorted(span))
    else:
        leaked = names
    return CoreInformation(int(qs.size), k, srank // 2, dim - srank, names, leaked)
