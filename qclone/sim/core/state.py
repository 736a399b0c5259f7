"""``CoreState``: a Clifford applied to a small dense core and |0…0⟩, exact at any size.

The state of ``m`` qubits is

    ρ = C · Φ(ρ_core ⊗ |0…0⟩⟨0…0|) · C†

where ``ρ_core`` is an arbitrary state of the k *core* qubits (the input, k ≤
12, kept dense), every other qubit starts in |0⟩, ``C`` is a Clifford kept as
stim tableaux (one per block of connected qubits, see :mod:`.blocks`), and
``Φ`` is the Pauli noise recorded so far. Everything is exact; nothing is
sampled except the outcome of :meth:`CoreState.measure_pauli`.

How each operation works (P' = C⁻¹ P C is the *pull-back* of a Pauli P):

* **Gates** update ``C`` (stim, O(m_b/64) per gate).
* **Expectations**: ⟨P⟩ = 0 if P' has an X or Y on a |0⟩ qubit; otherwise
  P' = ω·L ⊗ Z…Z with L a Pauli on the core, and ⟨P⟩ = ω·tr(ρ_core L) times
  the noise factor below.
* **Pauli noise** ``E`` on qubit t, with probabilities p(E), is pulled back to
  the input frame when it happens: F = C⁻¹ E C (the *frame*). Only the part of
  F that acts on ρ_core ⊗ |0…0⟩ is kept (Z's on |0⟩ qubits do nothing), so a
  noise event that flips |0⟩ qubits is simply a frame with X bits there. The
  noisy state is the mixture Σ_F q(F) C F(ρ_core ⊗ |0…0⟩)F C† over products of
  independent events, never enumerated: a Pauli's expectation is multiplied
  by Π_e f_e(c_e), where c_e says which of the event's frames anticommute with
  P' and f_e is the event's Pauli eigenvalue. Cost: one bit-packed AND per
  event and query; memory ``2·m_b`` bits per event (a noise layer on every
  qubit of a 20001-qubit block is about 100 MB).
* **Measurement of P**. If P' has an X/Y on a |0⟩ qubit r, the outcome s is
  ±1 with probability ½ each and the post-measurement state is again of the
  same form: C ← V·C with V = (g + sP)/√2, g = C Z_r C† (a stabiliser of the
  state that anticommutes with P), applied as a Pauli rotation
  g·exp(iπ/4·(−i g sP)); noise frames F with an X on r become F·P'. If P' =
  ω·L ⊗ Z…Z, the probabilities come from the core and the core is projected.
  When recorded noise anticommutes with P', frames and outcome are
  correlated; the state is then kept *exactly* as a sum of terms
  ``(M_t, σ_t)``: core operators M_t with a sign pattern σ_t on the events
  (term t sees event e with signed weights p_e(μ)(−1)^{μ·σ_te}). Each such
  measurement at most doubles the number of terms; measurements without
  correlated noise never do.
* **Reduced density matrix of q qubits Q** (q ≤ 12): the Paulis on Q whose
  pull-back has no X on a |0⟩ qubit form a group K (GF(2) elimination on the
  pulled-back rows). K splits into stabilisers (acting trivially on the
  core), pairs (X̄, Z̄) and isolated Z̄'s whose pull-backs generate a subspace
  of core Paulis. Two small Cliffords follow: W on Q and V on the core, with
  ρ_Q = W·[|0⟩⟨0|^a ⊗ D(tr_rest(V† ρ_core V)) ⊗ I/2^f]·W† (D dephases the
  isolated qubits). The noise becomes a Pauli channel on the bracket, applied
  exactly. Cost O(q²·4^q) dense work plus O(q²·m_b/64) for the elimination.
* :meth:`CoreState.information` gives, for a set of any size, how much it can
  learn about the input (the leakage structure, F2 linear algebra only).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import stim
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from qclone.errors import InvalidArgumentError, TooLargeError, UnsupportedError, is_int
from qclone.protocol.circuit import Circuit
from qclone.sim.core import dense
from qclone.sim.core.bits import pack, place_bits
from qclone.sim.core.blocks import Block
from qclone.sim.core.frame import MAX_CORE_QUBITS, MAX_RDM_QUBITS, CoreFrame
from qclone.sim.core.information import CoreInformation, information
from qclone.sim.core.reduced import reduced_density_matrix
from qclone.sim.core.serialize import dump, load
from qclone.sim.exact import check_density_matrix, listed_order, von_neumann_entropy

#: Most qubits one block of connected qubits may have: a stim tableau needs m²/2 bytes, and a
#: query copies it once, so 100 000 qubits peak near 15 GB (the machine has 24 GiB).
MAX_BLOCK_QUBITS = 100_000
#: Terms whose core operator is smaller than this (Frobenius norm) are dropped.
_ZERO = 1e-14


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise InvalidArgumentError("measure_pauli needs a numpy Generator, e.g. numpy.random.default_rng(seed)")
    return rng


def estimated_block_bytes(block_qubits: int) -> int:
    """Memory of one block's stim tableau (about m²/2 bytes; a query needs a second copy)."""
    return 4 * block_qubits * block_qubits // 8


class CoreState:
    """A Clifford applied to a dense k-qubit core (k ≤ 12) and |0…0⟩, with exact Pauli noise.

    Create one with :meth:`from_input`. Qubit indices are global (``0 ..
    num_qubits - 1``); matrices use the convention of :mod:`qclone.sim.exact`
    (first listed qubit = most significant bit).

    Examples:
        >>> import numpy as np
        >>> from qclone.protocol import Layout, protocol_circuit
        >>> lay = Layout(500, qubits=2)
        >>> ghz = np.array([1, 0, 0, 1]) / np.sqrt(2)
        >>> st = CoreState.from_input(lay.num_qubits, ghz, lay.inputs)
        >>> st.apply(protocol_circuit(lay, decrypt=321))
        >>> rho = st.reduced_density_matrix(lay.clone(321))
        >>> round(float(np.real(ghz.conj() @ rho @ ghz)), 12)
        1.0
        >>> st.expectation("Z" + "_" * (lay.num_qubits - 1))   # A_0 holds nothing any more
        0.0
    """

    def __init__(self, frame: CoreFrame) -> None:
        #: The representation (:class:`~qclone.sim.core.frame.CoreFrame`): what readers of the state use.
        self.frame = frame

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_input(cls, num_qubits: int, input_state: np.ndarray, input_qubits: Sequence[int]) -> CoreState:
        """``input_state`` on ``input_qubits`` (first listed = most significant), |0⟩ on every other qubit.

        Args:
            num_qubits: total number of qubits (any size; memory grows with the
                blocks that gates create, see :data:`MAX_BLOCK_QUBITS`).
            input_state: a state vector of shape (2^k,) or a density matrix (2^k, 2^k), k ≤ 12, the
                first input qubit the most significant bit; or a Qiskit ``Statevector`` /
                ``DensityMatrix``, whose qubit i goes on ``input_qubits[i]``.
            input_qubits: the k qubits that hold it.

        Raises:
            InvalidArgumentError: for a malformed or unnormalised state or bad qubits.
            TooLargeError: for k > :data:`MAX_CORE_QUBITS`.
        """
        if not is_int(num_qubits) or num_qubits < 1:
            raise InvalidArgumentError(f"num_qubits must be an integer >= 1, got {num_qubits!r}")
        qs = np.asarray(list(input_qubits), dtype=np.int64)
        if qs.size != np.unique(qs).size:
            raise InvalidArgumentError(f"repeated input qubit in {qs.tolist()}")
        if qs.size and (qs.min() < 0 or qs.max() >= num_qubits):
            raise InvalidArgumentError(f"input qubits must be in 0..{num_qubits - 1}, got {qs.tolist()}")
        k = qs.size
        if k > MAX_CORE_QUBITS:
            raise TooLargeError(f"the dense core holds at most {MAX_CORE_QUBITS} input qubits, got {k}")
        state = listed_order(input_state)  # a Qiskit Statevector/DensityMatrix: qubit i on input_qubits[i]
        if state.ndim == 1:
            if state.shape != (2**k,):
                raise InvalidArgumentError(f"a state vector of {k} qubits has {2**k} amplitudes, got {state.shape[0]}")
            norm = np.linalg.norm(state)
            if not np.isfinite(norm) or abs(norm - 1) > 1e-8:
                raise InvalidArgumentError(f"the input state vector must have norm 1, got {norm:.6g}")
            core = state / norm
        elif state.ndim == 2:
            if state.shape != (2**k, 2**k):
                raise InvalidArgumentError(f"a density matrix of {k} qubits is {2**k} x {2**k}, got {state.shape}")
            check_density_matrix(state)
            core = state
        else:
            raise InvalidArgumentError("input_state must be a state vector or a density matrix")
        frame = CoreFrame(int(num_qubits), qs, [core.copy()])
        for q in qs.tolist():
            frame.new_block(np.array([q]))
        return cls(frame)

    def copy(self) -> CoreState:
        """An independent copy (blocks, noise and core)."""
        return CoreState(self.frame.copy())

    # ------------------------------------------------------------------ introspection
    @property
    def num_qubits(self) -> int:
        return self.frame.num_qubits

    @property
    def core_qubits(self) -> tuple[int, ...]:
        """The qubits the dense core was loaded on (in core order)."""
        return tuple(self.frame.core_qubits.tolist())

    @property
    def num_terms(self) -> int:
        """How many (core operator, noise signs) terms represent the state (1 unless noise met a measurement)."""
        return len(self.frame.terms)

    @property
    def num_noise_events(self) -> int:
        return sum(b.num_events + len(b.pending) for b in self.frame.blocks.values())

    @property
    def block_sizes(self) -> tuple[int, ...]:
        """Sizes of the blocks of connected qubits (qubits no gate touched are not listed)."""
        return tuple(sorted((b.size for b in self.frame.blocks.values()), reverse=True))

    def __repr__(self) -> str:
        return (f"CoreState(num_qubits={self.frame.num_qubits}, core={len(self.frame.core_qubits)}, "
                f"blocks={len(self.frame.blocks)}, terms={self.num_terms}, noise_events={self.num_noise_events})")

    # ------------------------------------------------------------------ blocks
    def _merge(self, block_ids: Sequence[int], trivial: np.ndarray) -> int:
        """Merge blocks (and qubits no gate touched yet) into one block; returns its id."""
        members = sorted({int(b) for b in block_ids}, key=lambda b: -self.frame.blocks[b].size)
        if len(members) == 1 and not trivial.size:
            return members[0]
        blocks = [self.frame.blocks[b] for b in members]
        for b in blocks:
            b.flush()
        total = sum(b.size for b in blocks) + int(trivial.size)
        if total > MAX_BLOCK_QUBITS:
            raise TooLargeError(
                f"a gate connects {total} qubits into one Clifford block; at most {MAX_BLOCK_QUBITS} fit "
                f"(about {estimated_block_bytes(total) / 2**30:.1f} GiB per tableau copy)"
            )
        first = blocks[0] if blocks else None
        qubits = np.concatenate([b.qubits for b in blocks] + [np.asarray(trivial, dtype=np.int64)])
        pos = self.frame.core_pos[qubits]
        core_local = np.flatnonzero(pos >= 0)
        if first is not None:
            first.own_simulator().set_num_qubits(total)
            new = Block(qubits, core_local, pos[core_local], len(self.frame.terms), sim=first.sim,
                        history=first.history, circuit=first.circuit)
        else:
            new = Block(qubits, core_local, pos[core_local], len(self.frame.terms))
        replay: list[tuple[str, np.ndarray]] = []
        offset = 0
        kb_new = core_local.size
        for b in blocks:
            if b is not first:
                replay.extend((name, t + offset) for name, t in b.history)
            if b.num_events:
                fx = place_bits(b.fx, b.size, offset, total)
                fzc = np.zeros((b.num_events, 2, kb_new), dtype=bool)
                cols = np.searchsorted(core_local, b.core_local + offset)
                fzc[:, :, cols] = b.fzc
                new.append_events(fx, fzc, b.probs, b.sigma)
            offset += b.size
        if replay:
            new.run(replay)
        for bid in members:
            del self.frame.blocks[bid]
        return self.frame.add_block(new)

    # ------------------------------------------------------------------ gates
    def apply(self, circuit: Circuit | stim.Circuit) -> None:
        """Apply unitary Clifford gates (a qclone :class:`~qclone.protocol.Circuit` or a ``stim.Circuit``).

        Qubit i of the circuit is qubit i of the state.

        Raises:
            InvalidArgumentError: for a non-unitary instruction or a qubit outside the state.
        """
        instructions = self._instructions(circuit)
        if not instructions:
            return
        touched = np.unique(np.concatenate([t for _, t, _ in instructions]))
        pairs = [t.reshape(-1, 2) for _, t, a in instructions if a == 2 and t.size]
        self._connect(touched, np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64))
        per_block: dict[int, list[tuple[str, np.ndarray]]] = {}
        for name, t, arity in instructions:
            if not t.size:
                continue
            lead = t[::arity]
            bids = self.frame.block_of[lead]
            if bids.size and np.all(bids == bids[0]):
                per_block.setdefault(int(bids[0]), []).append((name, self.frame.local[t]))
                continue
            order = np.argsort(bids, kind="stable")
            groups = t.reshape(-1, arity)[order]
            sorted_ids = bids[order]
            cuts = np.flatnonzero(np.diff(sorted_ids)) + 1
            for chunk, ids in zip(np.split(groups, cuts), np.split(sorted_ids, cuts)):
                per_block.setdefault(int(ids[0]), []).append((name, self.frame.local[chunk.ravel()]))
        for bid, items in per_block.items():
            self.frame.blocks[bid].run(items)

    def _instructions(self, circuit: Circuit | stim.Circuit) -> list[tuple[str, np.ndarray, int]]:
        out: list[tuple[str, np.ndarray, int]] = []
        if isinstance(circuit, Circuit):
            for ins in circuit.instructions:
                out.append((ins.name, ins.targets, ins.arity))
        elif isinstance(circuit, stim.Circuit):
            for ins in circuit.flattened():
                gd = stim.gate_data(ins.name)
                if not gd.is_unitary:
                    raise InvalidArgumentError(
                        f"CoreState.apply takes unitary Clifford gates only, got {ins.name}; "
                        "use apply_pauli_channel for noise and measure_pauli for measurements"
                    )
                tg = ins.targets_copy()
                if not all(x.is_qubit_target for x in tg):
                    raise InvalidArgumentError(f"{ins.name}: only plain qubit targets are supported")
                out.append((gd.name, np.array([x.value for x in tg], dtype=np.int64), 2 if gd.is_two_qubit_gate else 1))
        else:
            raise InvalidArgumentError(f"apply takes a qclone Circuit or a stim.Circuit, got {type(circuit).__name__}")
        for name, t, _ in out:
            if t.size and (t.min() < 0 or t.max() >= self.frame.num_qubits):
                raise InvalidArgumentError(f"{name} targets a qubit outside 0..{self.frame.num_qubits - 1}")
        return out

    def _connect(self, touched: np.ndarray, pairs: np.ndarray) -> None:
        """Merge blocks so that every touched qubit and every gate pair lie in one block each."""
        bids = self.frame.block_of[touched]
        if pairs.size == 0 and np.all(bids >= 0):
            return
        # graph nodes: existing blocks by id, untouched qubits as their own node
        base = self.frame.next_id
        node_of = np.where(self.frame.block_of[touched] >= 0, self.frame.block_of[touched], base + touched)
        nodes, inverse = np.unique(node_of, return_inverse=True)
        # touched is sorted (np.unique), so a qubit's node is found by binary search
        a = inverse[np.searchsorted(touched, pairs[:, 0])]
        b = inverse[np.searchsorted(touched, pairs[:, 1])]
        graph = coo_matrix((np.ones(a.size), (a, b)), shape=(nodes.size, nodes.size))
        _, labels = connected_components(graph, directed=False)
        for comp in np.unique(labels):
            members = nodes[labels == comp]
            blocks = [int(x) for x in members if x < base]
            trivial = np.asarray([int(x) - base for x in members if x >= base], dtype=np.int64)
            if len(blocks) == 1 and not trivial.size:
                continue
            if not blocks and trivial.size == 1:
                self.frame.new_block(trivial)
                continue
            self._merge(blocks, trivial)

    # ------------------------------------------------------------------ noise
    def apply_pauli_channel(self, qubit: int, px: float, py: float, pz: float) -> None:
        """Apply X, Y, Z to ``qubit`` with probabilities px, py, pz (exactly: the mixture is kept, not sampled).

        Raises:
            InvalidArgumentError: for a bad qubit or probabilities outside [0, 1] or summing above 1.
        """
        q = self._check_qubit(qubit)
        p = np.array([px, py, pz], dtype=float)
        if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() > 1 + 1e-12:
            raise InvalidArgumentError(f"Pauli channel probabilities must be >= 0 and sum to <= 1, got {tuple(p)}")
        if not p.any():
            return
        if self.frame.block_of[q] < 0:
            self.frame.new_block(np.array([q]))
        b = self.frame.blocks[int(self.frame.block_of[q])]
        b.add_noise(int(self.frame.local[q]), np.array([max(0.0, 1 - p.sum()), *p]))

    def apply_depolarizing(self, qubits: Sequence[int], p: float) -> None:
        """Depolarising noise of strength ``p`` (X, Y, Z each with p/3) on every listed qubit."""
        for q in qubits:
            self.apply_pauli_channel(int(q), p / 3, p / 3, p / 3)

    # ------------------------------------------------------------------ Paulis
    def _check_qubit(self, q: object) -> int:
        if not is_int(q) or not 0 <= q < self.frame.num_qubits:
            raise InvalidArgumentError(f"qubit must be in 0..{self.frame.num_qubits - 1}, got {q!r}")
        return int(q)

    def _check_qubits(self, qubits: Sequence[int]) -> np.ndarray:
        """``qubits`` as an int64 array, each an integer in range (one vectorised check for sets of any size)."""
        qs = np.asarray(qubits if isinstance(qubits, np.ndarray) else list(qubits))
        if qs.ndim != 1:
            raise InvalidArgumentError("qubits must be a flat sequence of qubit indices")
        if qs.size and qs.dtype.kind not in "iu":  # booleans, floats, strings: the message names the culprit
            return np.asarray([self._check_qubit(q) for q in qs.tolist()], dtype=np.int64)
        qs = qs.astype(np.int64)
        if qs.size and (qs.min() < 0 or qs.max() >= self.frame.num_qubits):
            bad = qs[(qs < 0) | (qs >= self.frame.num_qubits)][0]
            raise InvalidArgumentError(f"qubit must be in 0..{self.frame.num_qubits - 1}, got {int(bad)}")
        return qs

    def _parse_pauli(self, pauli: str | stim.PauliString) -> tuple[int, np.ndarray, np.ndarray]:
        """(sign, qubits, letters 1=X 2=Y 3=Z) of a Hermitian Pauli."""
        if isinstance(pauli, str):
            text = pauli.strip()
            if any(ch.isdigit() for ch in text):
                text = "*".join(text.replace("*", " ").split())
            try:
                ps = stim.PauliString(text)
            except ValueError as e:
                raise InvalidArgumentError(f"not a Pauli string: {pauli!r} ({' '.join(str(e).split())})") from None
        elif isinstance(pauli, stim.PauliString):
            ps = pauli
        else:
            raise InvalidArgumentError(f"a Pauli must be a string or stim.PauliString, got {type(pauli).__name__}")
        if ps.sign not in (1, -1):
            raise InvalidArgumentError(f"the Pauli must be Hermitian (sign +1 or -1), got sign {ps.sign}")
        if len(ps) > self.frame.num_qubits:
            raise InvalidArgumentError(f"Pauli on {len(ps)} qubits for a state of {self.frame.num_qubits}")
        x, z = ps.to_numpy()
        qubits = np.flatnonzero(x | z)
        letters = np.where(x[qubits] & z[qubits], 2, np.where(x[qubits], 1, 3))
        return int(ps.sign.real), qubits.astype(np.int64), letters

    def _pullback(self, qubits: np.ndarray, letters: np.ndarray) -> dict[int, stim.PauliString]:
        """C⁻¹ P C per involved block (block-local strings, signs included)."""
        self.frame.ensure_blocks(qubits)
        out: dict[int, stim.PauliString] = {}
        names = "IXYZ"
        for q, letter in zip(qubits.tolist(), letters.tolist()):
            bid = int(self.frame.block_of[q])
            b = self.frame.blocks[bid]
            if bid not in out:
                b.flush()
                out[bid] = stim.PauliString(b.size)
            out[bid] *= b.pull(int(self.frame.local[q]), names[letter])
        return out

    def _core_part(self, pulled: dict[int, stim.PauliString]) -> tuple[bool, int, np.ndarray, np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
        """(has X on a |0⟩ qubit, sign, core x bits, core z bits, per-block (x, z) bits)."""
        k = self.frame.core_qubits.size
        lx, lz = np.zeros(k, dtype=bool), np.zeros(k, dtype=bool)
        sign = 1
        random = False
        bits = {}
        for bid, ps in pulled.items():
            b = self.frame.blocks[bid]
            x, z = ps.to_numpy()
            bits[bid] = (x, z)
            if np.any(x & b.rest_mask()):
                random = True
            lx[b.core_index] = x[b.core_local]
            lz[b.core_index] = z[b.core_local]
            sign *= int(ps.sign.real)
        return random, sign, lx, lz, bits

    def _event_factors(self, chis: dict[int, np.ndarray]) -> np.ndarray:
        """Per-term noise factor of a Pauli whose pull-back anticommutes with frames as in ``chis``."""
        out = np.ones(len(self.frame.terms))
        for bid, b in self.frame.blocks.items():
            out *= b.noise_factors(chis.get(bid))
        return out

    def expectation(self, pauli: str | stim.PauliString) -> float:
        """⟨P⟩ for a Hermitian Pauli (``"XZ_Y"``, ``"X3*Z7"``, ``"-Y0"`` or a ``stim.PauliString``)."""
        sign, qubits, letters = self._parse_pauli(pauli)
        if not qubits.size:
            return float(sign)
        random, s, lx, lz, bits = self._core_part(self._pullback(qubits, letters))
        if random:
            return 0.0
        chis = {bid: self.frame.blocks[bid].commutation(x, z) for bid, (x, z) in bits.items()}
        factors = self._event_factors(chis)
        value = sum(f * dense.expectation(m, lx, lz).real for f, m in zip(factors, self.frame.terms))
        return float(sign * s * value)

    def measure_pauli(self, pauli: str | stim.PauliString, rng: np.random.Generator) -> int:
        """Measure a Hermitian Pauli; returns its eigenvalue ±1 and collapses the state.

        Probabilities are exact (noise included); post-measurement states are exact.
        """
        rng = _check_rng(rng)
        sign, qubits, letters = self._parse_pauli(pauli)
        if not qubits.size:
            return sign
        pulled = self._pullback(qubits, letters)
        random, s, lx, lz, bits = self._core_part(pulled)
        if random:
            return self._measure_random(sign, qubits, letters, rng)
        omega = sign * s
        chis = {bid: self.frame.blocks[bid].commutation(x, z) for bid, (x, z) in bits.items()}
        factors = self._event_factors(chis)
        value = sum(f * dense.expectation(m, lx, lz).real for f, m in zip(factors, self.frame.terms))
        p_plus = min(1.0, max(0.0, 0.5 * (1 + omega * value)))
        outcome = 1 if rng.random() < p_plus else -1
        prob = p_plus if outcome == 1 else 1 - p_plus
        if prob <= 0:
            raise UnsupportedError("internal: sampled an outcome of probability 0")
        proj_sign = outcome * omega
        correlated = any(c.any() for c in chis.values())
        if not correlated:
            if len(self.frame.terms) == 1 and self.frame.terms[0].ndim == 1:
                v = dense.project(self.frame.terms[0], lx, lz, proj_sign)
                self.frame.terms = [v / np.linalg.norm(v)]
            else:
                self.frame.terms = [dense.project(m, lx, lz, proj_sign) / prob for m in self.frame.terms]
            return outcome
        self._split_terms(lx, lz, proj_sign, prob, chis)
        return outcome

    def _split_terms(self, lx: np.ndarray, lz: np.ndarray, proj_sign: int, prob: float, chis: dict[int, np.ndarray]) -> None:
        """Post-measurement terms when the outcome is correlated with recorded noise (see module doc)."""
        new_terms: list[np.ndarray] = []
        new_sigma: dict[int, list[np.ndarray]] = {bid: [] for bid in self.frame.blocks}
        for t, m in enumerate(self.frame.terms):
            op = dense.as_operator(m)
            keep = dense.project(op, lx, lz, proj_sign)
            other = dense.project(op, lx, lz, -proj_sign)
            for part, flip in (((keep + other) / (2 * prob), False), ((keep - other) / (2 * prob), True)):
                new_terms.append(part)
                for bid, b in self.frame.blocks.items():
                    sig = b.sigma[t]
                    if flip and bid in chis:
                        sig = sig ^ chis[bid]
                    new_sigma[bid].append(sig)
        # merge terms with identical sign patterns, drop vanishing ones
        keys: dict[bytes, int] = {}
        merged: list[np.ndarray] = []
        rows: list[int] = []
        for t, part in enumerate(new_terms):
            key = b"".join(np.packbits(new_sigma[bid][t]).tobytes() for bid in sorted(self.frame.blocks))
            if key in keys:
                merged[keys[key]] = merged[keys[key]] + part
            else:
                keys[key] = len(merged)
                merged.append(part)
                rows.append(t)
        alive = [i for i, m in enumerate(merged) if np.linalg.norm(m) > _ZERO]
        self.frame.terms = [merged[i] for i in alive]
        for bid, b in self.frame.blocks.items():
            b.sigma = np.stack([new_sigma[bid][rows[i]] for i in alive]) if alive else np.zeros((0, b.num_events, 2), bool)

    def _measure_random(self, sign: int, qubits: np.ndarray, letters: np.ndarray, rng: np.random.Generator) -> int:
        """Outcome ±1 with probability ½; C ← V C with V = (g + sP)/√2 (module doc)."""
        bids = np.unique(self.frame.block_of[qubits])
        bid = self._merge(bids.tolist(), np.zeros(0, dtype=np.int64)) if bids.size > 1 else int(bids[0])
        b = self.frame.blocks[bid]
        b.flush()
        local = self.frame.local[qubits]
        names = "IXYZ"
        p_local = stim.PauliString(b.size)
        for q, letter in zip(local.tolist(), letters.tolist()):
            p_local[q] = names[letter]
        pulled = stim.PauliString(b.size)
        for q, letter in zip(local.tolist(), letters.tolist()):
            pulled *= b.pull(q, names[letter])
        px, pz = pulled.to_numpy()
        r = int(np.flatnonzero(px & b.rest_mask())[0])
        outcome = 1 if rng.random() < 0.5 else -1
        g = b.push(r, "Z")
        measured = p_local * (sign * outcome)
        rotation = (g * measured) * (-1j)  # Hermitian: g and P anticommute
        b.run(_rotation_items(rotation) + _pauli_items(g))
        # frames with an X on r pick up P' (module doc); Z bits on |0⟩ qubits are dropped
        if b.num_events:
            word, bit = divmod(r, 64)
            hit = (b.fx[:, :, word] >> np.uint64(bit)) & np.uint64(1)
            hit = hit.astype(bool)
            if hit.any():
                b.fx[hit] ^= pack(px)
                b.fzc[hit] ^= pz[b.core_local]
        return outcome

    # ------------------------------------------------------------------ reduced states
    def reduced_density_matrix(self, qubits: Sequence[int]) -> np.ndarray:
        """ρ of ``qubits`` (in the given order, first = most significant), everything else traced out.

        Raises:
            TooLargeError: for more than :data:`MAX_RDM_QUBITS` qubits.
        """
        qs = self._check_qubits(qubits)
        if qs.size != np.unique(qs).size:
            raise InvalidArgumentError(f"repeated qubit in {qs.tolist()}")
        if qs.size > MAX_RDM_QUBITS:
            raise TooLargeError(
                f"reduced density matrices are computed for at most {MAX_RDM_QUBITS} qubits, got {qs.size}; "
                "use CoreState.information for the leakage of large sets"
            )
        return reduced_density_matrix(self.frame, qs)

    @property
    def is_pure(self) -> bool:
        """Whether the state is known to be pure: a state-vector core and no noise recorded."""
        return len(self.frame.terms) == 1 and self.frame.terms[0].ndim == 1 and self.num_noise_events == 0

    def entropy(self, qubits: Sequence[int]) -> float:
        """Von Neumann entropy (bits) of ``qubits``.

        A pure state has S(Q) = S(everything else), so it is computed on the smaller side of the cut
        (a set of any size whose complement holds at most :data:`MAX_RDM_QUBITS` qubits is answered).
        """
        if not len(qubits):
            return 0.0
        if self.is_pure:
            qs = self._check_qubits(qubits)
            if qs.size != np.unique(qs).size:
                raise InvalidArgumentError(f"repeated qubit in {qs.tolist()}")
            if 2 * qs.size > self.frame.num_qubits:
                rest = np.setdiff1d(np.arange(self.frame.num_qubits), qs)
                return von_neumann_entropy(self.reduced_density_matrix(rest.tolist())) if rest.size else 0.0
        return von_neumann_entropy(self.reduced_density_matrix(qubits))

    def mutual_information(self, a: Sequence[int], b: Sequence[int]) -> float:
        """I(a : b) = S(a) + S(b) − S(ab) in bits (each entropy as :meth:`entropy` computes it)."""
        return self.entropy(a) + self.entropy(b) - self.entropy(list(a) + list(b))

    def information(self, qubits: Sequence[int]) -> CoreInformation:
        """What a set of any size can learn about the core input (noise ignored); see :mod:`.information`."""
        return information(self.frame, self._check_qubits(qubits))

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        """A safe, versioned binary form (no pickle); see :mod:`qclone.sim.core.serialize`."""
        return dump(self.frame)

    @classmethod
    def from_bytes(cls, data: bytes) -> CoreState:
        """Rebuild a state written by :meth:`to_bytes`.

        Raises:
            InvalidArgumentError: if the data is not a valid core state of a supported version.
        """
        return cls(load(data))


class CoreEngine:
    """The Clifford + dense core engine behind the common :class:`~qclone.sim.engine.Engine` interface.

    Examples:
        >>> from qclone.protocol import Layout, protocol_circuit
        >>> lay = Layout(100)
        >>> st = CoreEngine().prepare(lay.num_qubits, np.array([0, 1]), [lay.A()])
        >>> CoreEngine().apply(st, protocol_circuit(lay, decrypt=7))
        >>> st.expectation(f"Z{lay.S(7)}")
        -1.0
    """

    name = "core"
    summary = (f"a Clifford on a dense core: any number of qubits, Clifford circuits, "
               f"inputs of at most {MAX_CORE_QUBITS} qubits")
    max_qubits: int | None = None

    def prepare(self, num_qubits: int, input_state: np.ndarray, input_qubits: Sequence[int]) -> CoreState:
        return CoreState.from_input(num_qubits, input_state, input_qubits)  # it reads Qiskit objects itself

    def apply(self, state: CoreState, circuit: Circuit) -> None:
        state.apply(circuit)

    def copy(self, state: CoreState) -> CoreState:
        return state.copy()


def _rotation_items(rotation: stim.PauliString) -> list[tuple[str, np.ndarray]]:
    """Gates for exp(iπ/4 · Q) with Q a Hermitian Pauli string (sign ±1), up to global phase."""
    x, z = rotation.to_numpy()
    ys = np.flatnonzero(x & z)
    basis = np.flatnonzero(x)
    supp = np.flatnonzero(x | z)
    ladder = np.stack([supp[:-1], supp[1:]], axis=1).ravel()
    phase = "S_DAG" if rotation.sign.real > 0 else "S"
    return [
        ("S_DAG", ys), ("H", basis), ("CX", ladder), (phase, supp[-1:]),
        ("CX", np.stack([supp[:-1][::-1], supp[1:][::-1]], axis=1).ravel()), ("H", basis), ("S", ys),
    ]


def _pauli_items(p: stim.PauliString) -> list[tuple[str, np.ndarray]]:
    x, z = p.to_numpy()
    return [("X", np.flatnonzero(x & ~z)), ("Y", np.flatnonzero(x & z)), ("Z", np.flatnonzero(z & ~x))]


__all__ = ["CoreEngine", "CoreState", "MAX_BLOCK_QUBITS", "estimated_block_bytes"]
