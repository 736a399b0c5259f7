"""``CoreFrame``: the public, documented representation of a :class:`~qclone.sim.core.CoreState`.

The state of ``m`` qubits is ``ρ = C · Φ(Σ_t M_t ⊗ |0…0⟩⟨0…0|) · C†`` (see
:mod:`qclone.sim.core.state`). A frame holds exactly that, and nothing else:

* ``core_qubits`` — the k qubits the dense core was loaded on (core position
  i holds qubit ``core_qubits[i]``); ``core_pos[q]`` is q's core position or −1.
* ``terms`` — the core operators M_t: one state vector (shape ``(2^k,)``) or
  one or more operators (``(2^k, 2^k)``); several only after a measurement
  met correlated noise, each with its own noise sign pattern.
* ``blocks`` — the Clifford C as independent :class:`~qclone.sim.core.blocks.Block`
  tableaux of connected qubits, keyed by block id; each block also carries its
  Pauli noise events (frames, probabilities, per-term sign patterns).
  ``block_of[q]`` is q's block id (−1: no gate touched q yet, so q is |0⟩ or
  an untouched core qubit) and ``local[q]`` its index inside that block.

The state's operations (:mod:`.state`) change a frame; the readers — reduced
density matrices (:mod:`.reduced`), leakage structure (:mod:`.information`)
and the byte format (:mod:`.serialize`) — read one. None of them imports the
state class, so there is no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qclone.sim.core.blocks import Block

#: Most core (input) qubits: the core is dense (a 2^12 vector, or a 2^12 x 2^12 operator = 256 MiB).
MAX_CORE_QUBITS = 12
#: Most qubits in a reduced density matrix (4^12 entries = 256 MiB).
MAX_RDM_QUBITS = 12


@dataclass(eq=False)
class CoreFrame:
    """The representation of a core state (see the module doc for every field)."""

    num_qubits: int
    core_qubits: np.ndarray
    terms: list[np.ndarray]
    blocks: dict[int, Block] = field(default_factory=dict)
    core_pos: np.ndarray = field(init=False)
    block_of: np.ndarray = field(init=False)
    local: np.ndarray = field(init=False)
    #: the id the next block gets (ids are never reused)
    next_id: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.num_qubits = int(self.num_qubits)
        self.core_qubits = np.asarray(self.core_qubits, dtype=np.int64)
        self.core_pos = np.full(self.num_qubits, -1, dtype=np.int64)
        self.core_pos[self.core_qubits] = np.arange(self.core_qubits.size)
        self.block_of = np.full(self.num_qubits, -1, dtype=np.int64)
        self.local = np.zeros(self.num_qubits, dtype=np.int64)
        blocks, self.blocks = self.blocks, {}
        for b in blocks.values():
            self.add_block(b)

    @property
    def num_core_qubits(self) -> int:
        return int(self.core_qubits.size)

    def add_block(self, block: Block) -> int:
        """Register ``block`` (its qubits must not be in another block); returns its id."""
        bid = self.next_id
        self.next_id += 1
        self.blocks[bid] = block
        self.block_of[block.qubits] = bid
        self.local[block.qubits] = np.arange(block.size)
        return bid

    def new_block(self, qubits: np.ndarray) -> Block:
        """A fresh block (identity Clifford, no noise) on ``qubits``."""
        qubits = np.asarray(qubits, dtype=np.int64)
        pos = self.core_pos[qubits]
        local = np.flatnonzero(pos >= 0)
        b = Block(qubits, local, pos[local], len(self.terms))
        self.add_block(b)
        return b

    def ensure_blocks(self, qubits: np.ndarray) -> None:
        """Give every qubit of ``qubits`` that is in no block a block of its own."""
        for q in np.unique(qubits[self.block_of[qubits] < 0]).tolist():
            self.new_block(np.array([q]))

    def block(self, qubit: int) -> Block:
        """The block of ``qubit`` (which must be in one)."""
        return self.blocks[int(self.block_of[qubit])]

    def copy(self) -> CoreFrame:
        """An independent copy (blocks, noise and core)."""
        out = CoreFrame.__new__(CoreFrame)
        out.num_qubits = self.num_qubits
        out.core_qubits = self.core_qubits.copy()
        out.core_pos = self.core_pos.copy()
        out.terms = [t.copy() for t in self.terms]
        out.blocks = {i: b.copy() for i, b in self.blocks.items()}
        out.block_of = self.block_of.copy()
        out.local = self.local.copy()
        out.next_id = self.next_id
        return out


__all__ = ["MAX_CORE_QUBITS", "MAX_RDM_QUBITS", "CoreFrame"]
