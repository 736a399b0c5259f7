"""StorageService.apply: a logical gate on a stored object, end to end in process (SQLite and
PostgreSQL): the output of the later get against qiskit.quantum_info and the dense engine, the
state checks and their refusals, the audit entries and ``stat``'s history, a holder down halfway
(the gate finished later by the reconciler), idempotency keys and exactly-once application."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import DensityMatrix as QiskitDM
from qiskit.quantum_info import Operator

from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, decryption, protocol_circuit
from qclone.protocol.logical import local_unitary, plan
from qclone.sim.exact import DensityMatrix, partial_trace
from qclone.sim.noise import twirled_relaxation
from qclone.storage.errors import ConflictError, UnavailableError
from qclone.storage.inputs import parse_state
from qclone.storage.service.compute import KEY_HOLDER_NOTE

from .conftest import Stack

TILTED = parse_state("bloch", [0.6, 0.0, 0.8])


def _qiskit(bloch, *gates: str) -> np.ndarray:
    """The one-qubit state of Bloch vector ``bloch`` after ``gates`` (qiskit.quantum_info)."""
    x, y, z = bloch
    rho = QiskitDM(np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2)
    for g in gates:
        rho = rho.evolve(Operator(local_unitary(g)))
    return np.asarray(rho.data)


def test_a_gate_reaches_whichever_clone_is_decrypted(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    svc.gate_error = 0.0  # exact: compared with the noiseless G|ψ⟩ (gate noise has its own test)
    svc.put(alice, "psi", TILTED, clones=3, keep_reference=True, force=True)
    out = svc.apply(alice, "psi", "H")
    assert out["complete"] and out["pending"] == [] and out["gate"] == "H" and out["qubits"] == [0]
    assert out["key_holders"] == ["vault"] and out["note"] == KEY_HOLDER_NOTE  # H touches the key
    assert sorted(p for p in out["done"] if p.startswith("provider:")) == \
        sorted(f"provider:{c['provider']}" for c in svc.stat(alice, "psi")["placement"])
    st = svc.stat(alice, "psi")
    assert st["state"] == "stored" and [g["gate"] for g in st["logical"]["gates"]] == ["H"]
    assert st["logical"]["gates"][0]["key_holders"] == ["vault"] and st["logical"]["in_progress"] is None
    got = svc.get(alice, "psi", ack=True)
    np.testing.assert_allclose(got["density_matrix"], _qiskit([0.6, 0, 0.8], "H"), atol=1e-10)
    assert got["fidelity"] == pytest.approx(1.0, abs=1e-9)
    actions = [e["action"] for e in svc.audit_log(alice)]
    assert actions == ["tenant.create", "put", "apply.begin", "apply", "get", "get.ack"]
    entry = next(e for e in svc.audit_log(alice) if e["action"] == "apply")
    assert entry["detail"]["gate"] == "H" and entry["detail"]["key_holders"] == ["vault"]


def test_a_pauli_needs_no_key_holder_and_gates_compose(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    svc.gate_error = 0.0  # exact: compared with the noiseless G|ψ⟩ (gate noise has its own test)
    svc.put(alice, "psi", TILTED, clones=4, keep_reference=True)
    x = svc.apply(alice, "psi", "X")
    assert x["key_holders"] == [] and x["note"] is None  # the logical Paulis never touch the key
    svc.apply(alice, "psi", "C_XYZ")
    svc.apply(alice, "psi", "Z")
    assert [g["gate"] for g in svc.stat(alice, "psi")["logical"]["gates"]] == ["X", "C_XYZ", "Z"]
    got = svc.get(alice, "psi", ack=True)
    np.testing.assert_allclose(got["density_matrix"], _qiskit([0.6, 0, 0.8], "X", "C_XYZ", "Z"), atol=1e-10)


def test_memory_and_gate_noise_follow_the_dense_engine(stack: Stack) -> None:
    """Stored 600 s, gated, stored 300 s more, retrieved: the output equals the dense engine's
    (every qubit aged at its holder's T1/T2 before and after the gate, each local gate followed by
    its depolarizing gate error), and the fidelity is with H|ψ⟩."""
    svc, alice = stack.service, stack.alice
    svc.gate_error = 0.01
    n = 3
    svc.put(alice, "psi", TILTED, clones=n, keep_reference=True, force=True)
    stack.clock.advance(600.0)
    svc.apply(alice, "psi", "H")
    stack.clock.advance(300.0)
    got = svc.get(alice, "psi", ack=True)
    lay = Layout(n)
    rho = np.array([[0.9, 0.3], [0.3, 0.1]])
    dm = DensityMatrix.from_input(rho, lay.num_qubits)
    dm.apply_circuit(protocol_circuit(lay))
    stored = [q for j in range(1, n + 1) for q in (lay.S(j), lay.N(j))]  # A is held by nobody: never aged
    for t in (600.0, None):
        if t is None:
            for q in lay.labels:
                i = lay.index_of(q)
                dm.apply(local_unitary(plan("H", n).local[i]), [i])
                if i != lay.A():  # A is held by nobody: no gate is performed on it, no gate noise
                    dm.apply_pauli_channel({"X": 0.01 / 3, "Y": 0.01 / 3, "Z": 0.01 / 3}, [i])
            continue
        px, py, pz = twirled_relaxation(t, 3600.0, 3600.0)
        for q in stored:
            dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [q])
    j = int(got["clone"])
    px, py, pz = twirled_relaxation(300.0, 3600.0, 3600.0)
    for q in (lay.S(j), *(lay.N(i) for i in range(1, n + 1))):  # the get ages what it uses
        dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [q])
    dm.apply_circuit(decryption(lay, j))
    expected = partial_trace(dm.matrix, list(lay.clone(j)))
    np.testing.assert_allclose(got["density_matrix"], expected, atol=1e-10)
    h = _qiskit([0.6, 0, 0.8], "H")
    assert got["fidelity"] == pytest.approx(float(np.real(np.trace(h @ expected))), abs=1e-9)
    assert got["fidelity"] < 0.99


def test_refusals(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    svc.gate_error = 0.0  # exact: compared with the noiseless G|ψ⟩ (gate noise has its own test)
    svc.put(alice, "even", TILTED, clones=4)
    with pytest.raises(InvalidArgumentError, match="no local plan"):
        svc.apply(alice, "even", "H")  # H is logical only for odd n
    with pytest.raises(InvalidArgumentError, match="S has no local plan"):
        svc.apply(alice, "even", "S")
    with pytest.raises(InvalidArgumentError, match="unknown gate"):
        svc.apply(alice, "even", "TOFFOLI")
    with pytest.raises(InvalidArgumentError, match="changes nothing"):
        svc.apply(alice, "even", "I")
    with pytest.raises(InvalidArgumentError, match="qubits"):
        svc.apply(alice, "even", "X", qubits=[1])
    svc.get(alice, "even", ack=False)
    with pytest.raises(ConflictError, match="decrypted"):
        svc.apply(alice, "even", "X")
    svc.put(alice, "gone", TILTED, clones=4)
    svc.delete(alice, "gone")
    with pytest.raises(ConflictError, match="deleted"):
        svc.apply(alice, "gone", "X")
    assert [e["detail"]["state"] for e in svc.audit_log(alice) if e["action"] == "apply.refused"] == \
        ["delivering", "deleted"]


def test_a_provider_down_halfway_keeps_the_gate_pending_until_the_reconciler_finishes_it(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider's node fails when asked for its part: the gate completes on every live holder
    and waits for it (the object is 'applying', gets and other gates are refused); once it answers
    the reconciler finishes the gate, once: the output is H|ψ⟩ (H twice would give |ψ⟩ back)."""
    svc, alice = stack.service, stack.alice
    svc.gate_error = 0.0  # exact: compared with the noiseless G|ψ⟩ (gate noise has its own test)
    svc.put(alice, "psi", TILTED, clones=3, keep_reference=True, force=True)
    victim = svc.stat(alice, "psi")["placement"][1]["provider"]
    node = svc.directory.node(next(p for p in svc.providers_list() if p["id"] == victim))
    real = node.apply

    def down(*a, **kw):
        raise UnavailableError(f"provider {victim} is down")

    monkeypatch.setattr(node, "apply", down)
    out = svc.apply(alice, "psi", "H", key="k1")
    assert not out["complete"] and out["pending"] == [f"provider:{victim}"]
    assert svc.stat(alice, "psi")["state"] == "applying"
    assert svc.stat(alice, "psi")["logical"]["in_progress"]["gate"] == "H"
    with pytest.raises(ConflictError, match="logical gate being applied"):
        svc.get(alice, "psi")
    with pytest.raises(ConflictError, match="logical gate being applied"):
        svc.apply(alice, "psi", "X", key="k2")
    with pytest.raises(ConflictError):
        svc.delete(alice, "psi")
    assert svc.recover()["gates"] == 0  # still down: nothing finished
    monkeypatch.setattr(node, "apply", real)
    assert svc.recover()["gates"] == 1  # back: the reconciler's step (start-up form) finishes it
    assert svc.recover()["gates"] == 0
    again = svc.apply(alice, "psi", "H", key="k1")  # the retry with the same key: the same gate, done
    assert again["complete"] and again["op"] == out["op"]
    st = svc.stat(alice, "psi")
    assert st["state"] == "stored" and [g["gate"] for g in st["logical"]["gates"]] == ["H"]
    got = svc.get(alice, "psi", ack=True)
    np.testing.assert_allclose(got["density_matrix"], _qiskit([0.6, 0, 0.8], "H"), atol=1e-10)


def test_the_same_key_applies_once_and_a_restart_finishes_an_interrupted_gate(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    svc.gate_error = 0.0  # exact: compared with the noiseless G|ψ⟩ (gate noise has its own test)
    svc.put(alice, "psi", TILTED, clones=3, keep_reference=True, force=True)
    first = svc.apply(alice, "psi", "H", key="same")
    second = svc.apply(alice, "psi", "H", key="same")
    assert second["op"] == first["op"] and second["complete"]
    assert [g["gate"] for g in svc.stat(alice, "psi")["logical"]["gates"]] == ["H"]
    # a gate interrupted after its claim (the gateway gone): the next start finishes it
    from qclone.storage.models import objects
    from qclone.storage.states import ObjectState, transition

    with svc.db.write() as conn:  # what apply's claim writes, as the crash point apply.claim leaves it
        svc._log(conn, svc._now(), "alice", "apply.begin", tenant_id=alice.id, object_id=first["object_id"],  # noqa: SLF001
                 object_name="psi", gate="H", qubits=[0], op="op2", key="k2", by="alice",
                 gates={lab: "H" for lab in ("A0", "S0_1", "S0_2", "S0_3", "N0_1", "N0_2", "N0_3")})
        conn.execute(transition(ObjectState.STORED, ObjectState.APPLYING, objects.c.id == first["object_id"],
                                attempt="op2", get_key="k2"))
    stack.restart(recover=False)
    stack.service.gate_error = 0.0
    assert stack.service.recover()["gates"] == 1  # what the start-up recovery does
    st = stack.service.stat(alice, "psi")
    assert st["state"] == "stored" and [g["gate"] for g in st["logical"]["gates"]] == ["H", "H"]
    got = stack.service.get(alice, "psi", ack=True)  # H twice: the input again
    np.testing.assert_allclose(got["density_matrix"], _qiskit([0.6, 0, 0.8]), atol=1e-10)


def test_keep_a_custodian_applies_its_part(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    svc.gate_error = 0.0
    svc.holders_add("c1", "custodian")
    svc.put(alice, "kept", TILTED, clones=3, keep_reference=True, force=True, placement="keep-A")
    out = svc.apply(alice, "kept", "H")
    assert out["key_holders"] == ["c1", "vault"] and out["complete"]
    got = svc.get(alice, "kept", ack=True)
    np.testing.assert_allclose(got["density_matrix"], _qiskit([0.6, 0, 0.8], "H"), atol=1e-10)
