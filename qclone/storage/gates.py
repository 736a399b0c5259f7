"""Logical gates on a stored object: what one local Clifford per code qubit does, exactly.

A logical gate on an encrypted object is a *local* operation: every holder applies a one-qubit
Clifford to each qubit it holds (``qclone.protocol.logical.plan`` says which). This module is the
substrate's side of it, written from the stabilizer algebra and not from the plan's own claims:

* :func:`logical_action` checks that a tuple of local Cliffords on the ``2n + 1`` qubits of one
  register qubit's code (``A``, ``S_1..S_n``, ``N_1..N_n``, the :class:`~qclone.protocol.Layout`
  order) maps the encrypted code space onto itself, and returns the 2x2 unitary it implements
  there (up to a global phase). With E the Bell pairs and the encryption (a Clifford), the local
  product L is a logical gate iff ``M = E† L E`` maps every ``Z_q`` (q ≠ A: the ancillas that start
  in |0⟩) to a product of ``Z``'s on the ancillas with sign +; then ``M (|ψ⟩ ⊗ |0…0⟩) =
  G|ψ⟩ ⊗ |0…0⟩`` with G read from ``M X_A M†`` and ``M Z_A M†`` (stim tableaux, any n).
  The code has no gauge qubit ([[2n+1, 1]]), so L acting as G on the code means exactly
  ``L · Enc(ψ) = Enc(Gψ)``.
* :func:`pauli_permutation` / :func:`conjugate_channel`: a Pauli channel on a qubit before a
  one-qubit Clifford C is the channel with permuted probabilities after it
  (``C σ_a C† = ±σ_{π(a)}``), so ageing before a gate becomes ageing after it exactly.
* :func:`compose_channels`: two Pauli channels on one qubit are one Pauli channel.
* :func:`depolarizing`: the gate noise of one local gate (``qclone.sim.noise``'s ``gate1``).

Examples:
    >>> import numpy as np
    >>> x = np.array([[0, 1], [1, 0]], dtype=complex)
    >>> pauli_permutation(x)        # X keeps every axis (up to signs)
    (0, 1, 2)
    >>> h = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
    >>> conjugate_channel((0.1, 0.0, 0.3), h)   # H swaps X and Z
    (0.3, 0.0, 0.1)
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

import numpy as np

from qclone.errors import InvalidArgumentError

__all__ = ["compose_channels", "conjugate_channel", "depolarizing", "gates_digest", "local_matrix",
           "logical_action", "pauli_permutation"]

_PAULIS = (np.array([[0, 1], [1, 0]], dtype=complex), np.array([[0, -1j], [1j, 0]], dtype=complex),
           np.array([[1, 0], [0, -1]], dtype=complex))


@lru_cache(maxsize=128)
def _matrix(name: str) -> np.ndarray:
    from qclone.protocol.logical import local_unitary

    u = np.asarray(local_unitary(name), dtype=complex)
    if u.shape != (2, 2) or not np.allclose(u @ u.conj().T, np.eye(2), atol=1e-9):
        raise InvalidArgumentError(f"local gate {name!r} is not a one-qubit unitary")
    u.setflags(write=False)
    return u


def local_matrix(name: str) -> np.ndarray:
    """The 2x2 unitary of a local gate name (``qclone.protocol.logical.local_unitary``), read-only."""
    if not isinstance(name, str) or not 0 < len(name) <= 16:
        raise InvalidArgumentError(f"a local gate is a short name, got {name!r}")
    try:
        return _matrix(name)
    except (KeyError, ValueError) as e:
        raise InvalidArgumentError(f"unknown local gate {name!r} ({e})") from None


@lru_cache(maxsize=128)
def _permutation(name: str) -> tuple[int, int, int]:
    return pauli_permutation(local_matrix(name))


def pauli_permutation(u: np.ndarray) -> tuple[int, int, int]:
    """``(π(X), π(Y), π(Z))`` (0 = X, 1 = Y, 2 = Z) with ``u σ_a u† = ±σ_{π(a)}``; raises
    InvalidArgumentError when ``u`` is not a one-qubit Clifford."""
    out = []
    for p in _PAULIS:
        image = u @ p @ u.conj().T
        overlaps = [abs(np.trace(q.conj().T @ image)) / 2 for q in _PAULIS]
        b = int(np.argmax(overlaps))
        if abs(overlaps[b] - 1) > 1e-9:
            raise InvalidArgumentError("a local gate must be a one-qubit Clifford (Paulis to Paulis)")
        out.append(b)
    return out[0], out[1], out[2]


def conjugate_channel(p: tuple[float, float, float], u: np.ndarray | str) -> tuple[float, float, float]:
    """The Pauli channel ``(px, py, pz)`` applied before the Clifford ``u`` (a matrix or a local gate
    name), as the channel after it: ``u ∘ E = E' ∘ u`` with ``E'`` the probabilities permuted."""
    perm = _permutation(u) if isinstance(u, str) else pauli_permutation(u)
    out = [0.0, 0.0, 0.0]
    for a, b in enumerate(perm):
        out[b] = float(p[a])
    return out[0], out[1], out[2]


def compose_channels(p: tuple[float, float, float], q: tuple[float, float, float]) -> tuple[float, float, float]:
    """One Pauli channel equal to ``p`` then ``q`` on the same qubit (they commute): the
    probabilities convolve over the Pauli group modulo phases (X·Y ∝ Z, ...)."""
    a = (1.0 - sum(p), *p)
    b = (1.0 - sum(q), *q)
    out = [0.0] * 4
    for i in range(4):
        for j in range(4):
            out[i ^ j] += a[i] * b[j]  # 0 = I, 1 = X, 2 = Y, 3 = Z: X·Y ∝ Z is 1 ^ 2 = 3, ...
    return out[1], out[2], out[3]


def depolarizing(p1: float) -> tuple[float, float, float]:
    """The one-qubit depolarizing channel of a gate, probability ``p1`` (each of X, Y, Z: p1/3)."""
    return p1 / 3, p1 / 3, p1 / 3


def gates_digest(gates: dict[str, str]) -> str:
    """The SHA-256 (hex) of a label -> local gate map: what a holder's receipt of a gate signs."""
    text = json.dumps(sorted((str(k), str(v)) for k, v in gates.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=64)
def _encoding(n: int) -> Any:
    import stim

    from qclone.protocol import Layout, protocol_circuit

    circuit = stim.Circuit()
    for ins in protocol_circuit(Layout(n)).instructions:
        circuit.append(ins.name, [int(t) for t in ins.targets])
    tab = stim.Tableau.from_circuit(circuit)
    if len(tab) < 2 * n + 1:
        tab = tab + stim.Tableau(2 * n + 1 - len(tab))
    return tab


@lru_cache(maxsize=256)
def _one_qubit_tableau(name: str) -> Any:
    import stim

    return stim.Tableau.from_unitary_matrix(local_matrix(name), endian="little")


_LETTERS = {0: "I", 1: "X", 2: "Y", 3: "Z"}
#: Every real or imaginary part of a one-qubit Clifford's entries (stim answers in single precision).
_PARTS = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2 ** -0.5, -(2 ** -0.5)])


def _snap(u: np.ndarray) -> np.ndarray:
    """``u`` with every real and imaginary part set to the nearest exact value of a Clifford entry."""
    def near(x: np.ndarray) -> np.ndarray:
        return _PARTS[np.argmin(np.abs(x[..., None] - _PARTS), axis=-1)]

    return near(u.real) + 1j * near(u.imag)


@lru_cache(maxsize=512)
def logical_action(n: int, names: tuple[str, ...]) -> np.ndarray:
    """The 2x2 unitary (up to a global phase) that the local gates ``names`` (one per qubit of the
    code of one register qubit, in the order A, S_1..S_n, N_1..N_n) implement on the encrypted
    state; InvalidArgumentError when they do not map the code onto itself (see the module doc).

    Examples:
        >>> import numpy as np
        >>> u = logical_action(2, ("I",) * 5)
        >>> bool(np.allclose(u, np.eye(2)))
        True
    """
    import stim

    if len(names) != 2 * n + 1:
        raise InvalidArgumentError(f"a logical gate on {n} clones names {2 * n + 1} local gates, got {len(names)}")
    enc = _encoding(n)
    local = stim.Tableau(2 * n + 1)
    for q, name in enumerate(names):
        if name != "I":
            local.append(_one_qubit_tableau(name), [q])
    m = enc.then(local).then(enc.inverse())
    for q in range(1, 2 * n + 1):
        image = m.z_output(q)
        if image.sign != 1 or image[0] != 0 or any(image[r] in (1, 2) for r in range(1, 2 * n + 1)):
            raise InvalidArgumentError("these local gates do not preserve the encrypted code: not a logical gate")
    xs, zs = m.x_output(0), m.z_output(0)
    if xs[0] == 0 or zs[0] == 0 or any(xs[r] in (1, 2) or zs[r] in (1, 2) for r in range(1, 2 * n + 1)):
        raise InvalidArgumentError("these local gates do not preserve the encrypted code: not a logical gate")
    single = stim.Tableau.from_conjugated_generators(
        xs=[stim.PauliString(("+" if xs.sign == 1 else "-") + _LETTERS[xs[0]])],
        zs=[stim.PauliString(("+" if zs.sign == 1 else "-") + _LETTERS[zs[0]])])
    u = _snap(np.asarray(single.to_unitary_matrix(endian="little"), dtype=complex))
    u.setflags(write=False)
    return u


def compact(noise: list[tuple[int, float, float, float]]) -> list[tuple[int, float, float, float]]:
    """The same Pauli channels, one per qubit (channels on one qubit compose, channels on different
    qubits commute), in qubit order; identity channels dropped."""
    per: dict[int, tuple[float, float, float]] = {}
    for q, px, py, pz in noise:
        per[q] = compose_channels(per[q], (px, py, pz)) if q in per else (px, py, pz)
    return [(q, *per[q]) for q in sorted(per) if any(per[q])]


def gated(k: int, n: int, data: np.ndarray, noise: list[tuple[int, float, float, float]],
          gates: dict[int, str]) -> tuple[np.ndarray, list[tuple[int, float, float, float]], list[int]]:
    """A logical gate started on an object: ``gates`` maps joint-register qubits (Layout indices,
    absent ones: identity) to local gate names. Returns ``(input, noise, register qubits acted on)``
    with the input turned into ``G ⊗ ...`` of it (each register qubit's :func:`logical_action`, the
    engines' order: register qubit 0 the most significant) and every noise channel so far conjugated
    through its qubit's local gate, so that ``L ∘ noise(Enc(ψ)) = noise'(Enc(Gψ))`` exactly.

    Raises:
        InvalidArgumentError: the gates of some register qubit are not a logical gate.
    """
    from qclone.protocol import Layout

    lay = Layout(n, qubits=k)
    units = []
    acted = []
    for i in range(k):
        names = tuple(gates.get(int(q), "I") for q in lay.embedding(i))
        if all(x == "I" for x in names):
            units.append(np.eye(2, dtype=complex))
            continue
        units.append(logical_action(n, names))
        acted.append(i)
    u = np.ones((1, 1), dtype=complex)
    for one in units:
        u = np.kron(u, one)
    data = np.asarray(data, dtype=complex)
    out = u @ data if data.ndim == 1 else u @ data @ u.conj().T
    moved = [(q, *conjugate_channel((px, py, pz), gates[q])) if gates.get(q, "I") != "I" else (q, px, py, pz)
             for q, px, py, pz in noise]
    return out, compact(moved), acted


def undo_circuit(lagging: dict[int, str]) -> Any:
    """A ``stim.Circuit`` applying ``C_q†`` on each qubit q of ``lagging`` (qubit -> local gate name)."""
    import stim

    circuit = stim.Circuit()
    for q, name in sorted(lagging.items()):
        tab = stim.Tableau.from_unitary_matrix(local_matrix(name).conj().T, endian="little")
        for ins in tab.to_circuit():
            circuit.append(ins.name, [q for _ in ins.targets_copy()])
    return circuit


#: The table in which a holder node records the logical gates it applied (one row per gate).
GATE_TABLE = ("CREATE TABLE IF NOT EXISTS gates (object_id TEXT NOT NULL, op TEXT NOT NULL, digest TEXT NOT NULL, "
              "PRIMARY KEY (object_id, op))")
#: Most logical gates a holder records for one object (the service allows no more).
MAX_RECORDED_GATES = 1000


def record_gate(db: Any, who: str, object_id: str, op: str, gates: Any, held: list[str]) -> str:
    """A holder's part of logical gate ``op`` on ``object_id``: check that ``gates`` (label -> local
    gate name) names only qubits it holds (``held``) and record the gate once (the same op again
    with the same gates: nothing new). Returns the digest its receipt signs.

    Raises:
        InvalidArgumentError: malformed gates, or a qubit it does not hold.
        ConflictError: the op was recorded with other gates, or too many gates.
    """
    from qclone.storage.errors import ConflictError

    if not isinstance(op, str) or not 0 < len(op) <= 200:
        raise InvalidArgumentError("op must be a non-empty string of at most 200 characters")
    if not isinstance(gates, dict) or not gates or len(gates) > len(held):
        raise InvalidArgumentError(f"{who}: gates must map some of the qubits it holds to local gates")
    for label, name in gates.items():
        if label not in held:
            raise InvalidArgumentError(f"{who} holds no qubit {label!r} of object {object_id}")
        local_matrix(name)
    digest = gates_digest(gates)
    with db.tx() as c:
        row = c.execute("SELECT digest FROM gates WHERE object_id = ? AND op = ?", (object_id, op)).fetchone()
        if row is not None:
            if row[0] != digest:
                raise ConflictError(f"{who}: gate {op} of object {object_id} was recorded with other local gates")
            return digest
        count = c.execute("SELECT count(*) FROM gates WHERE object_id = ?", (object_id,)).fetchone()[0]
        if count >= MAX_RECORDED_GATES:
            raise ConflictError(f"{who}: object {object_id} has had {MAX_RECORDED_GATES} logical gates")
        c.execute("INSERT INTO gates (object_id, op, digest) VALUES (?, ?, ?)", (object_id, op, digest))
    return digest
