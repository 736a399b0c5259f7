"""Blocks of the Clifford part of a :class:`~qclone.sim.core.CoreState`, and the noise they carry.

The Clifford ``C`` of a core state is kept as a tensor product of *blocks*:
qubits that no gate has yet connected stay in separate blocks, and a gate
across two blocks merges them. A k-qubit register encrypted with k independent
modules is therefore k blocks of ``2n + 1`` qubits, not one block of
``k(2n + 1)``: memory ``k·(2n+1)²/2`` bytes instead of ``(k(2n+1))²/2``.

Each block holds

* a ``stim.TableauSimulator`` whose inverse tableau is ``C_b⁻¹`` (gates cost
  O(m_b/64) word operations, in C++), and the gate *history* that built it
  (what :mod:`.serialize` stores: replaying text is far faster than stim's
  ``Tableau.from_numpy`` for large tableaux);
* the Pauli noise recorded on its qubits, as *events* pulled back to the
  input frame (see :mod:`qclone.sim.core.state` for the mathematics): for an
  event, the frames ``C⁻¹ X_t C`` and ``C⁻¹ Z_t C`` reduced to what acts on
  ``ρ_core ⊗ |0…0⟩`` (X bits on every qubit, Z bits on the core qubits only),
  bit-packed, with the event's probabilities ``(p_I, p_X, p_Y, p_Z)`` and one
  pair of sign bits per term of the state.

Noise applied since the last gate on a block is kept *pending* (qubit →
probabilities) and pulled back in bulk before the next gate, merge or query.
"""

from __future__ import annotations

import numpy as np
import stim

from qclone.sim.core.bits import from_bytes, pack, parity_and, words_for

#: Label bits (x, z) of the Pauli errors I, X, Y, Z (Y = X·Z up to phase).
MU_BITS = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.int64)
#: H4[μ, c] = (-1)^{μ·c} with c = 2·c_x + c_z: probabilities → characters.
H4 = np.array([[(-1) ** ((mu[0] * (c >> 1) + mu[1] * (c & 1)) & 1) for c in range(4)] for mu in MU_BITS], dtype=float)

#: Above this many pending events the whole inverse tableau is read at once.
_BULK_ROWS = 64


def fourier(probs: np.ndarray) -> np.ndarray:
    """f(c) = Σ_μ p(μ)(-1)^{μ·c} for every c (the event's Pauli eigenvalues), shape (…, 4)."""
    return np.asarray(probs, dtype=float) @ H4


def inverse_fourier(chars: np.ndarray) -> np.ndarray:
    """Probabilities (or signed weights) from characters: the inverse of :func:`fourier`."""
    return np.asarray(chars, dtype=float) @ H4.T / 4.0


def compose_channels(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Two one-qubit Pauli channels (p_I, p_X, p_Y, p_Z) applied one after the other."""
    return inverse_fourier(fourier(p) * fourier(q))


def gate_text(items: list[tuple[str, np.ndarray]]) -> str:
    """stim text of (gate, targets) pairs, joined in bulk."""
    return "\n".join(f"{name} {' '.join(map(str, t.tolist()))}" for name, t in items if t.size)


class Block:
    """One tensor factor of the Clifford, with the noise events on its qubits."""

    def __init__(
        self,
        qubits: np.ndarray,
        core_local: np.ndarray,
        core_index: np.ndarray,
        num_terms: int,
        *,
        sim: stim.TableauSimulator | None = None,
        history: list[tuple[str, np.ndarray]] | None = None,
        circuit: stim.Circuit | None = None,
    ) -> None:
        """A block whose simulator (if given) already holds ``history``, which ``circuit`` spells out."""
        self.qubits = np.asarray(qubits, dtype=np.int64)
        self.core_local = np.asarray(core_local, dtype=np.int64)
        self.core_index = np.asarray(core_index, dtype=np.int64)
        m = self.qubits.size
        if sim is None:
            sim = stim.TableauSimulator()
            sim.set_num_qubits(m)
        self.sim = sim
        self.history: list[tuple[str, np.ndarray]] = list(history or [])
        #: the same gates as one stim circuit, for pulling a few Paulis back without a tableau copy
        if circuit is None:
            circuit = stim.Circuit(gate_text(self.history)) if self.history else stim.Circuit()
        self.circuit = circuit
        self._inverse: stim.Tableau | None = None
        self._pulls_cost = 0
        #: the simulator may be shared with copies of this block: copy it before changing it
        self._shared_sim = False
        self.num_targets = sum(int(t.size) for _, t in self.history)
        self.pending: dict[int, np.ndarray] = {}
        w, kb = words_for(m), self.core_local.size
        self.fx = np.zeros((0, 2, w), dtype=np.uint64)
        self.fzc = np.zeros((0, 2, kb), dtype=bool)
        self.probs = np.zeros((0, 4), dtype=float)
        self.sigma = np.zeros((num_terms, 0, 2), dtype=bool)

    @property
    def size(self) -> int:
        return int(self.qubits.size)

    @property
    def num_events(self) -> int:
        return int(self.probs.shape[0])

    def rest_mask(self) -> np.ndarray:
        """True on the block's qubits that start in |0⟩ (not core)."""
        mask = np.ones(self.size, dtype=bool)
        mask[self.core_local] = False
        return mask

    def inverse(self) -> stim.Tableau:
        """C_b⁻¹ (copied from the simulator once per gate epoch: O(m_b²) bits)."""
        if self._inverse is None:
            self._inverse = self.sim.current_inverse_tableau()
        return self._inverse

    def pull(self, local: int, letter: str) -> stim.PauliString:
        """C_b⁻¹ P C_b for the one-qubit Pauli ``letter`` on local qubit ``local``.

        A few pull-backs are propagated through the gate history (O(gates) each);
        once their cost exceeds a copy of the inverse tableau (O(m_b²/64) words),
        the tableau is copied and its rows are read for the rest of the epoch.
        """
        if self._inverse is None:
            gates = max(1, self.num_targets)
            if self._pulls_cost + gates <= self.size * self.size // 64:
                self._pulls_cost += gates
                p = stim.PauliString(self.size)
                p[int(local)] = letter
                return p.before(self.circuit)
        inv = self.inverse()
        return {"X": inv.x_output, "Y": inv.y_output, "Z": inv.z_output}[letter](int(local))

    def push(self, local: int, letter: str) -> stim.PauliString:
        """C_b P C_b† (the forward image), propagated through the gate history."""
        p = stim.PauliString(self.size)
        p[int(local)] = letter
        return p.after(self.circuit)

    def run(self, items: list[tuple[str, np.ndarray]]) -> None:
        """Apply gates (local indices) after everything so far."""
        items = [(name, np.asarray(t, dtype=np.int64)) for name, t in items if len(t)]
        if not items:
            return
        self.flush()
        circuit = stim.Circuit(gate_text(items))
        self.own_simulator().do_circuit(circuit)
        self.circuit += circuit
        self.history.extend(items)
        self.num_targets += sum(int(t.size) for _, t in items)
        self._inverse = None
        self._pulls_cost = 0

    def own_simulator(self) -> stim.TableauSimulator:
        """The simulator, copied first if a copy of this block still shares it (copy on write)."""
        if self._shared_sim:
            self.sim = self.sim.copy()
            self._shared_sim = False
        return self.sim

    def add_noise(self, local: int, probs: np.ndarray) -> None:
        old = self.pending.get(local)
        self.pending[local] = probs if old is None else compose_channels(old, probs)

    def flush(self) -> None:
        """Pull pending noise back to the input frame (needs the current inverse tableau)."""
        if not self.pending:
            return
        locals_ = np.fromiter(self.pending.keys(), dtype=np.int64, count=len(self.pending))
        probs = np.stack([self.pending[int(t)] for t in locals_])
        self.pending = {}
        fx, fzc = self.frames(locals_)
        # an event whose every likely error acts trivially on ρ_core ⊗ |0…0⟩ changes nothing
        nontrivial = np.any(fx != 0, axis=2) | np.any(fzc, axis=2)  # (E, 2): X frame, Z frame
        y_nontrivial = np.any(fx[:, 0] != fx[:, 1], axis=1) | np.any(fzc[:, 0] != fzc[:, 1], axis=1)
        acts = ((probs[:, 1] > 0) & nontrivial[:, 0]) | ((probs[:, 3] > 0) & nontrivial[:, 1]) | ((probs[:, 2] > 0) & y_nontrivial)
        if not np.any(acts):
            return
        self.append_events(fx[acts], fzc[acts], probs[acts])

    def frames(self, locals_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pull-backs of X_t and Z_t for the local qubits t: X bits packed (E, 2, words), Z bits on the core (E, 2, k_b).

        Many rows are read from one copy of the inverse tableau; a few are pulled through the history.
        """
        m = self.size
        if locals_.size > _BULK_ROWS:
            x2x, x2z, z2x, z2z, _, _ = self.inverse().to_numpy(bit_packed=True)
            fx = np.stack([from_bytes(x2x[locals_]), from_bytes(z2x[locals_])], axis=1)
            # Z bits only at the few core qubits: read those bits straight from the packed bytes
            byte, bit = self.core_local // 8, (self.core_local % 8).astype(np.uint8)
            fzc = np.stack([(x2z[locals_][:, byte] >> bit) & 1, (z2z[locals_][:, byte] >> bit) & 1], axis=1).astype(bool)
            return fx, fzc
        xs, zs = [], []
        for t in locals_.tolist():
            for p in (self.pull(t, "X"), self.pull(t, "Z")):
                x, z = p.to_numpy()
                xs.append(x)
                zs.append(z[self.core_local])
        fx = pack(np.array(xs, dtype=bool).reshape(locals_.size, 2, m))
        return fx, np.array(zs, dtype=bool).reshape(locals_.size, 2, self.core_local.size)

    def append_events(self, fx: np.ndarray, fzc: np.ndarray, probs: np.ndarray, sigma: np.ndarray | None = None) -> None:
        e = probs.shape[0]
        self.fx = np.concatenate([self.fx, fx.astype(np.uint64)])
        self.fzc = np.concatenate([self.fzc, fzc.astype(bool)])
        self.probs = np.concatenate([self.probs, probs.astype(float)])
        if sigma is None:
            sigma = np.zeros((self.sigma.shape[0], e, 2), dtype=bool)
        self.sigma = np.concatenate([self.sigma, sigma], axis=1)

    def commutation(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Whether each event frame anticommutes with the block Pauli (x, z): shape (E, 2)."""
        if not self.num_events:
            return np.zeros((0, 2), dtype=bool)
        c = parity_and(self.fx, pack(z)[None, None, :])
        if self.core_local.size:
            c ^= (np.count_nonzero(self.fzc & x[self.core_local][None, None, :], axis=2) & 1).astype(bool)
        return c

    def noise_factors(self, chi: np.ndarray | None) -> np.ndarray:
        """Π_e f_e(σ_te ⊕ χ_e) for every term t: how the noise scales a Pauli with commutation χ."""
        t = self.sigma.shape[0]
        if not self.num_events:
            return np.ones(t)
        if chi is None and not self.sigma.any():
            return np.ones(t)
        f = fourier(self.probs)  # (E, 4)
        bits = self.sigma if chi is None else self.sigma ^ chi[None, :, :]
        idx = 2 * bits[:, :, 0].astype(np.int64) + bits[:, :, 1]
        return np.prod(f[np.arange(self.num_events)[None, :], idx], axis=1)

    def copy(self) -> Block:
        # the simulator (O(m²) bits) is shared until one side applies a gate
        out = Block(self.qubits.copy(), self.core_local.copy(), self.core_index.copy(), self.sigma.shape[0],
                    sim=self.sim, history=self.history, circuit=self.circuit.copy())
        self._shared_sim = out._shared_sim = True
        out.pending = {k: v.copy() for k, v in self.pending.items()}
        out.fx, out.fzc, out.probs, out.sigma = self.fx.copy(), self.fzc.copy(), self.probs.copy(), self.sigma.copy()
        out._inverse = self._inverse
        return out
