"""Redundant computation under noise: logical gates on encrypted clones against gates after decrypting.

Two routes for the same sequence of logical gates G_1..G_m on a stored qubit, both
from the same noisy encryption and decryption (:mod:`qclone.sim.noise` models):

* **encrypted**: the object is stored; before each gate and after the last one it
  sits in memory (one idle period of the model's memory channel on every stored
  qubit); each gate is the local plan of :mod:`qclone.protocol.logical`: every
  touched qubit gets its one-qubit Clifford followed by the model's one-qubit
  depolarizing channel (p1). Then clone j is decrypted.
* **decrypted**: the same m + 1 idle periods, the decryption of clone j, then the
  gates applied to the decrypted qubit, one noisy one-qubit gate each.

The figure is the exact entanglement fidelity of the final qubit with a reference R
(the input half of |Φ+⟩, so every input at once), read from stim's detector error
model (no sampling): the probability that the two checks X_R·(G X G†) and
Z_R·(G Z G†) both pass. A logical gate on the encrypted object touches up to 2n+1
qubits (:attr:`~qclone.protocol.logical.LocalPlan.qubits_touched`), so its gate
noise reaches the decrypted clone from about n + 1 of them (the key qubits' errors
pass straight through, as do those on S_j and N_j) — linear in n, against one
noisy gate on the decrypted qubit. The encrypted route keeps what the decrypted one
gives up: the state stays encrypted, recoverable from any authorized set, and
decryptable as any clone.

Examples:
    >>> from qclone.sim.noise import noise_model
    >>> r = compare(3, ["H", "X", "H"], noise=noise_model("depolarizing", p=1e-3, p1=1e-3))
    >>> r.encrypted < r.decrypted < 1.0
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import stim

from qclone.errors import InvalidArgumentError, check_int, check_real
from qclone.protocol import Circuit, Layout, bell_pairs, decryption, encryption
from qclone.protocol.logical import DECOMPOSITION, ROLES, canonical_name, plan
from qclone.protocol.render import instruction_text
from qclone.sim.noise import NoiseModel, idle_text, noisy_stim_text
from qclone.sim.stabilizer import exact_pauli_channel

#: The two routes compared.
ROUTES: tuple[str, ...] = ("encrypted", "decrypted")
#: Budgets: the circuit is built as text; the error model grows with n and the sequence length.
MAX_CLONES = 2_000
MAX_GATES = 1_000


def _gate_text(name: str, qubits: np.ndarray, p1: Sequence[float]) -> str:
    """One local Clifford on every listed qubit, then the one-qubit gate noise once per qubit."""
    lines = [instruction_text(g, qubits) for g in DECOMPOSITION[name]]
    if name != "I":
        lines += [instruction_text(f"DEPOLARIZE1({float(p)!r})", qubits) for p in p1 if p > 0]
    return "\n".join(lines)


def _observable_checks(lay: Layout, out: int, logical: stim.Tableau, noise: NoiseModel) -> str:
    r = lay.R()
    terms = []
    for letter in ("X", "Z"):
        img = logical(stim.PauliString(letter))
        terms.append((f"{letter}{r}*{'IXYZ'[img[0]]}{out}", img.sign.real < 0))
    q = noise.readout_flip
    mpp = f"MPP({q!r})" if q > 0 else "MPP"
    # a negative image sign is folded in by measuring the negated product (stim's "!" inverts the result)
    targets = " ".join(("!" if neg else "") + t for t, neg in terms)
    return f"{mpp} {targets}\nOBSERVABLE_INCLUDE(0) rec[-2]\nOBSERVABLE_INCLUDE(1) rec[-1]"


def route_circuit(clones: int, gates: Sequence[str], *, noise: NoiseModel, route: str = "encrypted",
                  decrypt: int = 1, logical_p1: float | None = None) -> stim.Circuit:
    """The noisy stim circuit of one route (see the module doc); observables 0, 1 are the two checks.

    ``logical_p1``, when given, replaces the model's one-qubit noise after the logical gates
    only (the encryption and decryption keep the model's), to isolate the gates' cost.
    """
    n = check_int(clones, "clones", 1, MAX_CLONES)
    if route not in ROUTES:
        raise InvalidArgumentError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
    if len(gates) > MAX_GATES:
        raise InvalidArgumentError(f"at most {MAX_GATES} gates in a sequence, got {len(gates)}")
    names = [canonical_name(g) for g in gates]
    p1 = noise.gate1 if logical_p1 is None else (check_real(logical_p1, "logical_p1", 0.0, 0.75),)
    plans = [plan(g, n) for g in names] if route == "encrypted" else []
    lay = Layout(n, references=1)
    j = check_int(decrypt, "decrypt", 1, n)
    storage = np.array([q for q in range(lay.num_qubits) if q != lay.R()], dtype=np.int64)
    one = Circuit(lay.registers)
    parts = [f"H {lay.R()}\nCX {lay.R()} {lay.A()}",
             noisy_stim_text(encryption(lay, circuit=bell_pairs(lay)), noise)]
    idle = idle_text(storage, noise)
    for k in range(len(names)):
        parts.append(idle)
        if route == "encrypted":
            p = plans[k]
            for role, local in zip(ROLES, p.roles, strict=True):
                if local != "I":
                    parts.append(_gate_text(local, p.qubits(lay, role), p1))
    parts.append(idle)
    parts.append(noisy_stim_text(decryption(lay, j, circuit=one), noise))
    out = lay.S(j)
    if route == "decrypted":
        parts += [_gate_text(name, np.array([out], dtype=np.int64), p1) for name in names]
    total = stim.Tableau(1)
    for name in names:
        total = total.then(stim.Tableau.from_named_gate(name))
    parts.append(_observable_checks(lay, out, total, noise))
    return stim.Circuit("\n".join(x for x in parts if x))


def route_fidelity(clones: int, gates: Sequence[str], *, noise: NoiseModel, route: str = "encrypted",
                   decrypt: int = 1, logical_p1: float | None = None) -> float:
    """The exact entanglement fidelity of one route (stim's detector error model)."""
    circuit = route_circuit(clones, gates, noise=noise, route=route, decrypt=decrypt, logical_p1=logical_p1)
    return exact_pauli_channel(circuit)["p_I"]


@dataclass(frozen=True)
class Comparison:
    """Both routes for one n and one gate sequence."""

    clones: int
    gates: tuple[str, ...]
    encrypted: float
    decrypted: float
    qubits_touched: int

    def to_dict(self) -> dict[str, object]:
        return {"clones": self.clones, "gates": list(self.gates), "encrypted": self.encrypted,
                "decrypted": self.decrypted, "qubits_touched": self.qubits_touched}  # fmt: skip


def compare(clones: int, gates: Sequence[str], *, noise: NoiseModel, decrypt: int = 1,
            logical_p1: float | None = None) -> Comparison:
    """The entanglement fidelity of both routes, and how many local gates the encrypted route applies."""
    names = tuple(canonical_name(g) for g in gates)
    touched = sum(plan(g, clones).qubits_touched for g in names)
    enc = route_fidelity(clones, names, noise=noise, route="encrypted", decrypt=decrypt, logical_p1=logical_p1)
    dec = route_fidelity(clones, names, noise=noise, route="decrypted", decrypt=decrypt, logical_p1=logical_p1)
    return Comparison(int(clones), names, enc, dec, touched)


def non_pauli_sequence(clones: int, length: int) -> tuple[str, ...]:
    """A sequence of ``length`` logical gates alternating the non-Pauli generator (H or C_XYZ) and X."""
    n = check_int(clones, "clones", 1)
    g = "H" if n % 2 else "C_XYZ"
    return tuple(g if k % 2 == 0 else "X" for k in range(check_int(length, "length", 0, MAX_GATES)))
