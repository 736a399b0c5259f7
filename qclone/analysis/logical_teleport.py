"""Logical S and T on encrypted clones by gate teleportation (a transversal Bell measurement).

No local unitary gives logical S (:mod:`qclone.analysis.logical_search`), but a
*measurement* does what the unitaries cannot. Every logical Pauli of the code is a
product of one-qubit Paulis on ``A, S_1..S_n`` (identity on the key): X̄ = Y_A Z_S…
(odd n) or Z_A Y_S… (even n), Z̄ = Y_A X_S…. So when one party holds the
corresponding qubits of two encrypted register qubits ``a`` and ``b`` and measures
that pair in the Bell basis (CX, H, two Z measurements: the values of X⊗X and Z⊗Z,
and Y⊗Y = −(X⊗X)(Z⊗Z)), the product over the custodian of A and the providers of
the letters of X̄ gives X̄_a X̄_b, and likewise Z̄_a Z̄_b: a *logical* Bell
measurement, for every n, without the key holder. The measured group is
{P⊗P}: the only logical information in it is X̄X̄, ȲȲ, Z̄Z̄, whose outcomes are
uniform whatever the data — the outcomes say nothing about ψ.

Teleportation: the resource is a second object, the encrypted 2-qubit Choi state
(I ⊗ G)|Φ+⟩ on register qubits (b, c), prepared and encrypted by the data owner.
Bell-measuring (a, b) leaves G·P·ψ on c for a Pauli P fixed by the two logical
outcomes, and

* G Clifford (S, S_DAG, …): the correction G P G† is a logical Pauli — local, no
  key holder: the custodian of A and the providers apply it;
* G = T: T X T† ∝ S·X, so when P has an X part the correction needs logical S†,
  itself teleported with a second resource (Choi state of S_DAG), whose correction
  is a Pauli. T costs one resource, or two with probability 1/2.

The key holder only acted when the resources were encrypted (their key is the
output's key); the data's own key is left behind, entangled with nothing that
carries ψ.

Examples:
    >>> bell_letters(3)
    {'X': ('Y', 'Z'), 'Z': ('Y', 'X')}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qclone.errors import InvalidArgumentError, check_int
from qclone.protocol import Circuit, Layout, bell_pairs, decryption, encryption
from qclone.protocol.circuit import flat_pairs
from qclone.protocol.logical import DECOMPOSITION, canonical_name, plan
from qclone.sim.exact import StateVector, fidelity

#: Logical gates this module teleports: any one-qubit Clifford of the vocabulary, and T, T_DAG.
NON_CLIFFORD: dict[str, np.ndarray] = {
    "T": np.diag([1, np.exp(1j * np.pi / 4)]).astype(complex),
    "T_DAG": np.diag([1, np.exp(-1j * np.pi / 4)]).astype(complex),
}
#: Largest number of clones the dense teleportation check accepts (the state has 5(2n+1)+1 qubits for T).
MAX_DENSE_CLONES = 2


def bell_letters(clones: int) -> dict[str, tuple[str, str]]:
    """The one-qubit letters of X̄ and Z̄ on (A, every S_j); both are the identity on the key."""
    n = check_int(clones, "clones", 1)
    x, z = plan("X", n).roles, plan("Z", n).roles
    if x[2] != "I" or z[2] != "I":  # the teleportation relies on it; the plans are checked against stim
        raise AssertionError("a logical Pauli touches the key")
    return {"X": (x[0], x[1]), "Z": (z[0], z[1])}


def measured_qubits(layout: Layout, i: int) -> list[int]:
    """The qubits of register qubit ``i`` that the Bell measurement reads: A_i and every S_i,j."""
    return [layout.A(i)] + [layout.S(j, i) for j in range(1, layout.n + 1)]


def bell_measurement_circuit(layout: Layout, a: int, b: int, circuit: Circuit | None = None) -> Circuit:
    """Every party rotates its pair (qubit of a, qubit of b) from the Bell basis to the Z basis: CX(a→b), H(a)."""
    c = circuit if circuit is not None else Circuit(layout.registers)
    qa, qb = np.array(measured_qubits(layout, a)), np.array(measured_qubits(layout, b))
    return c.append("CX", flat_pairs(qa, qb)).append("H", qa)


def logical_bell_outcomes(clones: int, bits_a: Sequence[int], bits_b: Sequence[int]) -> tuple[int, int]:
    """(X̄X̄, Z̄Z̄) as bits (1 = eigenvalue −1) from the parties' Z outcomes after :func:`bell_measurement_circuit`.

    ``bits_a[p]`` (from the qubit of a) is the value of X⊗X at party p, ``bits_b[p]`` that of Z⊗Z;
    Y⊗Y = −(X⊗X)(Z⊗Z). Parties in the order of :func:`measured_qubits` (A, then S_1..S_n).
    """
    n = check_int(clones, "clones", 1)
    xa, zb = np.asarray(bits_a, dtype=np.int64) & 1, np.asarray(bits_b, dtype=np.int64) & 1
    if xa.shape != (n + 1,) or zb.shape != (n + 1,):
        raise InvalidArgumentError(f"expected {n + 1} bits per register qubit (A and {n} clones)")
    out = []
    for logical in ("X", "Z"):
        on_a, on_s = bell_letters(n)[logical]
        letters = [on_a] + [on_s] * n
        v = 0
        for p, letter in enumerate(letters):
            if letter == "X":
                v ^= int(xa[p])
            elif letter == "Z":
                v ^= int(zb[p])
            elif letter == "Y":
                v ^= int(xa[p]) ^ int(zb[p]) ^ 1
        out.append(v)
    return out[0], out[1]


def teleported_pauli(xx: int, zz: int) -> str:
    """The Pauli P with c = G·P·ψ after Bell outcomes (X̄X̄, Z̄Z̄): Z̄Z̄ = −1 gives an X part, X̄X̄ = −1 a Z part."""
    return {(0, 0): "I", (0, 1): "X", (1, 0): "Z", (1, 1): "Y"}[(xx, zz)]


def gate_matrix(gate: str) -> np.ndarray:
    """The 2×2 matrix of a teleportable gate (a vocabulary Clifford, T or T_DAG)."""
    key = gate.strip().upper() if isinstance(gate, str) else gate
    if key in NON_CLIFFORD:
        return NON_CLIFFORD[key]
    from qclone.protocol.logical import local_unitary

    return local_unitary(canonical_name(gate))


_PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.diag([1, -1]).astype(complex),
}


def _name_up_to_phase(u: np.ndarray) -> str | None:
    from qclone.protocol.logical import VOCABULARY, local_unitary

    for name in VOCABULARY:
        if abs(abs(np.trace(local_unitary(name).conj().T @ u)) - 2) < 1e-9:
            return name
    return None


def correction(gate: str, pauli: str) -> tuple[str, ...]:
    """Logical gates (vocabulary names, time order) that turn G·P·ψ into G·ψ.

    For a Clifford G it is one logical Pauli. For T it is a Pauli, or ``S_DAG``/``S``
    (to be teleported in turn) followed by a Pauli.
    """
    g = gate_matrix(gate)
    fix = g @ _PAULI[pauli].conj().T @ g.conj().T  # (G P G†)^{-1}
    name = _name_up_to_phase(fix)
    if name is None:
        raise InvalidArgumentError(f"no Clifford correction for {gate}")
    if name in ("I", "X", "Y", "Z"):
        return () if name == "I" else (name,)
    for s in ("S", "S_DAG"):  # name = Pauli · s  (s first)
        rest = _name_up_to_phase(fix @ gate_matrix(s).conj().T)
        if rest in ("I", "X", "Y", "Z"):
            return (s,) if rest == "I" else (s, rest)
    raise InvalidArgumentError(f"{gate} is not teleportable with S corrections")


@dataclass(frozen=True)
class TeleportRun:
    """One run of the teleportation on the dense engine.

    Attributes:
        fidelity: of the decrypted output (clone 1 of the last resource) with G|ψ⟩ (entangled with R).
        rounds: the logical Bell outcomes of every round, (X̄X̄, Z̄Z̄).
        corrections: the logical gates applied after each round.
    """

    fidelity: float
    rounds: tuple[tuple[int, int], ...]
    corrections: tuple[tuple[str, ...], ...]


def _measure(state: StateVector, q: int, rng: np.random.Generator) -> int:
    t = np.moveaxis(state.tensor, q, 0)
    p1 = float(np.sum(np.abs(t[1]) ** 2))
    bit = int(rng.random() < p1)
    keep = t[bit] / np.sqrt(p1 if bit else 1 - p1)
    new = np.zeros_like(t)
    new[bit] = keep
    state.tensor = np.moveaxis(new, 0, q)
    return bit


def _prepare_resource(state: StateVector, layout: Layout, b: int, c: int, gate: str) -> None:
    """(I ⊗ G)|Φ+⟩ on the inputs A_b, A_c (before encryption): H, CX, then G on A_c."""
    h = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
    cx = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
    state.apply(h, [layout.A(b)])
    state.apply(cx, [layout.A(b), layout.A(c)])
    state.apply(gate_matrix(gate), [layout.A(c)])


def _registers_for(gate: str) -> int:
    return 5 if gate in NON_CLIFFORD else 3


def teleport_dense(clones: int, gate: str, input_state: np.ndarray, rng: np.random.Generator) -> TeleportRun:
    """Teleport logical ``gate`` into an encrypted object, exactly, on the dense engine.

    Register qubit 0 is the data, (1, 2) the resource object, and for T (3, 4) the second
    resource, encrypted only once the first round says it is needed (its gate, S or S_DAG,
    depends on the outcome). ``input_state`` is a 2-qubit state on (A_data, R). Every party
    measures its own qubits; afterwards the parties apply only logical Paulis, except the
    teleported S of T's correction.

    Raises:
        TooLargeError: beyond :data:`MAX_DENSE_CLONES` (1 for T: the state has 5(2n+1)+1 qubits).
    """
    gate = gate.strip().upper() if isinstance(gate, str) else gate
    gate_matrix(gate)  # validates the name
    k = _registers_for(gate)
    n = check_int(clones, "clones", 1, MAX_DENSE_CLONES if k == 3 else 1)
    lay = Layout(n, qubits=k, references=1)
    st = StateVector.from_input(input_state, lay.num_qubits, input_qubits=[lay.A(0), lay.R()])
    _prepare_resource(st, lay, 1, 2, gate)
    st.apply_circuit(register_encryption(lay, [0, 1, 2]))

    def bell_round(a: int, b: int) -> tuple[int, int]:
        st.apply_circuit(bell_measurement_circuit(lay, a, b))
        bits_a = [_measure(st, q, rng) for q in measured_qubits(lay, a)]
        bits_b = [_measure(st, q, rng) for q in measured_qubits(lay, b)]
        return logical_bell_outcomes(n, bits_a, bits_b)

    rounds = [bell_round(0, 1)]
    fixes = [correction(gate, teleported_pauli(*rounds[0]))]
    target = 2
    for g in fixes[0]:
        if g in ("S", "S_DAG"):
            _prepare_resource(st, lay, 3, 4, g)  # the owner encrypts a fresh resource for the correction
            st.apply_circuit(register_encryption(lay, [3, 4]))
            rounds.append(bell_round(target, 3))
            target = 4
            fixes.append(correction(g, teleported_pauli(*rounds[-1])))
            for p in fixes[-1]:
                st.apply_circuit(plan(p, n).circuit(lay, register_qubit=target))
        else:
            st.apply_circuit(plan(g, n).circuit(lay, register_qubit=target))
    st.apply_circuit(_clone_decryption_of(lay, target))
    want = np.kron(gate_matrix(gate), np.eye(2)) @ np.asarray(input_state, dtype=complex)
    got = st.reduced_density_matrix([lay.S(1, target), lay.R()])
    return TeleportRun(fidelity(got, want), tuple(rounds), tuple(fixes))


def _clone_decryption_of(layout: Layout, i: int) -> Circuit:
    """The decryption of clone 1 of register qubit i only."""
    return _embed(layout, i, decryption(Layout(layout.n), 1))


def _embed(layout: Layout, i: int, single: Circuit) -> Circuit:
    mapping = np.array([layout.A(i)] + [layout.S(j, i) for j in range(1, layout.n + 1)]
                       + [layout.N(j, i) for j in range(1, layout.n + 1)], dtype=np.int64)
    c = Circuit(layout.registers)
    for ins in single.instructions:
        c = c.append(ins.name, mapping[ins.targets])
    return c


def register_encryption(layout: Layout, qubits: Sequence[int]) -> Circuit:
    """Bell pairs and encryption of the listed register qubits only (the others untouched)."""
    one = Layout(layout.n)
    single = encryption(one, circuit=bell_pairs(one))
    c = Circuit(layout.registers)
    for i in qubits:
        c = c + _embed(layout, i, single)
    return c


def teleport_stim(clones: int, gate: str, rng: np.random.Generator) -> tuple[bool, tuple[int, int]]:
    """Teleport a logical Clifford with stim at any n: whether (R, output) ends exactly in (I ⊗ G)|Φ+⟩.

    The data is half of a Bell pair with a reference R, so one run checks every input at once
    (pure, mixed, entangled); the outcomes are random (stim's sampling, seeded from ``rng``).
    """
    import stim

    from qclone.protocol import to_stim

    n = check_int(clones, "clones", 1, 10_000)
    name = canonical_name(gate)
    lay = Layout(n, qubits=3, references=1)
    prep = Circuit(lay.registers).append("H", [lay.R(), lay.A(1)]).append("CX", [lay.R(), lay.A(0), lay.A(1), lay.A(2)])
    for g in DECOMPOSITION[name]:
        prep = prep.append(g, [lay.A(2)])
    prep = prep + register_encryption(lay, [0, 1, 2]) + bell_measurement_circuit(lay, 0, 1)
    sim = stim.TableauSimulator(seed=int(rng.integers(2**63)))
    sim.set_num_qubits(lay.num_qubits)
    sim.do(to_stim(prep))
    bits_a = [int(sim.measure(q)) for q in measured_qubits(lay, 0)]
    bits_b = [int(sim.measure(q)) for q in measured_qubits(lay, 1)]
    xx, zz = logical_bell_outcomes(n, bits_a, bits_b)
    for p in correction(name, teleported_pauli(xx, zz)):
        sim.do(to_stim(plan(p, n).circuit(lay, register_qubit=2)))
    sim.do(to_stim(_clone_decryption_of(lay, 2)))
    t = stim.Tableau.from_named_gate(name)
    ok = True
    for letter in ("X", "Z"):
        img = t(stim.PauliString(letter))
        obs = stim.PauliString(lay.num_qubits)
        obs[lay.R()] = letter
        obs[lay.S(1, 2)] = "IXYZ"[img[0]]
        ok &= sim.peek_observable_expectation(obs) == int(img.sign.real)
    return bool(ok), (xx, zz)


def outcome_distribution(clones: int, input_state: np.ndarray) -> np.ndarray:
    """The joint distribution of every party's Bell-measurement outcomes (data a, resource b), dense.

    Equal for every input state iff the measurement reveals nothing about it; the tests compare it
    across inputs. ``input_state`` is a one-qubit state on A_data.
    """
    n = check_int(clones, "clones", 1, MAX_DENSE_CLONES)
    lay = Layout(n, qubits=3)
    st = StateVector.from_input(np.asarray(input_state, dtype=complex), lay.num_qubits, input_qubits=[lay.A(0)])
    _prepare_resource(st, lay, 1, 2, "S")
    st.apply_circuit(register_encryption(lay, [0, 1, 2]))
    st.apply_circuit(bell_measurement_circuit(lay, 0, 1))
    qs = measured_qubits(lay, 0) + measured_qubits(lay, 1)
    return np.real(np.diag(st.reduced_density_matrix(qs)))


__all__ = [
    "NON_CLIFFORD", "TeleportRun", "bell_letters", "bell_measurement_circuit", "correction",
    "gate_matrix", "logical_bell_outcomes", "measured_qubits", "outcome_distribution", "register_encryption",
    "teleport_dense", "teleport_stim", "teleported_pauli",
]  # fmt: skip
