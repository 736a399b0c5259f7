"""Substrate.apply: a logical gate on a stored object, against independent computations.

The reference is the dense engine acting on the whole joint state (encrypt, age every qubit, apply
each holder's local gates with their gate noise, decrypt or recover) and ``qiskit.quantum_info``
for G|ψ⟩; neither uses the substrate's exact update (input → Gψ, ageing conjugated through the
local gates), which is what is tested.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from qiskit.quantum_info import DensityMatrix as QiskitDM
from qiskit.quantum_info import Operator

from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, decryption, protocol_circuit
from qclone.protocol.logical import available_gates, local_unitary, plan
from qclone.sim.exact import DensityMatrix, partial_trace, random_density_matrix, random_state, reverse_qubits
from qclone.sim.noise import twirled_relaxation
from qclone.storage.errors import ConflictError, UnauthorizedError
from qclone.storage.faults import CRASH_EXIT_STATUS
from qclone.storage.gates import gates_digest
from qclone.storage.inputs import parse_state
from qclone.storage.rpc.keys import Identity, check_grant, issue_grant
from qclone.storage.substrate import Substrate
from qclone.storage.wire import decode_array, encode_array

RNG = np.random.default_rng(1818)


def _state(kind: str, k: int):
    if kind == "pure":
        return parse_state("statevector", encode_array(random_state(k, RNG)))
    return parse_state("density", encode_array(random_density_matrix(k, RNG)))


def _holders(lay: Layout) -> dict[str, list[str]]:
    """Each clone at its provider, the key at the vault, A at a custodian (every qubit held)."""
    label = lambda q: lay.label(q, long=True)  # noqa: E731 - a short local helper
    out = {f"provider:p{j}": [label(q) for q in lay.clone(j)] for j in range(1, lay.n + 1)}
    out["vault"] = [label(q) for q in lay.keys]
    out["c1"] = [label(q) for q in lay.inputs]
    return out


def _gates(lay: Layout, gate: str, register_qubits=None) -> dict[str, str]:
    p = plan(gate, lay.n)
    out = {}
    for i in range(lay.k) if register_qubits is None else register_qubits:
        for q, name in zip(lay.embedding(i).tolist(), p.local, strict=True):
            if name != "I":
                out[lay.label(int(q), long=True)] = name
    return out


def _qiskit_gated(state, gate: str, k: int, register_qubits=None) -> np.ndarray:
    """G on the chosen register qubits of the input, by qiskit.quantum_info (Qiskit's order), returned
    in the engines' order (register qubit 0 the most significant)."""
    rho = QiskitDM(state.density if state.density is not None else state.vector)
    u = Operator(local_unitary(gate))
    for i in range(k) if register_qubits is None else register_qubits:
        rho = rho.evolve(u, qargs=[i])
    return reverse_qubits(np.asarray(rho.data))


def _dense(state, lay: Layout, aged: dict[str, tuple], parts: list[dict[str, str]], p1: float) -> DensityMatrix:
    """The dense engine on the whole joint state: encrypt, age, then each part's local gates (each
    followed by its depolarizing gate noise p1)."""
    dm = DensityMatrix.from_input(reverse_qubits(state.density), lay.num_qubits)
    dm.apply_circuit(protocol_circuit(lay))
    for label, (t, t1, t2) in aged.items():
        px, py, pz = twirled_relaxation(t, t1, t2)
        dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [lay.index_of(label, long=True)])
    for part in parts:
        for label, name in part.items():
            q = lay.index_of(label, long=True)
            dm.apply(local_unitary(name), [q])
            if p1:
                dm.apply_pauli_channel({"X": p1 / 3, "Y": p1 / 3, "Z": p1 / 3}, [q])
    return dm


def _decrypt_dense(dm: DensityMatrix, lay: Layout, j: int) -> np.ndarray:
    dm = dm.copy()
    dm.apply_circuit(decryption(lay, j))
    return partial_trace(dm.matrix, list(lay.clone(j)))


def _split(gates: dict[str, str], holders: dict[str, list[str]], parties: list[str]) -> list[dict[str, str]]:
    return [{x: gates[x] for x in holders[p] if x in gates} for p in parties]


#: every gate local for n = 1..3 (fast), and for n = 4 the axis cycle (slow: the dense joint state of
#: n = 4 is a 512 x 512 density matrix)
CASES = [(n, g, kind) for n in range(1, 4) for g in available_gates(n) if g != "I"
         for kind in (("pure", "mixed") if g in ("H", "C_XYZ", "X") else ("mixed",))] + \
        [pytest.param(4, "C_XYZ", "mixed", marks=pytest.mark.slow)]


@pytest.mark.parametrize(("n", "gate", "kind"), CASES)
def test_gate_then_decrypt_any_clone_matches_the_dense_engine(n, gate, kind):
    """Aged, gated (with gate noise) and decrypted: the substrate's output equals the dense engine's
    for the first and the last clone; without noise it is exactly G|ψ⟩ (qiskit.quantum_info)."""
    state = _state(kind, 1)
    lay = Layout(n)
    holders = _holders(lay)
    gates = _gates(lay, gate)
    every = [lay.label(q, long=True) for q in range(lay.num_qubits)]
    aged = {x: (float(RNG.uniform(50, 2000)), 1000.0, 1500.0) for x in every}
    p1 = 0.01
    ref = _dense(state, lay, aged, _split(gates, holders, list(holders)), p1)
    for j in sorted({1, n}):
        sub = Substrate(None)
        sub.create("o", state, n, keep_reference=True, holders=holders)
        for x, (t, t1, t2) in aged.items():
            sub.age("o", [x], t, t1, t2)
        status = sub.apply("o", "op1", gate, gates, list(holders), p1)
        assert status["complete"] and status["gates_applied"] == 1
        out = sub.decrypt("o", j, "a")
        np.testing.assert_allclose(decode_array(out["density_matrix"]), _decrypt_dense(ref, lay, j), atol=1e-10)
    clean = Substrate(None)
    clean.create("o", state, n, keep_reference=True, holders=holders)
    clean.apply("o", "op1", gate, gates, list(holders), 0.0)
    out = clean.decrypt("o", 1, "a")
    np.testing.assert_allclose(decode_array(out["density_matrix"]), _qiskit_gated(state, gate, 1), atol=1e-10)
    assert out["fidelity"] == pytest.approx(1.0, abs=1e-9)  # the kept reference follows G|ψ⟩
    kept = decode_array(out["reference"])
    kept = np.outer(kept, kept.conj()) if kept.ndim == 1 else kept
    np.testing.assert_allclose(kept, _qiskit_gated(state, gate, 1), atol=1e-12)


@pytest.mark.parametrize(("n", "gate", "register_qubits"), [(3, "H", [1]), (2, "C_XYZ", None), (4, "Y", [0])])
def test_registers_and_recovery_from_another_authorized_set(n, gate, register_qubits):
    """A 2-qubit register, a gate on some of its qubits, then a recovery without the vault (the
    custodian's A and every clone) and the plain decryption: both give G on those qubits."""
    k = 2
    state = _state("mixed", k)
    lay = Layout(n, qubits=k)
    holders = _holders(lay)
    gates = _gates(lay, gate, register_qubits)
    expected = _qiskit_gated(state, gate, k, register_qubits)
    for survivors in ([*holders["c1"], *(x for j in range(1, n + 1) for x in holders[f"provider:p{j}"])],
                      [*holders["provider:p2"], *holders["vault"]]):
        sub = Substrate(None)
        sub.create("o", state, n, keep_reference=True, holders=holders)
        sub.apply("o", "op1", gate, gates, list(holders))
        out = sub.recover("o", survivors, "a")
        np.testing.assert_allclose(decode_array(out["density_matrix"]), expected, atol=1e-10)


def test_partial_application_is_the_physical_state_and_blocks_what_it_must():
    """Some holders applied their part, others not: every reduced state equals the dense engine's
    with only those parts applied; a decryption needing a late holder's qubits is refused; one that
    avoids them already gives G|ψ⟩."""
    n, gate = 3, "H"
    state = _state("mixed", 1)
    lay = Layout(n)
    holders = _holders(lay)
    gates = _gates(lay, gate)
    sub = Substrate(None)
    sub.create("o", state, n, keep_reference=True, holders=holders)
    aged = {x: (300.0, 1000.0, 1500.0) for x in ("S0_1", "N0_2", "A0")}
    for x, (t, t1, t2) in aged.items():
        sub.age("o", [x], t, t1, t2)
    first = ["provider:p1", "vault", "c1"]
    status = sub.apply("o", "op1", gate, gates, first, 0.0)
    assert not status["complete"] and status["pending"] == ["provider:p2", "provider:p3"]
    # noise while the late holders have not acted: on their qubits (S3) it happens before their gate
    sub.age("o", ["S0_3"], 500.0, 1000.0, 1500.0)
    dm = _dense(state, lay, aged, _split(gates, holders, first), 0.0)
    px, py, pz = twirled_relaxation(500.0, 1000.0, 1500.0)
    dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [lay.index_of("S0_3", long=True)])
    for qs in ([0, 1], [2, 3, 4], [1, 4, 5, 6], [3, 6]):
        labels = [lay.label(q, long=True) for q in qs]
        np.testing.assert_allclose(sub.peek("o", labels), dm.reduced_density_matrix(qs), atol=1e-10)
    with pytest.raises(ConflictError, match="still being applied"):
        sub.decrypt("o", 2, "a")
    with pytest.raises(ConflictError, match="still being applied"):  # no second gate meanwhile
        sub.apply("o", "op2", "X", _gates(lay, "X"), [], 0.0)
    rho = sub.recover("o", [*holders["provider:p1"], *holders["vault"]], "b")["density_matrix"]
    np.testing.assert_allclose(decode_array(rho), _decrypt_dense(dm, lay, 1), atol=1e-10)


def test_each_part_and_each_gate_counts_once():
    """H twice is the identity, so a part or a gate applied twice would show; it never is: the same
    party again, the same op again (also after completion) change nothing."""
    n = 3
    state = _state("pure", 1)
    lay = Layout(n)
    holders = _holders(lay)
    gates = _gates(lay, "H")
    sub = Substrate(None)
    sub.create("o", state, n, keep_reference=True, holders=holders)
    sub.apply("o", "op1", "H", gates, ["vault", "provider:p1"])
    sub.apply("o", "op1", "H", gates, ["vault", "provider:p1", "provider:p2"])  # repeats vault and p1
    status = sub.apply("o", "op1", "H", gates, list(holders))
    assert status["complete"] and status["gates_applied"] == 1
    again = sub.apply("o", "op1", "H", gates, list(holders))  # the whole op again
    assert again["complete"] and again["gates_applied"] == 1
    with pytest.raises(ConflictError, match="other gates"):
        sub.apply("o", "op1", "X", _gates(lay, "X"), list(holders))
    assert [g["gate"] for g in sub.gate_state("o")["applied"]] == ["H"]
    out = sub.decrypt("o", 3, "a")
    np.testing.assert_allclose(decode_array(out["density_matrix"]), _qiskit_gated(state, "H", 1), atol=1e-10)


def test_a_sequence_composes_as_the_logical_group_and_survives_a_restart(substrate_db):
    """X, then H, then Z, each with its own op: the output is ZHX|ψ⟩; the gates and the ageing
    persist (a new instance on the same file gives the same output as the first)."""
    n = 3
    state = _state("mixed", 1)
    lay = Layout(n)
    holders = _holders(lay)
    sub = substrate_db.open()
    sub.create("o", state, n, keep_reference=True, holders=holders)
    for i, g in enumerate(("X", "H", "Z")):
        sub.apply("o", f"op{i}", g, _gates(lay, g), list(holders))
    reopened = substrate_db.open()
    expected = _qiskit_gated(state, "X", 1)
    expected = reverse_qubits(np.asarray(QiskitDM(reverse_qubits(expected)).evolve(Operator(local_unitary("H"))).data))
    expected = reverse_qubits(np.asarray(QiskitDM(reverse_qubits(expected)).evolve(Operator(local_unitary("Z"))).data))
    assert [g["gate"] for g in reopened.gate_state("o")["applied"]] == ["X", "H", "Z"]
    out = reopened.decrypt("o", 2, "a")
    np.testing.assert_allclose(decode_array(out["density_matrix"]), expected, atol=1e-10)


def test_gates_that_are_not_logical_are_refused():
    n = 3
    lay = Layout(n)
    sub = Substrate(None)
    sub.create("o", parse_state("bloch", [0, 0, 1]), n, keep_reference=True, holders=_holders(lay))
    with pytest.raises(InvalidArgumentError, match="not a logical gate"):
        sub.apply("o", "op1", "H", {"A0": "H"}, [])  # H on A alone leaves the code
    with pytest.raises(InvalidArgumentError, match="holds no qubit"):
        sub.apply("o", "op1", "H", _gates(lay, "H"), ["provider:p9"])
    assert sub.gate_state("o") == {"applied": [], "in_progress": None}


def _signed(substrate_db):
    keys = {p: Identity.generate() for p in ("vault", "c1", "provider:p1", "provider:p2", "provider:p3")}

    def authorize(grant, object_id, attempt, party="vault", purpose="decrypt"):
        return check_grant(grant, keys[party].key_id if party in keys else None, object_id, attempt, purpose=purpose)

    sub = substrate_db.open(authorize=authorize)
    lay = Layout(3)
    holders = _holders(lay)
    sub.create("o", parse_state("bloch", [0.6, 0, 0.8]), 3, keep_reference=True, holders=holders)
    return sub, keys, lay, holders


def test_each_part_needs_its_holders_one_time_receipt(substrate_db):
    sub, keys, lay, holders = _signed(substrate_db)
    gates = _gates(lay, "H")
    mine = {x: gates[x] for x in holders["vault"]}
    good = issue_grant(keys["vault"], "o", f"op1:{gates_digest(mine)}", purpose="apply")
    with pytest.raises(UnauthorizedError):  # none
        sub.apply("o", "op1", "H", gates, ["vault"], authorizations={})
    with pytest.raises(UnauthorizedError):  # a decryption release is no receipt of a gate
        sub.apply("o", "op1", "H", gates, ["vault"],
                  authorizations={"vault": issue_grant(keys["vault"], "o", f"op1:{gates_digest(mine)}")})
    with pytest.raises(UnauthorizedError):  # signed by another holder
        sub.apply("o", "op1", "H", gates, ["vault"], authorizations={
            "vault": issue_grant(keys["c1"], "o", f"op1:{gates_digest(mine)}", purpose="apply")})
    with pytest.raises(UnauthorizedError):  # for other local gates
        sub.apply("o", "op1", "H", gates, ["vault"], authorizations={
            "vault": issue_grant(keys["vault"], "o", f"op1:{gates_digest({'N0_1': 'X'})}", purpose="apply")})
    status = sub.apply("o", "op1", "H", gates, ["vault"], authorizations={"vault": good})
    assert status["done"] == ["vault"]
    # the same part again counts once (its receipt is not even asked for)
    assert sub.apply("o", "op1", "H", gates, ["vault"], authorizations={})["done"] == ["vault"]
    with pytest.raises(UnauthorizedError):  # one party's receipt is no use for another, and nothing is applied
        sub.apply("o", "op1", "H", gates, ["c1", "provider:p1"], authorizations={
            "c1": issue_grant(keys["c1"], "o", f"op1:{gates_digest({'A0': 'H'})}", purpose="apply"),
            "provider:p1": good})
    assert sub.gate_state("o")["in_progress"]["done"] == ["vault"]


_CRASH = """
import sys
from qclone.protocol import Layout
from qclone.protocol.logical import plan
from qclone.storage.inputs import parse_state
from qclone.storage.substrate import Substrate
sub = Substrate(sys.argv[1])
lay = Layout(3)
holders = {**{f"provider:p{j}": [f"S0_{j}"] for j in (1, 2, 3)}, "vault": ["N0_1", "N0_2", "N0_3"], "c1": ["A0"]}
if sys.argv[2] == "create":
    sub.create("o", parse_state("bloch", [0.6, 0.0, 0.8]), 3, keep_reference=True, holders=holders)
else:
    gates = {lay.label(q, long=True): "H" for q in range(7)}
    sub.apply("o", "op1", "H", gates, list(holders), 0.0)
"""


def _run(tmp_path, what: str, crash_at: str) -> int:
    env = dict(os.environ, QCLONE_CRASH_AT=crash_at)
    done = subprocess.run([sys.executable, "-c", _CRASH, str(tmp_path), what], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode in (0, CRASH_EXIT_STATUS), done.stderr
    return done.returncode


def test_process_killed_inside_the_gate_transaction(tmp_path):
    """Killed inside the transaction that writes the gated state: nothing happened; applying again
    applies the gate once (H once: the output is H|ψ⟩, not |ψ⟩)."""
    assert _run(tmp_path, "create", "") == 0
    assert _run(tmp_path, "apply", "substrate.apply.tx") == CRASH_EXIT_STATUS
    assert Substrate(tmp_path).gate_state("o") == {"applied": [], "in_progress": None}
    assert _run(tmp_path, "apply", "") == 0
    assert _run(tmp_path, "apply", "") == 0  # the same op again: nothing more
    out = Substrate(tmp_path).decrypt("o", 1, "a")
    h = local_unitary("H")
    rho = np.array([[0.9, 0.3], [0.3, 0.1]])
    np.testing.assert_allclose(decode_array(out["density_matrix"]), h @ rho @ h.conj().T, atol=1e-10)

