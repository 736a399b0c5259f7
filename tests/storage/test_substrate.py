"""The substrate against the dense engine: decryption, leakage, memory noise; persistence and crashes
(processes killed inside and after the decryption transaction)."""

import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Layout, decryption, protocol_circuit
from qclone.sim.core import CoreState
from qclone.sim.exact import (
    DensityMatrix,
    StateVector,
    fidelity,
    partial_trace,
    purification,
    random_density_matrix,
    random_state,
    reverse_qubits,
)
from qclone.sim.noise import twirled_relaxation
from qclone.storage.errors import ConflictError, NotFoundError
from qclone.storage.faults import CRASH_EXIT_STATUS
from qclone.storage.inputs import parse_state
from qclone.storage.substrate import Substrate, encrypt
from qclone.storage.wire import decode_array, encode_array
from tests.storage.conftest import OPEN_SUBSTRATE, SubstrateDB

RNG = np.random.default_rng(88)


def _input(kind: str, k: int):
    if kind == "pure":
        return parse_state("statevector", encode_array(random_state(k, RNG)))
    return parse_state("density", encode_array(random_density_matrix(k, RNG)))


def _engine_rho(state) -> np.ndarray:
    """The input's density matrix in the engines' order (A0 the most significant bit), as the substrate keeps it."""
    return reverse_qubits(state.density)


def _dense_output(state, n: int, j: int) -> np.ndarray:
    """Decrypted clone j of the register, with the input purified on reference qubits (state vectors)."""
    k = state.qubits
    lay = Layout(n, qubits=k, references=0 if state.pure else k)
    if state.pure:
        sv = StateVector.from_input(state.engine_state, lay.num_qubits, input_qubits=lay.inputs)
    else:
        sv = StateVector.from_input(purification(_engine_rho(state)), lay.num_qubits,
                                    input_qubits=list(lay.inputs) + list(lay.reference_qubits))
    sv.apply_circuit(protocol_circuit(lay))
    sv.apply_circuit(decryption(lay, j))
    return sv.reduced_density_matrix(lay.clone(j))


@pytest.mark.parametrize(("kind", "k", "n"), [("pure", 1, 1), ("pure", 1, 4), ("mixed", 1, 3), ("pure", 2, 2),
                                              ("mixed", 2, 2), ("pure", 3, 2)])
def test_decrypt_every_clone_gives_the_input(kind, k, n):
    state = _input(kind, k)
    sub = Substrate(None)
    for j in range(1, n + 1):
        oid = f"o{j}"
        info = sub.create(oid, state, n, keep_reference=True)
        assert info["qubits"] == k and info["clones"] == n
        assert info["clone_qubits"][str(j)] == [f"S{i}_{j}" for i in range(k)]
        out = sub.decrypt(oid, j, "a")
        rho = decode_array(out["density_matrix"])
        dense = _dense_output(state, n, j)
        np.testing.assert_allclose(dense, _engine_rho(state), atol=1e-10)  # the dense engine agrees ...
        np.testing.assert_allclose(rho, dense, atol=1e-10)            # ... and so does the substrate
        assert out["fidelity"] == pytest.approx(1, abs=1e-8)
        assert out["labels"] == info["clone_qubits"][str(j)] and out["clone"] == j


@pytest.mark.parametrize("density_input", [False, True])
def test_fast_encryption_is_the_engine_encryption(density_input):
    state = _input("mixed" if density_input else "pure", 2)
    lay = Layout(3, qubits=2)
    ref = CoreState.from_input(lay.num_qubits, state.engine_state, lay.inputs)
    ref.apply(protocol_circuit(lay))
    assert encrypt(state, 3).to_bytes() == ref.to_bytes()


@pytest.mark.parametrize(("k", "n"), [(1, 2), (1, 3), (2, 2)])
def test_peek_of_one_clone_is_maximally_mixed(k, n):
    state = _input("pure", k)
    sub = Substrate(None)
    info = sub.create("o", state, n, keep_reference=False)
    lay = Layout(n, qubits=k)
    sv = StateVector.from_input(state.engine_state, lay.num_qubits, input_qubits=lay.inputs)
    sv.apply_circuit(protocol_circuit(lay))
    for j in range(1, n + 1):
        labels = info["clone_qubits"][str(j)]
        dense = sv.reduced_density_matrix([lay.index_of(x) for x in labels])
        np.testing.assert_allclose(dense, np.eye(2**k) / 2**k, atol=1e-10)
        np.testing.assert_allclose(sub.peek("o", labels), dense, atol=1e-10)
    keys = info["key_qubits"][:k]
    np.testing.assert_allclose(sub.peek("o", keys), sv.reduced_density_matrix([lay.index_of(x) for x in keys]),
                               atol=1e-10)


def _dense_noisy_output(rho_in, k, n, j, aged: dict[str, tuple[float, float, float]]) -> np.ndarray:
    lay = Layout(n, qubits=k)
    dm = DensityMatrix.from_input(rho_in, lay.num_qubits)
    dm.apply_circuit(protocol_circuit(lay))
    for label, (t, t1, t2) in aged.items():
        px, py, pz = twirled_relaxation(t, t1, t2)
        dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [lay.index_of(label)])
    dm.apply_circuit(decryption(lay, j))
    return partial_trace(dm.matrix, list(lay.clone(j)))


@pytest.mark.parametrize(("kind", "k", "n", "j"), [("pure", 1, 3, 2), ("mixed", 1, 2, 1), ("mixed", 2, 1, 1)])
def test_memory_noise_matches_the_dense_channel(kind, k, n, j):
    state = _input(kind, k)
    sub = Substrate(None)
    info = sub.create("o", state, n, keep_reference=True)
    clone, keys = info["clone_qubits"][str(j)], info["key_qubits"]
    other = info["clone_qubits"][str(1 if j != 1 else 2)] if n > 1 else []
    sub.age("o", clone, 900.0, 3600.0, 2000.0)
    sub.age("o", keys, 1500.0, 1000.0, 1500.0)
    sub.age("o", other, 3000.0, 100.0, 50.0)  # noise on another clone does not matter
    out = sub.decrypt("o", j, "a")
    aged = {x: (900.0, 3600.0, 2000.0) for x in clone} | {x: (1500.0, 1000.0, 1500.0) for x in keys}
    aged |= {x: (3000.0, 100.0, 50.0) for x in other}
    dense = _dense_noisy_output(_engine_rho(state), k, n, j, aged)
    rho = decode_array(out["density_matrix"])
    np.testing.assert_allclose(rho, dense, atol=1e-10)
    assert out["fidelity"] == pytest.approx(fidelity(state.engine_state, dense), abs=1e-9)
    assert out["fidelity"] < 0.99


@pytest.mark.parametrize(("kind", "k", "n"), [("pure", 1, 3), ("mixed", 1, 3), ("mixed", 2, 1)])
def test_noise_on_every_qubit_matches_the_dense_channel(kind, k, n):
    """Decryption's Pauli-channel shortcut, with noise on every qubit (inputs, every clone, keys)."""
    state = _input(kind, k)
    lay = Layout(n, qubits=k)
    labels = [lay.label(q, long=True) for q in range(lay.num_qubits)]
    times = {x: (float(RNG.uniform(100, 3000)), 1000.0, 1500.0) for x in labels}
    for j in range(1, n + 1):
        sub = Substrate(None)
        sub.create("o", state, n, keep_reference=True)
        for x, (t, t1, t2) in times.items():
            sub.age("o", [x], t, t1, t2)
        rho = decode_array(sub.decrypt("o", j, "a")["density_matrix"])
        np.testing.assert_allclose(rho, _dense_noisy_output(_engine_rho(state), k, n, j, times), atol=1e-10)


@pytest.mark.parametrize("kind", ["pure", "mixed"])
def test_decryption_shortcut_is_the_engine_decryption(kind):
    """k = 3 (too large for dense matrices of the whole register): the engine applying the decryption
    circuit to the aged joint state and tracing out gives the same output."""
    k, n = 3, 2
    state = _input(kind, k)
    lay = Layout(n, qubits=k)
    channels = [(q, *twirled_relaxation(float(RNG.uniform(100, 3000)), 1000.0, 1500.0)) for q in range(lay.num_qubits)]
    for j in range(1, n + 1):
        sub = Substrate(None)
        sub.create("o", state, n, keep_reference=False)
        sub._states["o"].noise = list(channels)  # noqa: SLF001 - what age() records
        engine = encrypt(state, n)
        for q, px, py, pz in channels:
            engine.apply_pauli_channel(q, px, py, pz)
        engine.apply(decryption(lay, j))
        expected = engine.reduced_density_matrix(lay.clone(j))
        np.testing.assert_allclose(decode_array(sub.decrypt("o", j, "a")["density_matrix"]), expected, atol=1e-10)


def test_age_is_idempotent_in_the_total_storage_time():
    state = parse_state("bloch", [0.6, 0, 0.8])
    sub = Substrate(None)
    info = sub.create("once", state, 2, keep_reference=True)
    sub.create("steps", state, 2, keep_reference=True)
    labels = info["clone_qubits"]["1"] + info["key_qubits"]
    sub.age("once", labels, 2000.0, 3600.0, 3600.0)
    for total in (500.0, 500.0, 1200.0, 300.0, 2000.0):  # repeats and a smaller total change nothing
        sub.age("steps", labels, total, 3600.0, 3600.0)
    a = decode_array(sub.decrypt("once", 1, "x")["density_matrix"])
    b = decode_array(sub.decrypt("steps", 1, "x")["density_matrix"])
    np.testing.assert_allclose(a, b, atol=1e-12)
    dense = _dense_noisy_output(_engine_rho(state), 1, 2, 1, {x: (2000.0, 3600.0, 3600.0) for x in labels})
    np.testing.assert_allclose(a, dense, atol=1e-10)


def test_persistence_across_instances(substrate_db):
    state = _input("mixed", 2)
    sub = substrate_db.open()
    info = sub.create("obj-1", state, 3, keep_reference=True)
    assert sub.health()["objects"] == 1
    again = substrate_db.open()
    assert again.exists("obj-1")
    assert again.describe("obj-1") == info
    out = again.decrypt("obj-1", 3, "att")
    np.testing.assert_allclose(decode_array(out["density_matrix"]), _engine_rho(state), atol=1e-10)
    assert substrate_db.rows() == ([], ["obj-1"])
    third = substrate_db.open(durable=True)
    assert not third.exists("obj-1")
    assert third.output("obj-1") == out
    assert third.decrypt("obj-1", 3, "att") == out
    assert third.health() | {"data_dir": None} == {"status": "ok", "role": "substrate", "objects": 0,
                                                   "outputs": 1, "data_dir": None, "durable": True}
    third.release("obj-1")
    assert substrate_db.open().output("obj-1") is None
    assert substrate_db.rows() == ([], [])


@pytest.mark.parametrize("kind", ["pure", "mixed"])
def test_reloaded_joint_state_is_the_encrypted_input(tmp_path, kind):
    """The row keeps the input; the joint state built from it after a restart is, bit for bit, the
    engine's encryption of the input."""
    state = _input(kind, 2)
    Substrate(tmp_path).create("o", state, 3, keep_reference=False)
    again = Substrate(tmp_path)
    assert again.exists("o")
    lay = Layout(3, qubits=2)
    ref = CoreState.from_input(lay.num_qubits, state.engine_state, lay.inputs)
    ref.apply(protocol_circuit(lay))
    assert again._states["o"].state.to_bytes() == ref.to_bytes()  # noqa: SLF001 - the state it holds after a restart
    np.testing.assert_allclose(again.peek("o", ["S0_1", "S1_1"]), np.eye(4) / 4, atol=1e-10)


def test_aged_state_lost_in_a_restart_is_aged_again(substrate_db):
    """Not shared (SQLite), the ageing is in the first process only, and aged again after a restart;
    shared (PostgreSQL), it was written with its record, and ageing again adds nothing."""
    state = parse_state("bloch", [0, 0.6, 0.8])
    sub = substrate_db.open()
    info = sub.create("o", state, 2, keep_reference=True)
    labels = info["clone_qubits"]["2"] + info["key_qubits"]
    sub.age("o", labels, 700.0, 1000.0, 800.0)
    restarted = substrate_db.open()
    restarted.age("o", labels, 700.0, 1000.0, 800.0)
    out = restarted.decrypt("o", 2, "a")
    dense = _dense_noisy_output(_engine_rho(state), 1, 2, 2, {x: (700.0, 1000.0, 800.0) for x in labels})
    np.testing.assert_allclose(decode_array(out["density_matrix"]), dense, atol=1e-10)


def test_joint_state_and_output_never_coexist(substrate_db):
    sub = substrate_db.open()
    sub.create("o", _input("pure", 1), 2, keep_reference=True)
    with substrate_db.connect() as c:
        joint = c.execute("SELECT blob FROM joint WHERE object_id = 'o'").fetchone()[0]
        with pytest.raises(substrate_db.integrity_error, match="joint state still present"):
            c.execute("INSERT INTO outputs VALUES ('o', 'x', '{}')")
    sub.decrypt("o", 1, "first")
    with substrate_db.connect() as c:
        with pytest.raises(substrate_db.integrity_error, match="already decrypted"):
            c.execute(substrate_db.sql("INSERT INTO joint VALUES ('o', ?)"), (joint,))
    assert substrate_db.rows() == ([], ["o"])


_CRASH_SCRIPT = OPEN_SUBSTRATE + """
import sys
from qclone.storage.faults import crash_point
from qclone.storage.inputs import parse_state
sub = open_substrate(sys.argv[1])
if sys.argv[2] == "create":
    sub.create("o", parse_state("bloch", [0.6, 0.0, 0.8]), 2, keep_reference=True)
else:
    sub.decrypt("o", 2, "first")
crash_point("test.returned")  # killed (os._exit, no clean-up) right after the call returned
"""


def _run_until_crash(where, what: str, crash_at: str | None) -> int:
    env = dict(os.environ, QCLONE_CRASH_AT=crash_at or "")
    done = subprocess.run([sys.executable, "-c", _CRASH_SCRIPT, where.arg, what], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, CRASH_EXIT_STATUS), done.stderr
    return done.returncode


def test_process_killed_inside_the_decryption_transaction(tmp_path):
    """A process killed after deleting the joint state and inserting the output, before the commit:
    neither happened, the object is still there to be decrypted once."""
    substrate_db = SubstrateDB(tmp_path)  # on PostgreSQL: tests/storage/test_substrate_pg_processes.py
    assert _run_until_crash(substrate_db, "create", None) == 0
    assert _run_until_crash(substrate_db, "decrypt", "substrate.decrypt.tx") == CRASH_EXIT_STATUS
    assert substrate_db.rows() == (["o"], [])
    sub = substrate_db.open()
    assert sub.exists("o") and sub.output("o") is None
    out = sub.decrypt("o", 1, "second")
    assert out["fidelity"] == pytest.approx(1, abs=1e-9)
    with pytest.raises(ConflictError, match="another attempt"):
        substrate_db.open().decrypt("o", 2, "first")


def test_process_killed_after_the_decryption_commit(tmp_path):
    """Killed right after decrypt returned: the output is there, the joint state is gone, the same
    attempt gets the same output and no other attempt any."""
    substrate_db = SubstrateDB(tmp_path)  # on PostgreSQL: tests/storage/test_substrate_pg_processes.py
    assert _run_until_crash(substrate_db, "create", "test.returned") == CRASH_EXIT_STATUS
    assert _run_until_crash(substrate_db, "decrypt", "test.returned") == CRASH_EXIT_STATUS
    assert substrate_db.rows() == ([], ["o"])
    sub = substrate_db.open()
    assert not sub.exists("o")
    assert sub.decrypt("o", 2, "first")["fidelity"] == pytest.approx(1, abs=1e-9)
    with pytest.raises(ConflictError, match="another attempt"):
        sub.decrypt("o", 1, "second")


def test_process_killed_inside_the_create_transaction(tmp_path):
    substrate_db = SubstrateDB(tmp_path)  # on PostgreSQL: tests/storage/test_substrate_pg_processes.py
    assert _run_until_crash(substrate_db, "create", "substrate.create.tx") == CRASH_EXIT_STATUS
    assert substrate_db.rows() == ([], [])
    sub = substrate_db.open()
    assert not sub.exists("o")
    with pytest.raises(NotFoundError):
        sub.decrypt("o", 1, "a")
    sub.create("o", _input("pure", 1), 2, keep_reference=False)
    assert substrate_db.open().exists("o")


@pytest.mark.parametrize("data_dir", [None, "tmp"])
def test_state_machine_errors(tmp_path, data_dir):
    sub = Substrate(tmp_path if data_dir else None)
    state = _input("pure", 1)
    first = sub.create("o", state, 3, keep_reference=False)
    assert sub.create("o", _input("pure", 1), 3, keep_reference=True) == first  # idempotent
    with pytest.raises(ConflictError, match="exists with 1 qubits and 3 clones"):
        sub.create("o", state, 2, keep_reference=False)
    with pytest.raises(InvalidArgumentError, match=r"clone must be an integer in 1\.\.3"):
        sub.decrypt("o", 4, "a")
    with pytest.raises(InvalidArgumentError, match="unknown qubit label"):
        sub.peek("o", ["Q1"])
    with pytest.raises(InvalidArgumentError, match="clone index"):
        sub.age("o", ["S0_9"], 1.0, 10.0, 10.0)
    with pytest.raises(InvalidArgumentError, match="T2"):
        sub.age("o", ["S0_1"], 1.0, 10.0, 30.0)
    out = sub.decrypt("o", 2, "a")
    assert out["fidelity"] is None
    assert sub.decrypt("o", 2, "a") == out
    with pytest.raises(ConflictError):
        sub.decrypt("o", 2, "b")
    with pytest.raises(ConflictError, match="already been decrypted"):
        sub.peek("o", ["S0_1"])
    with pytest.raises(ConflictError, match="already been decrypted"):
        sub.age("o", ["S0_1"], 1.0, 10.0, 10.0)
    with pytest.raises(ConflictError, match="already been decrypted"):
        sub.create("o", state, 3, keep_reference=False)
    sub.release("o")
    sub.release("o")
    assert sub.output("o") is None
    with pytest.raises(NotFoundError):
        sub.decrypt("o", 2, "a")
    with pytest.raises(NotFoundError):
        sub.sample("o", "Z", 10, 1)
    sub.create("p", state, 2, keep_reference=False)
    sub.discard("p")
    sub.discard("p")
    assert not sub.exists("p")
    for bad in ("", "../x", "a/b", ".hidden", "x" * 129, 5):
        with pytest.raises(InvalidArgumentError, match="object id"):
            sub.exists(bad)
    with pytest.raises(InvalidArgumentError, match="InputState"):
        sub.create("q", [1, 0], 2, keep_reference=False)
    with pytest.raises(InvalidArgumentError, match="at least 1"):
        sub.create("q", state, 0, keep_reference=False)
    with pytest.raises(TooLargeError):
        sub.create("q", state, 1000, keep_reference=False)
    with pytest.raises(InvalidArgumentError, match="attempt"):
        sub.decrypt("q", 1, "")


def test_sample_bases():
    sub = Substrate(None)
    for oid, bloch, basis in [("z", [0, 0, 1], "Z"), ("x", [1, 0, 0], "X"), ("y", [0, 1, 0], "y"),
                              ("m", [0, 0, -1], "Z")]:
        sub.create(oid, parse_state("bloch", bloch), 2, keep_reference=False)
        sub.decrypt(oid, 1, "a")
        expected = "1" if oid == "m" else "0"
        assert set(sub.sample(oid, basis, 50, 3)) == {expected}
    # qubit 0 |+>, qubit 1 |0> (Qiskit's order); the substrate's samples list A0 first:
    # the second character always 0 in Z, the first uniform in Z
    two = parse_state("statevector", [1 / np.sqrt(2), 1 / np.sqrt(2), 0, 0])
    sub.create("two", two, 2, keep_reference=False)
    sub.decrypt("two", 2, "a")
    shots = sub.sample("two", "Z", 4000, 7)
    assert {s[1] for s in shots} == {"0"}
    ones = sum(s[0] == "1" for s in shots)
    assert abs(ones - 2000) < 5 * np.sqrt(4000 * 0.25)
    assert set(sub.sample("two", "X", 200, 1)) <= {"00", "01"}
    assert sub.sample("two", "Z", 100, 5) == sub.sample("two", "Z", 100, 5)
    with pytest.raises(InvalidArgumentError, match="basis"):
        sub.sample("two", "W", 10, None)
    with pytest.raises(TooLargeError):
        sub.sample("two", "Z", 10**7, None)


def test_biased_sample_statistics():
    sub = Substrate(None)
    sub.create("o", parse_state("bloch", [0.6, 0, 0.8]), 3, keep_reference=False)
    sub.decrypt("o", 3, "a")
    shots = sub.sample("o", "Z", 5000, 11)
    p0 = 0.9  # (1 + z) / 2
    zeros = shots.count("0")
    assert abs(zeros - 5000 * p0) < 5 * np.sqrt(5000 * p0 * (1 - p0))


def test_concurrent_decryptions_only_one_wins_in_memory():
    sub = Substrate(None)
    sub.create("o", _input("pure", 1), 4, keep_reference=True)
    results, errors = _decrypt_race(lambda i: sub)
    assert len(results) == 1 and len(errors) == 7


def test_concurrent_decryptions_only_one_wins(substrate_db):
    sub = substrate_db.open()
    sub.create("o", _input("pure", 1), 4, keep_reference=True)
    results, errors = _decrypt_race(lambda i: sub)
    assert len(results) == 1 and len(errors) == 7


def test_copy_of_data_dir_is_a_snapshot(tmp_path):
    """The database file is the whole truth: a copied data directory is an independent substrate."""
    sub = Substrate(tmp_path / "a")
    sub.create("o", _input("pure", 1), 2, keep_reference=True)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    sub.decrypt("o", 1, "a")
    other = Substrate(tmp_path / "b")
    assert other.exists("o")
    assert other.decrypt("o", 2, "b")["fidelity"] == pytest.approx(1, abs=1e-9)


def test_cache_eviction_reloads_from_the_database(tmp_path, monkeypatch):
    from qclone.storage import substrate as substrate_module

    monkeypatch.setattr(substrate_module, "_CACHE_SIZE", 1)
    state = parse_state("bloch", [0.8, 0.6, 0])
    sub = Substrate(tmp_path)
    info = sub.create("a", state, 2, keep_reference=True)
    labels = info["clone_qubits"]["1"] + info["key_qubits"]
    sub.age("a", labels, 1000.0, 2000.0, 2000.0)
    sub.create("b", state, 2, keep_reference=True)  # evicts "a" and its ageing
    sub.age("a", labels, 1000.0, 2000.0, 2000.0)    # re-applied from the file's record
    out = sub.decrypt("a", 1, "x")
    dense = _dense_noisy_output(_engine_rho(state), 1, 2, 1, {x: (1000.0, 2000.0, 2000.0) for x in labels})
    np.testing.assert_allclose(decode_array(out["density_matrix"]), dense, atol=1e-10)
    assert sub.decrypt("b", 2, "y")["fidelity"] == pytest.approx(1, abs=1e-9)


def test_corrupt_rows_are_unavailable_not_bad_input(substrate_db):
    from qclone.storage.errors import UnavailableError

    substrate_db.open().create("o", _input("pure", 1), 2, keep_reference=False)
    with substrate_db.connect() as c:
        data = bytearray(c.execute("SELECT blob FROM joint").fetchone()[0])
        data[len(data) // 2] ^= 0xFF
        c.execute(substrate_db.sql("UPDATE joint SET blob = ?"), (bytes(data),))
    with pytest.raises(UnavailableError, match="corrupt"):
        substrate_db.open().exists("o")
    with substrate_db.connect() as c:
        c.execute("DELETE FROM joint")
        c.execute("INSERT INTO outputs VALUES ('o', 'a', '{not json')")
    with pytest.raises(UnavailableError, match="cannot read"):
        substrate_db.open().output("o")


def test_shared_instances_on_one_file_see_each_others_changes(substrate_db):
    """shared=True: two instances (as two worker processes would) on one file or PostgreSQL schema;
    each sees what the other did, and a stale cache never allows a second decryption."""
    state = _input("pure", 1)
    a, b = substrate_db.open(shared=True), substrate_db.open(shared=True)
    info = a.create("o", state, 3, keep_reference=True)
    assert b.create("o", _input("pure", 1), 3, keep_reference=True) == info  # idempotent, decided by the row
    with pytest.raises(ConflictError, match="exists with"):
        b.create("o", state, 2, keep_reference=True)
    assert a.exists("o") and b.exists("o")  # both now hold "o" in their caches
    out = b.decrypt("o", 2, "att-b")
    assert not a.exists("o")
    assert a.output("o") == out
    assert a.decrypt("o", 2, "att-b") == out  # the same attempt gets the same output
    with pytest.raises(ConflictError):
        a.decrypt("o", 1, "att-a")
    b.release("o")
    assert a.output("o") is None and substrate_db.rows() == ([], [])
    # released: the joint state is gone for good, whatever a's cache held
    with pytest.raises(NotFoundError):
        a.decrypt("o", 1, "att-a")
    # a row created anew under the same id is not mistaken for a cached older one
    c = substrate_db.open(shared=True)
    a.create("p", parse_state("bloch", [0, 0, 1]), 2, keep_reference=True)
    assert c.exists("p")
    a.discard("p")
    a.create("p", parse_state("bloch", [1, 0, 0]), 2, keep_reference=True)
    fresh = decode_array(c.decrypt("p", 1, "x")["density_matrix"])
    np.testing.assert_allclose(fresh, [[0.5, 0.5], [0.5, 0.5]], atol=1e-10)


def test_stale_cache_never_decrypts_a_released_object(substrate_db):
    """The decryption transaction commits only if it deleted the joint state itself: an instance whose
    cache still holds the object after another instance decrypted and released it writes nothing."""
    a, b = substrate_db.open(shared=True), substrate_db.open(shared=True)
    a.create("o", _input("pure", 1), 2, keep_reference=True)
    entry = b._entry("o")  # noqa: SLF001 - b holds the live state
    a.decrypt("o", 1, "first")
    a.release("o")
    # force b past its existence check, as if a decrypted between b's check and b's transaction
    assert not b._commit_decryption("o", "second", {"attempt": "second"})  # noqa: SLF001 - the commit step alone
    assert entry is not None and substrate_db.rows() == ([], [])


def test_shared_instances_concurrent_decryptions_one_winner(substrate_db):
    """Two shared instances, four threads each, all decrypting one object: exactly one wins."""
    subs = [substrate_db.open(shared=True) for _ in range(2)]
    subs[0].create("o", _input("pure", 1), 4, keep_reference=True)
    for s in subs:
        assert s.exists("o")
    results, errors = _decrypt_race(lambda i: subs[i % 2])
    assert len(results) == 1 and len(errors) == 7
    assert substrate_db.rows() == ([], ["o"])
    assert subs[0].output("o") == subs[1].output("o") == results[0]


def test_shared_needs_a_data_dir():
    with pytest.raises(InvalidArgumentError, match="data dir"):
        Substrate(None, shared=True)


def _decrypt_race(substrate_for, threads: int = 8) -> tuple[list, list]:
    """``threads`` threads decrypt object "o" at once (thread i through ``substrate_for(i)``, clone
    1 + i % 4, its own attempt); the outputs and the ConflictErrors."""
    results, errors = [], []

    def get(i: int) -> None:
        try:
            results.append(substrate_for(i).decrypt("o", 1 + i % 4, f"attempt-{i}"))
        except ConflictError as e:
            errors.append(e)

    pool = [threading.Thread(target=get, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results, errors
