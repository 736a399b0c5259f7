"""The storage service on SQLite and on PostgreSQL: round trips, exactly once, failover, drain,
peek, memory noise (against the dense engine) and recovery from a crash at every step."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from qclone.analysis.leakage import Placement, audit_placement
from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, protocol_circuit
from qclone.protocol.build import clone_decryption
from qclone.sim.exact import DensityMatrix, fidelity, random_density_matrix, random_state
from qclone.storage import faults
from qclone.storage.errors import (
    ConflictError,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
    http_status,
)
from qclone.storage.inputs import parse_state
from qclone.storage.provider import ProviderNode

from .conftest import Stack

PLUS = parse_state("bloch", [1, 0, 0])
TILTED = parse_state("bloch", [0.6, 0.0, 0.8])
WITH_Y = parse_state("bloch", [0.0, 0.8, 0.6])


def _node(stack: Stack, provider_id: str) -> ProviderNode:
    """The provider's own records, read from its files."""
    return ProviderNode(provider_id, stack.data_dir / "providers" / provider_id)


def _holders(stack: Stack, name: str) -> list[str]:
    return [c["provider"] for c in stack.service.stat(stack.alice, name)["placement"] if c["state"] == "live"]


# ---------------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", ["bloch", "statevector", "density"])
def test_round_trip_returns_the_input(stack: Stack, kind: str) -> None:
    rng = np.random.default_rng(7)
    data = {"bloch": [0.3, -0.5, 0.7], "statevector": random_state(2, rng).tolist(),
            "density": random_density_matrix(2, rng).tolist()}[kind]
    if kind == "statevector":
        data = {"real": np.real(data).tolist(), "imag": np.imag(data).tolist()}
    if kind == "density":
        m = np.asarray(data)
        data = {"real": np.real(m).tolist(), "imag": np.imag(m).tolist()}
    state = parse_state(kind, data)
    put = stack.service.put(stack.alice, "obj", state, keep_reference=True)
    assert put["state"] == "stored" and put["clones"] == 4 and put["audit"]["safe"] is True
    assert len({c["provider"] for c in put["placement"]}) == 4
    out = stack.service.get(stack.alice, "obj", ack=True)
    assert np.allclose(out["density_matrix"], state.density, atol=1e-9)
    assert out["fidelity"] == pytest.approx(1.0, abs=1e-9)
    if kind == "bloch":
        assert np.allclose(out["bloch"][0], [0.3, -0.5, 0.7], atol=1e-9)
    assert stack.service.stat(stack.alice, "obj")["state"] == "retrieved"


def test_second_get_is_refused_with_409(stack: Stack) -> None:
    stack.service.put(stack.alice, "once", TILTED)
    stack.service.get(stack.alice, "once", ack=True)
    with pytest.raises(ConflictError, match="already retrieved") as e:
        stack.service.get(stack.alice, "once", ack=True)
    assert http_status(e.value) == 409


def test_of_concurrent_gets_exactly_one_succeeds(stack: Stack) -> None:
    stack.service.put(stack.alice, "race", TILTED, keep_reference=True)
    barrier = threading.Barrier(8)
    results: list[object] = []

    def attempt() -> None:
        barrier.wait()
        try:
            results.append(stack.service.get(stack.alice, "race", ack=True))
        except ConflictError as e:
            results.append(e)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, dict)]
    assert len(results) == 8 and len(wins) == 1
    assert wins[0]["fidelity"] == pytest.approx(1.0, abs=1e-9)
    assert stack.vault.state(wins[0]["object_id"])["state"] == "consumed"


def test_samples_in_a_basis(stack: Stack) -> None:
    stack.service.put(stack.alice, "plus", PLUS)
    out = stack.service.get(stack.alice, "plus", basis="X", shots=50, seed=3, ack=True)
    assert out["samples"] == ["0"] * 50 and out["shots"] == 50


def test_tenants_are_isolated_and_tokens_checked(stack: Stack) -> None:
    stack.service.put(stack.alice, "mine", TILTED)
    bob = stack.service.authenticate(stack.service.create_tenant("bob"))
    for op in (stack.service.get, stack.service.stat, stack.service.delete):
        with pytest.raises(NotFoundError):
            op(bob, "mine")
    assert stack.service.list(bob) == []
    with pytest.raises(UnauthorizedError):
        stack.service.authenticate("qct_nobody_secret")
    with pytest.raises(UnauthorizedError):
        stack.service.authenticate("garbage")
    token = stack.service.create_tenant("carol")
    forged = token.rsplit("_", 1)[0] + "_" + "x" * 43
    with pytest.raises(UnauthorizedError):
        stack.service.authenticate(forged)
    with pytest.raises(ConflictError):
        stack.service.create_tenant("bob")


def test_names_are_unique_per_tenant(stack: Stack) -> None:
    stack.service.put(stack.alice, "n", TILTED)
    with pytest.raises(ConflictError, match="exists"):
        stack.service.put(stack.alice, "n", TILTED)
    bob = stack.service.authenticate(stack.service.create_tenant("bob"))
    assert stack.service.put(bob, "n", TILTED)["state"] == "stored"


def test_one_clone_is_refused_unless_forced(stack: Stack) -> None:
    with pytest.raises(InvalidArgumentError, match="single clone"):
        stack.service.put(stack.alice, "one", TILTED, clones=1)
    put = stack.service.put(stack.alice, "one", TILTED, clones=1, force=True)
    assert put["audit"]["safe"] is False
    assert any("LEAK" in w for w in put["audit"]["warnings"])


def test_stored_audit_is_the_audit_of_the_actual_placement(stack: Stack) -> None:
    put = stack.service.put(stack.alice, "odd", TILTED, clones=3)
    holders = [c["provider"] for c in put["placement"]]
    parties = {p: [f"S{j}"] for j, p in enumerate(holders, 1)} | {"vault": ["N1", "N2", "N3"]}
    expected = audit_placement(3, Placement(parties, name="placement"), max_coalition=4)
    stat = stack.service.stat(stack.alice, "odd", full_audit=True)
    assert stat["audit"]["safe"] is expected.safe is False
    assert stat["audit_report"] == expected.to_dict()
    assert [x["coalition"] for x in stat["audit"]["learning"]] == [sorted(holders, key=holders.index)]


def test_distinct_zones_needs_enough_zones(database_url: str, tmp_path) -> None:
    stack = Stack(tmp_path / "d", database_url, zones=["east", "east", "west", "west"])
    try:
        # more clones than the service has places for: the request is wrong (422), not the service (503)
        with pytest.raises(InvalidArgumentError, match="4 clones need 4 zones; this service has 2"):
            stack.service.put(stack.alice, "z", TILTED, clones=4, policy="distinct-zones")
        put = stack.service.put(stack.alice, "z", TILTED, clones=2, policy="distinct-zones")
        assert sorted(c["zone"] for c in put["placement"]) == ["east", "west"]
        with pytest.raises(InvalidArgumentError, match="5 clones need 5 providers; this service has 4"):
            stack.service.put(stack.alice, "big", TILTED, clones=5)
        # enough providers exist but one is down: unavailable for now (503)
        down = put["placement"][0]["provider"]
        stack.service.providers_kill(down)
        with pytest.raises(UnavailableError, match="4 clones need 4 providers that are up"):
            stack.service.put(stack.alice, "four", TILTED, clones=4)
        stack.service.providers_revive(down)
        with pytest.raises(InvalidArgumentError, match="policy"):
            stack.service.put(stack.alice, "p", TILTED, policy="anywhere")
    finally:
        stack.close()


# ---------------------------------------------------------------------- providers


def test_failover_while_one_holder_is_up(stack: Stack) -> None:
    stack.service.put(stack.alice, "f", TILTED, keep_reference=True)
    holders = _holders(stack, "f")
    for p in holders[:3]:
        stack.service.providers_kill(p)
    out = stack.service.get(stack.alice, "f", ack=True)
    assert out["provider"] == holders[3] and out["fidelity"] == pytest.approx(1.0, abs=1e-9)
    # the down providers still hold their records; revive delivers the discards they missed
    assert _node(stack, holders[0]).holding(out["object_id"]) is not None
    listed = {p["id"]: p for p in stack.service.providers_list()}
    assert all(listed[p]["discards_pending"] == 1 for p in holders[:3])
    revived = stack.service.providers_revive(holders[0])
    assert revived["discards_delivered"] == 1
    assert _node(stack, holders[0]).holding(out["object_id"]) is None
    assert _node(stack, holders[1]).holding(out["object_id"]) is not None


def test_all_holders_down_is_503_and_revive_brings_it_back(stack: Stack) -> None:
    stack.service.put(stack.alice, "g", TILTED)
    for p in _holders(stack, "g"):
        stack.service.providers_kill(p)
    with pytest.raises(UnavailableError) as e:
        stack.service.get(stack.alice, "g", ack=True)
    assert http_status(e.value) == 503
    assert stack.service.stat(stack.alice, "g")["state"] == "stored"
    stack.service.providers_revive("p2")
    assert stack.service.get(stack.alice, "g", ack=True)["provider"] == "p2"


def test_vault_down_rolls_the_claim_back(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.service.put(stack.alice, "v", TILTED, keep_reference=True)

    def down(*_a: object) -> None:
        raise UnavailableError("vault unreachable")

    with monkeypatch.context() as m:
        m.setattr(stack.vault, "release", down)
        with pytest.raises(UnavailableError):
            stack.service.get(stack.alice, "v", ack=True)
    assert stack.service.stat(stack.alice, "v")["state"] == "stored"
    assert stack.service.get(stack.alice, "v", ack=True)["fidelity"] == pytest.approx(1.0, abs=1e-9)


def test_destroying_every_holder_loses_the_object(stack: Stack) -> None:
    put = stack.service.put(stack.alice, "l", TILTED, clones=2)
    first, second = _holders(stack, "l")
    assert stack.service.providers_kill(first, destroy=True)["lost_objects"] == []
    assert stack.service.get(stack.alice, "l", ack=True)["provider"] == second  # one live clone is enough
    stack.service.put(stack.alice, "l2", TILTED, clones=2)
    a, b = _holders(stack, "l2")
    stack.service.providers_kill(a, destroy=True)
    killed = stack.service.providers_kill(b, destroy=True)
    assert killed["lost_objects"] == [stack.service.stat(stack.alice, "l2")["object_id"]]
    assert stack.service.stat(stack.alice, "l2")["state"] == "lost"
    with pytest.raises(ConflictError, match="lost"):
        stack.service.get(stack.alice, "l2", ack=True)
    assert not stack.substrate.exists(killed["lost_objects"][0])
    assert put["object_id"] != killed["lost_objects"][0]


def test_drain_moves_clones_to_providers_without_one(stack: Stack) -> None:
    stack.service.providers_add("p5", zone="z5")
    for i in range(3):
        stack.service.put(stack.alice, f"d{i}", TILTED, clones=2, keep_reference=True)
    before = {f"d{i}": _holders(stack, f"d{i}") for i in range(3)}
    drained = stack.service.providers_drain("p1")
    assert drained["state"] == "drained" and drained["stuck"] == []
    assert len(drained["moved"]) == sum("p1" in h for h in before.values())
    for name, old in before.items():
        new = _holders(stack, name)
        assert "p1" not in new and len(set(new)) == 2
        assert [p for p in old if p != "p1"] == [p for p in new if p in old]
    assert _node(stack, "p1").records() == []
    assert {p["id"]: p["state"] for p in stack.service.providers_list()}["p1"] == "drained"
    placed = stack.service.put(stack.alice, "new", TILTED)["placement"]  # never at a drained provider
    assert sorted(c["provider"] for c in placed) == ["p2", "p3", "p4", "p5"]
    for name in before:
        assert stack.service.get(stack.alice, name, ack=True)["fidelity"] == pytest.approx(1.0, abs=1e-9)


# ---------------------------------------------------------------------- physics


def _dense_encrypted(rho: np.ndarray, n: int) -> tuple[Layout, DensityMatrix]:
    lay = Layout(n)
    dm = DensityMatrix.from_input(rho, lay.num_qubits)
    dm.apply_circuit(protocol_circuit(lay))
    return lay, dm


@pytest.mark.parametrize("n", [1, 2])
def test_peek_is_the_reduced_state_of_the_clone(stack: Stack, n: int) -> None:
    rho = WITH_Y.density  # one clone alone leaks the Y component (n = 1)
    stack.service.put(stack.alice, "pk", WITH_Y, clones=n, force=True)
    lay, dm = _dense_encrypted(rho, n)
    for j, p in enumerate(_holders(stack, "pk"), 1):
        seen = stack.service.peek(stack.alice, "pk", p)
        expected = dm.reduced_density_matrix([lay.S(j)])
        assert np.allclose(seen["density_matrix"], expected, atol=1e-9)
        assert seen["maximally_mixed"] is (n >= 2)
        assert abs(seen["bloch"][0][1]) == pytest.approx(0.0 if n >= 2 else 0.8, abs=1e-9)
    with pytest.raises(NotFoundError):
        stack.service.peek(stack.alice, "pk", "p4" if n < 4 and "p4" not in _holders(stack, "pk") else "nobody")


def test_memory_noise_matches_the_dense_engine(database_url: str, tmp_path) -> None:
    t1, t2, vt = 200.0, 150.0, 3600.0
    stack = Stack(tmp_path / "d", database_url, providers=0)
    try:
        for i in range(2):
            stack.service.providers_add(f"q{i}", zone=f"z{i}", t1=t1, t2=t2)
        stack.service.put(stack.alice, "aged", TILTED, clones=2, keep_reference=True)
        stack.clock.advance(40.0)
        out = stack.service.get(stack.alice, "aged", ack=True)
    finally:
        stack.close()
    # independent prediction: dense density matrix, the twirled T1/T2 channel written out here
    elapsed = 40.0

    def channel(time: float, a: float, b: float) -> dict[str, float]:
        px = (1 - math.exp(-time / a)) / 4
        return {"X": px, "Y": px, "Z": (1 - math.exp(-time / b)) / 2 - px}

    lay, dm = _dense_encrypted(TILTED.density, 2)
    j = out["clone"]
    dm.apply_pauli_channel(channel(elapsed, t1, t2), [lay.S(j)])
    for i in (1, 2):
        dm.apply_pauli_channel(channel(elapsed, vt, vt), [lay.N(i)])
    dm.apply_circuit(clone_decryption(lay, j))
    expected_rho = dm.reduced_density_matrix([lay.S(j)])
    expected = fidelity(expected_rho, TILTED.density)
    assert out["elapsed"] == pytest.approx(elapsed)
    assert expected < 0.99
    assert out["fidelity"] == pytest.approx(expected, abs=1e-9)
    assert np.allclose(out["density_matrix"], expected_rho, atol=1e-9)


# ---------------------------------------------------------------------- delete, list, stat, health


def test_delete_destroys_clones_and_key(stack: Stack) -> None:
    oid = stack.service.put(stack.alice, "del", TILTED)["object_id"]
    holders = _holders(stack, "del")
    assert stack.service.delete(stack.alice, "del")["state"] == "deleted"
    assert not stack.substrate.exists(oid) and stack.vault.state(oid) is None
    assert all(_node(stack, p).holding(oid) is None for p in holders)
    with pytest.raises(ConflictError, match="deleted"):
        stack.service.get(stack.alice, "del", ack=True)
    with pytest.raises(ConflictError):
        stack.service.delete(stack.alice, "del")


def test_list_stat_and_health(stack: Stack) -> None:
    stack.service.put(stack.alice, "a", TILTED)
    stack.service.put(stack.alice, "b", PLUS, clones=2)
    stack.service.get(stack.alice, "b", ack=True)
    listed = {o["name"]: o for o in stack.service.list(stack.alice)}
    assert {n: o["state"] for n, o in listed.items()} == {"a": "stored", "b": "retrieved"}
    assert [o["name"] for o in stack.service.list(stack.alice, state="stored")] == ["a"]
    stat = stack.service.stat(stack.alice, "a")
    assert stat["retrievable"] and stat["live_clones"] == 4 and stat["audit"]["complete"]
    health = stack.service.health()
    assert health["status"] == "ok" and health["providers"]["up"] == 4
    assert health["database"]["revision"] == "0007_ui_sessions"


# ---------------------------------------------------------------------- crashes and recovery


class Crash(BaseException):
    """A simulated crash: skips every ``except Exception`` clean-up, as a dead process would."""


def _crash_at(monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    def point(name: str) -> None:
        if name == step:
            raise Crash(name)

    monkeypatch.setattr(faults, "crash_point", point)


GET_STEPS = ["get.claim", "get.release", "get.age", "get.decrypt", "get.consume", "get.finish", "get.discard",
             "get.deliver"]
DECRYPTED = {"get.decrypt", "get.consume", "get.finish", "get.discard", "get.deliver"}


@pytest.mark.parametrize("step", GET_STEPS)
def test_crash_during_get_then_restart(stack: Stack, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    oid = stack.service.put(stack.alice, "c", TILTED, keep_reference=True)["object_id"]
    holders = _holders(stack, "c")
    with monkeypatch.context() as m:
        _crash_at(m, step)
        with pytest.raises(Crash):
            stack.service.get(stack.alice, "c", ack=True)
    stack.restart()  # a new process over the same files and database: recovery runs
    svc = stack.service
    state = svc.stat(stack.alice, "c")["state"]
    if step in DECRYPTED:
        assert state == "delivering"  # the output waits in the substrate for the next get
        assert stack.vault.state(oid)["state"] == "consumed"
    else:
        assert state == "stored"
        assert stack.vault.state(oid)["state"] == "held"
    out = svc.get(stack.alice, "c", ack=True)  # delivered once: either the pending output or a fresh retrieval
    assert out["fidelity"] == pytest.approx(1.0, abs=1e-6)
    assert out["recovered"] is (step in DECRYPTED)
    with pytest.raises(ConflictError):
        svc.get(stack.alice, "c", ack=True)
    assert stack.substrate.output(oid) is None and not stack.substrate.exists(oid)
    assert all(_node(stack, p).holding(oid) is None for p in holders)
    decryptions = [e for e in svc.audit_log(stack.alice) if e["action"] in ("get", "get.recovered")]
    assert len(decryptions) == 1


@pytest.mark.parametrize("step", ["get.release", "get.decrypt"])
def test_expired_lease_is_recovered_without_restart(stack: Stack, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    stack.service.put(stack.alice, "e", TILTED, keep_reference=True)
    stack.service.lease_seconds = 1.0  # of the database's clock
    with monkeypatch.context() as m:
        _crash_at(m, step)
        with pytest.raises(Crash):
            stack.service.get(stack.alice, "e", ack=True)
    with pytest.raises(ConflictError, match="being retrieved"):
        stack.service.get(stack.alice, "e", ack=True)  # the lease still runs
    time.sleep(1.1)  # the lease ends on the database's clock ...
    stack.clock.advance(61.0)  # ... and a minute of storage passes on the service clock (memory noise)
    out = stack.service.get(stack.alice, "e", ack=True)
    assert out["recovered"] is (step == "get.decrypt")
    # pure input, T1 = T2 = T: the Bloch vector shrinks by exp(-t/T), so F = (1 + exp(-t/T)) / 2 for
    # the 61 s the output waited in the substrate (decrypted) or the clones and keys were stored
    # (rolled back: one clone and four key qubits aged, so the fidelity is lower than that)
    if step == "get.decrypt":
        assert out["waited"] == pytest.approx(61.0)
        assert out["fidelity"] == pytest.approx((1 + math.exp(-61.0 / 3600.0)) / 2, abs=1e-9)
    else:
        assert 0.9 < out["fidelity"] < (1 + math.exp(-61.0 / 3600.0)) / 2
    with pytest.raises(ConflictError):
        stack.service.get(stack.alice, "e", ack=True)


@pytest.mark.parametrize("step", ["put.reserve", "put.create", "put.deposit", "put.place", "put.commit"])
def test_crash_during_put_then_restart(stack: Stack, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    with monkeypatch.context() as m:
        _crash_at(m, step)
        with pytest.raises(Crash):
            stack.service.put(stack.alice, "p", TILTED, keep_reference=True)
    assert stack.service.stat(stack.alice, "p")["state"] == ("stored" if step == "put.commit" else "storing")
    stack.restart()
    if step == "put.commit":
        assert stack.service.get(stack.alice, "p", ack=True)["fidelity"] == pytest.approx(1.0, abs=1e-9)
        return
    with pytest.raises(NotFoundError):
        stack.service.stat(stack.alice, "p")
    # nothing of the unfinished put is left anywhere
    assert stack.substrate.health()["objects"] == 0
    assert stack.vault.health()["keys"] == {"held": 0, "released": 0, "consumed": 0}
    for p in ("p1", "p2", "p3", "p4"):
        assert _node(stack, p).records() == []
    assert [e["action"] for e in stack.service.audit_log(None)][-2:] == ["put.abandoned", "recover"]
    assert stack.service.put(stack.alice, "p", TILTED)["state"] == "stored"


def test_a_put_that_died_holds_its_name_until_its_lease_ends(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        _crash_at(m, "put.place")
        with pytest.raises(Crash):
            stack.service.put(stack.alice, "q", TILTED)
    with pytest.raises(ConflictError, match="exists"):
        stack.service.put(stack.alice, "q", TILTED)
    with pytest.raises(ConflictError, match="being stored"):
        stack.service.get(stack.alice, "q", ack=True)
    _end_leases(stack)  # the next reservation finds the dead put's lease ended (on the database's clock)
    assert stack.service.put(stack.alice, "q", TILTED, keep_reference=True)["state"] == "stored"
    assert stack.substrate.health()["objects"] == 1
    assert stack.service.get(stack.alice, "q", ack=True)["fidelity"] > 0.99


@pytest.mark.parametrize("step", ["delete.mark", "delete.purge"])
def test_crash_during_delete_then_restart(stack: Stack, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    oid = stack.service.put(stack.alice, "x", TILTED)["object_id"]
    with monkeypatch.context() as m:
        _crash_at(m, step)
        with pytest.raises(Crash):
            stack.service.delete(stack.alice, "x")
    stack.restart()
    assert stack.service.stat(stack.alice, "x")["state"] == "deleted"
    assert not stack.substrate.exists(oid) and stack.vault.state(oid) is None
    with pytest.raises(ConflictError):
        stack.service.get(stack.alice, "x", ack=True)


@pytest.mark.parametrize(("kwargs", "match"), [({"basis": "W"}, "basis"), ({"basis": "Z", "shots": 0}, "shots"),
                                               ({"shots": 5}, "need a basis"), ({"basis": "X", "seed": -1}, "seed")])
def test_bad_sampling_is_refused_before_decryption(stack: Stack, kwargs: dict, match: str) -> None:
    stack.service.put(stack.alice, "s", PLUS, keep_reference=True)
    with pytest.raises(InvalidArgumentError, match=match):
        stack.service.get(stack.alice, "s", **kwargs, ack=True)
    assert stack.service.stat(stack.alice, "s")["state"] == "stored"
    assert stack.service.get(stack.alice, "s", basis="z", shots=3, ack=True)["samples"] is not None


def test_a_provider_that_cannot_store_is_replaced(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack.service.providers_add("p5", zone="z5")
    stack.service.put(stack.alice, "warm", TILTED)  # the directory now has a node for every provider
    stack.service.get(stack.alice, "warm", ack=True)
    broken = stack.directory.node({"id": "p2", "zone": "z2", "t1": 3600.0, "t2": 3600.0, "url": None})

    def refuse(*_a: object) -> None:
        raise ConnectionError("provider p2 is unreachable")

    monkeypatch.setattr(broken, "store", refuse)
    for i in range(4):
        placed = [c["provider"] for c in stack.service.put(stack.alice, f"r{i}", TILTED)["placement"]]
        assert "p2" not in placed and len(set(placed)) == 4
        assert stack.service.get(stack.alice, f"r{i}", ack=True)["clone"] in (1, 2, 3, 4)
    stack.service.providers_kill("p5")
    with pytest.raises(UnavailableError, match="no other provider"):
        stack.service.put(stack.alice, "none", TILTED)
    with pytest.raises(NotFoundError):
        stack.service.stat(stack.alice, "none")
    assert all(_node(stack, p).records() == [] for p in ("p1", "p3", "p4"))


def test_two_gateways_over_one_database_decrypt_once(stack: Stack) -> None:
    from qclone.storage.db import Database
    from qclone.storage.service import ProviderDirectory, StorageService

    db = Database.open(stack.url)
    other = StorageService(db, stack.substrate, stack.vault, ProviderDirectory.local(stack.data_dir), stack.clock,
                           recover=False)
    try:
        for i in range(3):
            stack.service.put(stack.alice, f"w{i}", TILTED)
            barrier = threading.Barrier(6)
            wins: list[dict] = []

            def attempt(svc: StorageService) -> None:
                barrier.wait()
                try:
                    wins.append(svc.get(stack.alice, f"w{i}", ack=True))
                except ConflictError:
                    pass

            threads = [threading.Thread(target=attempt, args=(s,)) for s in [stack.service, other] * 3]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(wins) == 1
    finally:
        db.dispose()


def test_a_drained_clone_ages_at_each_provider_for_its_time_there(database_url: str, tmp_path) -> None:
    stack = Stack(tmp_path / "d", database_url, providers=0)
    try:
        stack.service.providers_add("q1", zone="a", t1=100.0, t2=80.0)
        stack.service.providers_add("q2", zone="b", t1=100.0, t2=80.0)
        stack.service.put(stack.alice, "m", TILTED, clones=2, keep_reference=True)
        stack.service.providers_add("q3", zone="c", t1=40.0, t2=30.0)
        stack.clock.advance(20.0)
        moved = stack.service.providers_drain("q1")["moved"]
        assert [m["to"] for m in moved] == ["q3"]
        stack.service.providers_kill("q2")
        stack.clock.advance(30.0)
        out = stack.service.get(stack.alice, "m", ack=True)
    finally:
        stack.close()
    assert out["provider"] == "q3" and out["clone"] == moved[0]["clone"]

    def channel(time: float, a: float, b: float) -> dict[str, float]:
        px = (1 - math.exp(-time / a)) / 4
        return {"X": px, "Y": px, "Z": (1 - math.exp(-time / b)) / 2 - px}

    lay, dm = _dense_encrypted(TILTED.density, 2)
    j = out["clone"]
    dm.apply_pauli_channel(channel(20.0, 100.0, 80.0), [lay.S(j)])
    dm.apply_pauli_channel(channel(30.0, 40.0, 30.0), [lay.S(j)])
    for i in (1, 2):
        dm.apply_pauli_channel(channel(50.0, 3600.0, 3600.0), [lay.N(i)])
    dm.apply_circuit(clone_decryption(lay, j))
    assert out["fidelity"] == pytest.approx(fidelity(dm.reduced_density_matrix([lay.S(j)]), TILTED.density), abs=1e-9)


def _end_leases(stack: Stack) -> None:
    """End every lease now (as the database's clock passing them would)."""
    from sqlalchemy import update

    from qclone.storage.db import db_now
    from qclone.storage.models import objects

    with stack.db.write() as conn:
        conn.execute(update(objects).where(objects.c.lease_until.is_not(None)).values(lease_until=db_now() - 1))
