"""Substrate.recover: the output of a recovery from any authorized set, against the dense engine;
the release of every holder whose qubits it uses; exactly once."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from qclone.analysis.recovery import UnauthorizedSetError, find_recovery
from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, protocol_circuit
from qclone.sim.exact import (
    DensityMatrix,
    fidelity,
    partial_trace,
    random_density_matrix,
    random_state,
    reverse_qubits,
)
from qclone.sim.noise import twirled_relaxation
from qclone.storage.errors import ConflictError, UnauthorizedError
from qclone.storage.faults import CRASH_EXIT_STATUS
from qclone.storage.inputs import parse_state
from qclone.storage.rpc.keys import Identity, check_grant, issue_grant
from qclone.storage.substrate import Substrate
from qclone.storage.wire import decode_array, encode_array

RNG = np.random.default_rng(1616)


def _input(kind: str, k: int):
    if kind == "pure":
        return parse_state("statevector", encode_array(random_state(k, RNG)))
    return parse_state("density", encode_array(random_density_matrix(k, RNG)))


def _labels(lay: Layout, regs: list[str]) -> list[str]:
    out = []
    for r in regs:
        qs = lay.inputs if r == "A" else lay.clone(int(r[1:])) if r[0] == "S" else lay.key(int(r[1:]))
        out += [lay.label(q, long=True) for q in qs]
    return out


def _engine_rho(state) -> np.ndarray:
    """The input's density matrix in the engines' order (A0 the most significant bit), as the substrate keeps it."""
    return reverse_qubits(state.density)


def _dense(rho_in, lay: Layout, aged: dict[str, tuple[float, float, float]], survivors: list[str]) -> np.ndarray:
    """The dense engine: encrypt, age every listed qubit, apply the recovery Clifford, trace to its targets."""
    dm = DensityMatrix.from_input(rho_in, lay.num_qubits)
    dm.apply_circuit(protocol_circuit(lay))
    for label, (t, t1, t2) in aged.items():
        px, py, pz = twirled_relaxation(t, t1, t2)
        dm.apply_pauli_channel({"X": px, "Y": py, "Z": pz}, [lay.index_of(label)])
    rec = find_recovery(lay, [lay.index_of(x) for x in survivors])
    dm.apply_circuit(rec.circuit)
    return partial_trace(dm.matrix, list(rec.targets))


@pytest.mark.parametrize(("kind", "k", "n", "regs"), [
    ("pure", 1, 2, ["A", "S1", "S2"]),              # no key at all (the [[5,1,3]] code)
    ("mixed", 1, 3, ["A", "S1", "S2", "S3"]),       # keep-A without the vault, odd n
    ("pure", 1, 4, ["S1", "S2", "S3", "S4", "N3", "N4"]),   # split key: half of it and every clone
    ("mixed", 1, 2, ["S1", "N1", "N2"]),            # the plain decryption
    ("pure", 2, 2, ["A", "S1", "S2"]),              # a 2-qubit register
])
def test_recovery_output_matches_the_dense_engine(kind, k, n, regs):
    state = _input(kind, k)
    lay = Layout(n, qubits=k)
    sub = Substrate(None)
    sub.create("o", state, n, keep_reference=True)
    every = [lay.label(q, long=True) for q in range(lay.num_qubits)]
    aged = {x: (float(RNG.uniform(100, 3000)), 1000.0, 1500.0) for x in every}
    for x, (t, t1, t2) in aged.items():
        sub.age("o", [x], t, t1, t2)
    survivors = _labels(lay, regs)
    out = sub.recover("o", survivors, "a1")
    rho = decode_array(out["density_matrix"])
    np.testing.assert_allclose(rho, _dense(_engine_rho(state), lay, aged, survivors), atol=1e-10)
    assert out["fidelity"] == pytest.approx(fidelity(_engine_rho(state), rho), abs=1e-9)
    assert set(out["used"]) <= set(survivors) and not sub.exists("o")


@pytest.mark.parametrize(("k", "n", "regs"), [(1, 2, ["A", "S1", "S2"]), (1, 5, ["A", *[f"S{j}" for j in range(1, 6)]]),
                                              (2, 3, ["S2", "N1", "N2", "N3"])])
def test_noiseless_recovery_gives_the_input_exactly(k, n, regs):
    state = _input("mixed", k)
    lay = Layout(n, qubits=k)
    sub = Substrate(None)
    sub.create("o", state, n, keep_reference=True)
    out = sub.recover("o", _labels(lay, regs), "a1")
    np.testing.assert_allclose(decode_array(out["density_matrix"]), _engine_rho(state), atol=1e-12)
    assert out["fidelity"] == pytest.approx(1.0, abs=1e-12)


def test_unauthorized_sets_are_refused_with_the_reason_and_nothing_is_consumed():
    sub = Substrate(None)
    sub.create("o", parse_state("bloch", [0, 0, 1]), 3, keep_reference=False)
    lay = Layout(3)
    with pytest.raises(UnauthorizedSetError, match="Y component"):
        sub.recover("o", _labels(lay, ["S1", "S2", "S3"]), "a1")
    with pytest.raises(UnauthorizedSetError, match="learns nothing"):
        sub.recover("o", _labels(lay, ["N1", "N2", "N3"]), "a1")
    assert sub.exists("o")


def test_exactly_once_and_the_rest_learns_nothing():
    """Whatever the rest of a recovery holds is independent of the input (its reduced state is the
    same for orthogonal inputs), and a second recovery is refused; the same attempt is idempotent."""
    lay = Layout(4)
    rest = _labels(lay, ["N1", "N2", "N3", "N4"])
    seen = []
    for bloch in ([0, 0, 1], [0, 0, -1], [1, 0, 0]):
        sub = Substrate(None)
        sub.create("o", parse_state("bloch", bloch), 4, keep_reference=True)
        seen.append(sub.peek("o", rest))  # what the vault holds: untouched by a recovery that does without it
        first = sub.recover("o", _labels(lay, ["A", "S1", "S2", "S3", "S4"]), "a1")
        assert first["fidelity"] == pytest.approx(1.0) and first["clone"] is None
        assert sub.recover("o", _labels(lay, ["A", "S1", "S2", "S3", "S4"]), "a1") == first
        with pytest.raises(ConflictError):
            sub.recover("o", rest, "a2")
        with pytest.raises(ConflictError):
            sub.decrypt("o", 1, "a3")
    for rho in seen[1:]:
        np.testing.assert_allclose(rho, seen[0], atol=1e-12)
    np.testing.assert_allclose(seen[0], np.eye(16) / 16, atol=1e-12)


def _signed(substrate_db):
    keys = {p: Identity.generate() for p in ("vault", "custodian-1", "vault-2")}

    def authorize(grant, object_id, attempt, party="vault"):
        return check_grant(grant, keys[party].key_id if party in keys else None, object_id, attempt)

    sub = substrate_db.open(authorize=authorize)
    lay = Layout(4)
    holders = {"vault": _labels(lay, ["N1", "N2"]), "vault-2": _labels(lay, ["N3", "N4"]), "custodian-1": _labels(lay, ["A"])}
    sub.create("o", parse_state("bloch", [0, 1, 0]), 4, keep_reference=True, holders=holders)
    return sub, keys, lay


def test_recovery_needs_the_release_of_every_holder_it_uses(substrate_db):
    sub, keys, lay = _signed(substrate_db)
    assert sub.holders("o")["custodian-1"] == ["A0"]
    survivors = _labels(lay, ["A", "S1", "S2", "S3", "S4"])  # uses the custodian only (and the providers)
    with pytest.raises(UnauthorizedError):
        sub.recover("o", survivors, "a1", authorizations={})
    with pytest.raises(UnauthorizedError):  # another holder's release is no use
        sub.recover("o", survivors, "a1", authorizations={"custodian-1": issue_grant(keys["vault"], "o", "a1")})
    with pytest.raises(UnauthorizedError):  # for another attempt
        sub.recover("o", survivors, "a1", authorizations={"custodian-1": issue_grant(keys["custodian-1"], "o", "a0")})
    assert sub.exists("o")
    grant = issue_grant(keys["custodian-1"], "o", "a1")
    out = sub.recover("o", survivors, "a1", authorizations={"custodian-1": grant})
    assert out["parties"] == ["custodian-1"] and out["fidelity"] == pytest.approx(1.0)


def test_a_split_key_needs_both_vaults_and_a_release_is_used_once(substrate_db):
    sub, keys, lay = _signed(substrate_db)
    survivors = _labels(lay, ["S2", "N1", "N2", "N3", "N4"])  # the plain decryption of clone 2
    both = {p: issue_grant(keys[p], "o", "a1") for p in ("vault", "vault-2")}
    with pytest.raises(UnauthorizedError):
        sub.recover("o", survivors, "a1", authorizations={"vault": both["vault"]})
    sub2 = substrate_db.open(authorize=sub._authorize)  # noqa: SLF001 - the same file or schema, another instance
    out = sub2.recover("o", survivors, "a1", authorizations=both)
    assert out["clone"] == 2 and out["parties"] == ["vault", "vault-2"]
    with pytest.raises(UnauthorizedError, match="used already"):  # replaying the releases
        sub2.recover("o", survivors, "a1", authorizations=both)


_CRASH = """
import sys
from qclone.storage.inputs import parse_state
from qclone.storage.substrate import Substrate
sub = Substrate(sys.argv[1])
if sys.argv[2] == "create":
    sub.create("o", parse_state("bloch", [0.6, 0.0, 0.8]), 2, keep_reference=True)
else:
    sub.recover("o", ["A0", "S0_1", "S0_2"], "first")
"""


def _crash(tmp_path, what: str, crash_at: str) -> int:
    env = dict(os.environ, QCLONE_CRASH_AT=crash_at)
    done = subprocess.run([sys.executable, "-c", _CRASH, str(tmp_path), what], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode in (0, CRASH_EXIT_STATUS), done.stderr
    return done.returncode


def test_process_killed_inside_the_recovery_transaction(tmp_path):
    """Killed after deleting the joint state and inserting the output, before the commit: neither
    happened; the object is still there to be recovered once (by another set too)."""
    assert _crash(tmp_path, "create", "") == 0
    assert _crash(tmp_path, "recover", "substrate.decrypt.tx") == CRASH_EXIT_STATUS
    sub = Substrate(tmp_path)
    assert sub.exists("o") and sub.output("o") is None
    assert sub.recover("o", ["S0_2", "N0_1", "N0_2"], "second")["clone"] == 2
    with pytest.raises(ConflictError, match="another attempt"):
        Substrate(tmp_path).recover("o", ["A0", "S0_1", "S0_2"], "first")


def test_concurrent_recoveries_from_different_sets_one_wins(substrate_db):
    """Eight threads over two instances sharing the file (or PostgreSQL schema), each recovering from
    another authorized set (or decrypting): exactly one output, every other attempt refused."""
    substrate_db.open().create("o", parse_state("bloch", [0, 0, 1]), 4, keep_reference=True)
    subs = [substrate_db.open(shared=True) for _ in range(2)]
    lay = Layout(4)
    sets = [["A", "S1", "S2", "S3", "S4"], ["S1", "N1", "N2", "N3", "N4"], ["S1", "S2", "S3", "S4", "N3"],
            ["A", "S2", "N2"]]
    results, errors = [], []

    def go(i: int) -> None:
        try:
            if i == 7:
                results.append(subs[i % 2].decrypt("o", 3, f"a{i}"))
            else:
                results.append(subs[i % 2].recover("o", _labels(lay, sets[i % 4]), f"a{i}"))
        except ConflictError as e:
            errors.append(e)

    pool = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert len(results) == 1 and len(errors) == 7
    assert results[0]["fidelity"] == pytest.approx(1.0)


def test_a_clone_is_released_by_the_provider_holding_it_even_after_it_moved(substrate_db):
    keys = {p: Identity.generate() for p in ("vault", "provider:p1", "provider:p2", "provider:p9")}

    def authorize(grant, object_id, attempt, party="vault"):
        return check_grant(grant, keys[party].key_id if party in keys else None, object_id, attempt)

    sub = substrate_db.open(authorize=authorize)
    lay = Layout(2)
    holders = {"vault": _labels(lay, ["N1", "N2"]), "provider:p1": ["S0_1"], "provider:p2": ["S0_2"]}
    sub.create("o", parse_state("bloch", [0, 0, 1]), 2, keep_reference=True, holders=holders)
    survivors = _labels(lay, ["S2", "N1", "N2"])
    vault = issue_grant(keys["vault"], "o", "a1")
    with pytest.raises(UnauthorizedError):  # the vault alone is not enough: clone 2's provider too
        sub.recover("o", survivors, "a1", authorizations={"vault": vault})
    with pytest.raises(InvalidArgumentError):
        sub.assign("o", ["N0_1"], "provider:p9")  # only clones move
    sub.assign("o", ["S0_2"], "provider:p9")  # drained to p9
    assert substrate_db.open().holders("o")["provider:p9"] == ["S0_2"] and "provider:p2" not in sub.holders("o")
    with pytest.raises(UnauthorizedError):  # p2 no longer holds it
        sub.recover("o", survivors, "a1", authorizations={"vault": vault, "provider:p2": issue_grant(
            keys["provider:p2"], "o", "a1")})
    out = sub.recover("o", survivors, "a1", authorizations={"vault": vault, "provider:p9": issue_grant(
        keys["provider:p9"], "o", "a1")})
    assert out["clone"] == 2 and out["parties"] == ["provider:p9", "vault"]
