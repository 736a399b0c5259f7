"""Placements of every qubit and recovery from what survived, through the service (SQLite and
PostgreSQL): keep-A survives the vault's loss, a split key needs every vault or all providers,
holders a recovery did without discard their parts, exactly once, the load-sharing rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.sim.exact import fidelity
from qclone.storage.errors import ConflictError, UnavailableError
from qclone.storage.inputs import parse_state
from qclone.storage.placements import resolve_placement
from qclone.storage.results import Part, StoredObject
from qclone.storage.service import HolderDirectory, ProviderLoad
from qclone.storage.vault import KeyVault

from .conftest import Stack

TILTED = parse_state("bloch", [0.6, 0.0, 0.8])


class Switch:
    """A node that can be taken down (every call raises UnavailableError) and brought back."""

    def __init__(self, node: Any) -> None:
        self.node, self.down = node, False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.node, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise UnavailableError(f"{name}: the node does not answer")
            return attr(*args, **kwargs)

        return call


def _switch_vault(stack: Stack) -> Switch:
    switch = Switch(stack.vault)
    stack.service.vault = switch
    return switch


@pytest.fixture
def switches(stack: Stack) -> dict[str, Switch]:
    """The key holders of ``stack``, each a :class:`Switch` over its KeyVault (made on first use)."""
    made: dict[str, Switch] = {}

    def factory(record: Any) -> Switch:
        return made.setdefault(record["id"], Switch(KeyVault(stack.data_dir / "holders" / record["id"])))

    stack.service.holder_directory = HolderDirectory(factory)
    return made


def _held(stack: Stack, switches: dict[str, Switch], holder_id: str, object_id: str) -> dict | None:
    return (stack.vault if holder_id == "vault" else switches[holder_id].node).state(object_id)


# ---------------------------------------------------------------------- placements
def test_builtin_and_custom_placements() -> None:
    up = {"vault": "vault", "c1": "custodian", "v2": "vault", "v3": "vault"}
    assert resolve_placement(None, 4, up).keys == (("vault", ("N1", "N2", "N3", "N4")),)
    assert resolve_placement("keep-A", 2, up).keys == (("vault", ("N1", "N2")), ("c1", ("A",)))
    assert resolve_placement("split-key", 6, up).keys == (("vault", ("N1", "N2")), ("v2", ("N3", "N4")),
                                                          ("v3", ("N5", "N6")))
    assert resolve_placement("split-key:2", 3, up).keys == (("vault", ("N1",)), ("v2", ("N2", "N3")))
    custom = {"name": "mine", "parties": {"provider-1": ["S1"], "vault": "N1..N3", "v2": ["N4"], "c1": ["A"]}}
    got = resolve_placement(custom, 4, up)
    assert got.name == "mine" and got.keys == (("vault", ("N1", "N2", "N3")), ("v2", ("N4",)), ("c1", ("A",)))


def test_the_trades_say_how_many_providers_recover_with_one_key_holder() -> None:
    """split-key's vaults are each one collusion away from the state: the trades say with how many providers."""
    up = {"vault": "vault", "v2": "vault", "c1": "custodian"}
    trades = resolve_placement("split-key", 4, up).trades()
    assert any(t.startswith("vault (holding N1 N2) together with 3 of the 4 providers") for t in trades), trades
    assert any(t.startswith("v2 (holding N3 N4) together with 3 of the 4 providers") for t in trades), trades
    assert "every recovery needs vault: losing vault loses the object" in resolve_placement("today", 4, up).trades()
    custom = {"parties": {"vault": "N1..N3", "v2": ["N4"], "c1": ["A"]}}
    trades = resolve_placement(custom, 4, up).trades()
    assert any(t.startswith("vault (holding N1 N2 N3) together with 2 of the 4 providers") for t in trades), trades
    assert any(t.startswith("v2 (holding N4) together with all 4 providers") for t in trades), trades
    with pytest.raises(InvalidArgumentError, match="V >= 2 vaults, got V = 0"):
        resolve_placement("split-key:0", 4, up)
    with pytest.raises(InvalidArgumentError, match="leakage-audit policy"):
        resolve_placement("paired", 4, up)
    assert resolve_placement("providers-without-client", 4, up).keys == resolve_placement("today", 4, up).keys


@pytest.mark.parametrize(("spec", "match"), [
    ("keep-A", "needs a custodian"),
    ("split-key", "at least 2 vaults"),
    ("/etc/passwd", "unknown placement"),           # a name, never a path the server would open
    ({"parties": {"vault": "N*", "nobody": ["A"]}}, "not a key holder"),
    ({"parties": {"p": ["S1", "N1"], "vault": ["N2..N4"]}}, "a clone lives at a provider alone"),
    ({"parties": {"vault": ["N1", "N1x"]}}, "N1x"),
    ({"parties": {"vault": ["N1"]}, "colour": "red"}, "unknown key"),
    ({"parties": {"vault": ["N1"]}, "intended": "vault"}, "'intended' is a list"),
    ({"clones": 3, "parties": {"vault": "N*"}}, "written for n = 3"),
    ({"parties": {"vault": ["N" * 100]}}, "at most 64 characters"),
    ({"parties": {"../x": ["N1"]}}, "holder id"),
    (["vault"], "a built-in name or a mapping"),
])
def test_bad_placements_are_refused_with_the_reason(spec: Any, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        resolve_placement(spec, 4, {"vault": "vault"})


def test_the_leakage_audit_files_are_placements_too() -> None:
    """docs/placements/*.yaml, written for ``qclone audit``, work with ``qclone put --placement`` as they are."""
    import yaml

    for name, keys in (("recommended", (("vault", ("N1", "N2", "N3", "N4")),)),
                       ("two-vaults", (("vault-east", ("N1", "N2")), ("vault-west", ("N3", "N4"))))):
        spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "placements" / f"{name}.yaml").read_text())
        up = {"vault": "vault", "vault-east": "vault", "vault-west": "vault"}
        assert resolve_placement(spec, 4, up).keys == keys


def test_placement_budgets() -> None:
    with pytest.raises(TooLargeError):
        resolve_placement({"parties": {f"h{i}": ["N1"] for i in range(65)}}, 4, {"vault": "vault"})
    with pytest.raises(InvalidArgumentError, match="at most 200 labels"):
        resolve_placement({"parties": {"vault": ["N1"] * 201}}, 4, {"vault": "vault"})


def test_one_key_qubit_with_every_clone_is_a_placement_that_recovers() -> None:
    """Every clone is stored, so one whole pair (S_j, N_j) with the other clones recovers: accepted."""
    assert resolve_placement({"parties": {"vault": ["N2"]}}, 4, {"vault": "vault"}).keys == (("vault", ("N2",)),)


# ---------------------------------------------------------------------- keep-A and the vault's loss
def test_keep_a_is_retrieved_with_the_vault_down_and_the_vault_discards_its_part(stack: Stack, switches: dict[str, Switch]) -> None:
    svc = stack.service
    svc.holders_add("c1", "custodian")
    put = svc.put(stack.alice, "kept", TILTED, clones=4, keep_reference=True, placement="keep-A")
    oid = put["object_id"]
    st = svc.stat(stack.alice, "kept")
    assert st["placement_name"] == "keep-A" and st["audit"]["safe"]
    assert {p["holder"]: p["labels"] for p in st["parts"]} == {"vault": ["N0_1", "N0_2", "N0_3", "N0_4"], "c1": ["A0"]}
    assert any("c1 together with all 4 providers" in t for t in st["audit"]["trades"])
    assert st["recovery"]["now"] and len(st["recovery"]["sets"][0]) == 2  # the vault and one provider

    # what the rest of the coming recovery holds (the vault's key) learns nothing: maximally mixed
    key = ["N0_1", "N0_2", "N0_3", "N0_4"]
    np.testing.assert_allclose(stack.substrate.peek(oid, key), np.eye(16) / 16, atol=1e-12)
    vault = _switch_vault(stack)
    vault.down = True
    st = svc.stat(stack.alice, "kept")
    assert st["retrievable"] and "vault" in st["recovery"]["down"]
    assert sorted(st["recovery"]["sets"][0]) == ["c1", "p1", "p2", "p3", "p4"]
    out = svc.get(stack.alice, "kept", key="k1")
    assert out["clone"] is None and sorted(out["holders"]) == ["c1"]
    np.testing.assert_allclose(out["density_matrix"], TILTED.density, atol=1e-12)
    assert out["fidelity"] == pytest.approx(fidelity(TILTED.density, out["density_matrix"]), abs=1e-12)
    assert svc.get(stack.alice, "kept", key="k1")["attempt"] == out["attempt"]  # a retry: the same output
    with pytest.raises(ConflictError):  # the rest (the vault's key) cannot recover it again
        stack.substrate.recover(oid, key, "again")
    assert _held(stack, switches, "c1", oid)["state"] == "consumed"
    assert next(p for p in svc.stat(stack.alice, "kept")["parts"] if p["holder"] == "vault")["discard_pending"]

    vault.down = False  # the vault comes back: the reconciler has it discard its part
    assert svc.recover()["discards"] >= 1
    assert stack.vault.state(oid) is None
    assert all(not p["discard_pending"] and p["state"] == "discarded" for p in svc.stat(stack.alice, "kept")["parts"])
    assert svc.ack(stack.alice, "kept", "k1")["state"] == "retrieved"
    with pytest.raises(ConflictError, match="already retrieved"):
        svc.get(stack.alice, "kept")


def test_the_sdk_types_the_parts_and_the_recovery_of_a_stat(stack: Stack, switches: dict[str, Switch]) -> None:
    svc = stack.service
    svc.holders_add("c1", "custodian")
    svc.put(stack.alice, "typed", TILTED, clones=4, keep_reference=False, placement="keep-A")
    doc = svc.stat(stack.alice, "typed")
    st = StoredObject.from_json(doc)
    assert st.parts == tuple(Part(p["holder"], tuple(p["labels"]), p["state"], p["discard_pending"], p)
                             for p in doc["parts"])
    assert {p.holder: p.labels for p in st.parts} == {"vault": ("N0_1", "N0_2", "N0_3", "N0_4"), "c1": ("A0",)}
    assert all(p.state == "live" and p.discard_pending is False for p in st.parts)
    assert st.recovery is not None and st.recovery.now and st.recovery.reason is None and st.recovery.down == ()
    assert st.recovery.sets == tuple(tuple(s) for s in doc["recovery"]["sets"]) and len(st.recovery.sets[0]) == 2
    assert st.to_json() == doc and st.recovery.to_json() == doc["recovery"] and st.parts[0].to_json() == doc["parts"][0]

    _switch_vault(stack).down = True
    switches["c1"].down = True  # the key and A both gone for now: no authorized set answers
    down = StoredObject.from_json(svc.stat(stack.alice, "typed")).recovery
    assert down is not None and not down.now and down.sets == () and down.reason
    assert set(down.down) == {"vault", "c1"} and "c1" not in down.live and "vault" not in down.live
    assert StoredObject.from_json({**doc, "recovery": None}).recovery is None


def test_today_placement_waits_for_the_vault(stack: Stack) -> None:
    svc = stack.service
    svc.put(stack.alice, "plain", TILTED, clones=4)
    vault = _switch_vault(stack)
    vault.down = True
    st = svc.stat(stack.alice, "plain")
    assert not st["retrievable"] and st["recovery"]["reason"]
    with pytest.raises(UnavailableError, match="cannot be retrieved now"):
        svc.get(stack.alice, "plain")
    assert svc.stat(stack.alice, "plain")["state"] == "stored"
    vault.down = False
    out = svc.get(stack.alice, "plain", ack=True)
    assert out["clone"] in (1, 2, 3, 4) and out["holders"] is None  # the protocol's own decryption


def test_keep_a_with_the_custodian_down_is_a_plain_decryption(stack: Stack, switches: dict[str, Switch]) -> None:
    svc = stack.service
    svc.holders_add("c1", "custodian")
    oid = svc.put(stack.alice, "kept", TILTED, clones=2, placement="keep-A")["object_id"]
    custodian = switches["c1"]
    custodian.down = True
    out = svc.get(stack.alice, "kept", ack=True)
    assert out["clone"] in (1, 2)
    custodian.down = False
    svc.recover()
    assert _held(stack, switches, "c1", oid) is None  # the custodian discarded A once it came back


# ---------------------------------------------------------------------- split key
def test_split_key_uses_every_vault_or_all_providers(stack: Stack, switches: dict[str, Switch]) -> None:
    svc = stack.service
    svc.holders_add("v2", "vault")
    one = svc.put(stack.alice, "one", TILTED, clones=4, placement="split-key", keep_reference=True)
    assert {p["holder"] for p in svc.stat(stack.alice, "one")["parts"]} == {"vault", "v2"}
    out = svc.get(stack.alice, "one", ack=True)
    assert out["clone"] in (1, 2, 3, 4) and sorted(out["holders"]) == ["v2", "vault"]
    assert out["fidelity"] == pytest.approx(1.0)
    assert stack.vault.state(one["object_id"])["state"] == "consumed"

    two = svc.put(stack.alice, "two", TILTED, clones=4, placement="split-key", keep_reference=True)
    v2 = switches["v2"]
    v2.down = True
    out = svc.get(stack.alice, "two", ack=True)  # half of the key and every clone
    assert out["clone"] is None and out["holders"] == ["vault"] and out["fidelity"] == pytest.approx(1.0)
    v2.down = False
    svc.recover()
    assert _held(stack, switches, "v2", two["object_id"]) is None


def test_a_split_key_object_with_a_vault_and_providers_down(stack: Stack, switches: dict[str, Switch]) -> None:
    svc = stack.service
    svc.holders_add("v2", "vault")
    put = svc.put(stack.alice, "w", TILTED, clones=4, placement="split-key")
    switches["v2"].down = True
    svc.providers_kill(put["placement"][0]["provider"])  # clone 1 gone too: pair 2 (S2, N2) still recovers
    assert svc.stat(stack.alice, "w")["retrievable"]
    svc.providers_kill(put["placement"][2]["provider"])  # and clone 3: nothing of pair 3 is left
    st = svc.stat(stack.alice, "w")
    assert not st["retrievable"] and st["recovery"]["reason"]
    with pytest.raises(UnavailableError, match="cannot be retrieved now"):
        svc.get(stack.alice, "w")
    assert svc.stat(stack.alice, "w")["state"] == "stored"


def test_delete_destroys_every_part(stack: Stack, switches: dict[str, Switch]) -> None:
    svc = stack.service
    svc.holders_add("c1", "custodian")
    oid = svc.put(stack.alice, "gone", TILTED, clones=2, placement="keep-A")["object_id"]
    assert _held(stack, switches, "c1", oid)["state"] == "held"
    svc.delete(stack.alice, "gone")
    assert _held(stack, switches, "c1", oid) is None and stack.vault.state(oid) is None


def test_holders_are_listed_and_checked(stack: Stack) -> None:
    svc = stack.service
    svc.holders_add("c1", "custodian", zone="home")
    assert svc.holders_add("c1", "custodian", zone="home")["id"] == "c1"  # again: a no-op
    with pytest.raises(ConflictError):
        svc.holders_add("c1", "vault")
    for bad, match in (("vault", "deployment's vault"), ("p1", "provider's id")):
        with pytest.raises(InvalidArgumentError, match=match):
            svc.holders_add(bad, "custodian")
    with pytest.raises(InvalidArgumentError):
        svc.holders_add("c2", "auditor")
    with pytest.raises(InvalidArgumentError, match="key holder's id"):  # one name, one party in every audit
        svc.providers_add("c1")
    listed = {h["id"]: h for h in svc.holders_list()}
    assert set(listed) == {"vault", "c1"} and listed["c1"]["node"] == "up" and listed["c1"]["kind"] == "custodian"


# ---------------------------------------------------------------------- load sharing
def test_the_load_sharing_rule() -> None:
    now = [100.0]
    load = ProviderLoad(clock=lambda: now[0])
    load.observe("p1", 0.2)
    assert load.rank("p1") == pytest.approx(200.0)
    load.observe("p1", 0.1)
    assert load.rank("p1") == pytest.approx(0.7 * 200 + 0.3 * 100)
    load.begin("p2")
    load.begin("p2")
    assert load.rank("p2") == pytest.approx(100.0)
    load.end("p2")
    assert load.rank("p2") == pytest.approx(50.0)
    load.failed("p3")
    assert load.rank("p3") == pytest.approx(1000.0)
    now[0] += 31
    assert load.rank("p3") == 0.0


def test_a_get_decrypts_the_clone_of_the_best_ranked_provider(stack: Stack) -> None:
    svc = stack.service
    for i in range(6):
        svc.put(stack.alice, f"o{i}", TILTED, clones=4)
    for p, ms in (("p1", 0.3), ("p2", 0.2), ("p3", 0.1)):
        svc.load.observe(p, ms)
    chosen = [svc.get(stack.alice, f"o{i}", ack=True)["provider"] for i in range(3)]
    assert set(chosen) == {"p4"}  # the others are slower
    svc.load.begin("p4")
    svc.load.begin("p4")  # two gets in flight at p4: rank 100
    svc.load.observe("p3", 0.0)  # p3 got faster: 0.7 * 100 ms = 70, now the best
    assert svc.get(stack.alice, "o3", ack=True)["provider"] == "p3"
    svc.providers_drain("p3")  # draining (after its clones moved, nothing of it is chosen)
    assert svc.get(stack.alice, "o4", ack=True)["provider"] != "p3"


def test_the_vault_losing_a_keep_a_key_loses_only_its_part(stack: Stack) -> None:
    svc = stack.service
    svc.holders_add("c1", "custodian")
    kept = svc.put(stack.alice, "kept", TILTED, clones=2, placement="keep-A", keep_reference=True)["object_id"]
    plain = svc.put(stack.alice, "plain", TILTED, clones=2)["object_id"]
    stack.vault.destroy(kept)
    stack.vault.destroy(plain)
    report = svc.check_integrity()
    assert report["lost_objects"] == [plain] and report["vault"]["missing_keys"] == 2
    assert svc.check_integrity()["vault"]["missing_keys"] == 0  # the lost part is not counted again
    st = svc.stat(stack.alice, "kept")
    assert st["state"] == "stored" and st["retrievable"]
    assert next(p for p in st["parts"] if p["holder"] == "vault")["state"] == "lost"
    out = svc.get(stack.alice, "kept", ack=True)  # the custodian and both providers
    assert out["holders"] == ["c1"] and out["fidelity"] == pytest.approx(1.0)
    put = svc.put(stack.alice, "kept2", TILTED, clones=2, placement="keep-A")
    oid, first = put["object_id"], put["placement"][0]
    stack.vault.destroy(oid)
    svc.check_integrity()
    assert svc.stat(stack.alice, "kept2")["state"] == "stored"  # the custodian and both clones can still recover it
    stack.directory.node({"id": first["provider"], "zone": first["zone"], "t1": 3600.0, "t2": 3600.0,
                          "url": None}).discard(oid)
    assert oid in svc.check_integrity()["lost_objects"]  # one clone left, no key: lost (with the algebra's verdict)


def test_a_custodian_losing_its_part_is_found_by_the_integrity_check(stack: Stack, switches: dict[str, Switch]) -> None:
    svc = stack.service
    svc.holders_add("c1", "custodian")
    a = svc.put(stack.alice, "a", TILTED, clones=2, placement="keep-A")["object_id"]
    b = svc.put(stack.alice, "b", TILTED, clones=2, placement="keep-A")["object_id"]
    switches["c1"].node.destroy(a)  # the custodian's disk loses A of both objects
    switches["c1"].node.destroy(b)
    stack.vault.destroy(b)  # and the vault the key of b: nothing can recover b any more
    report = svc.check_integrity()
    assert report["holders"]["c1"] == {"status": "data lost", "missing_parts": 2}
    assert report["lost_objects"] == [b]
    st = svc.stat(stack.alice, "a")
    assert st["state"] == "stored" and st["retrievable"]  # the vault and one provider still can
    assert next(p for p in st["parts"] if p["holder"] == "c1")["state"] == "lost"
    assert svc.check_integrity()["holders"]["c1"]["missing_parts"] == 0  # counted once
    assert svc.get(stack.alice, "a", ack=True)["clone"] in (1, 2)


def test_the_substrate_knows_which_provider_holds_each_clone_also_after_a_drain(stack: Stack) -> None:
    svc = stack.service
    put = svc.put(stack.alice, "moving", TILTED, clones=2, keep_reference=True)
    oid = put["object_id"]
    where = {c["provider"]: c["clone"] for c in put["placement"]}
    held = stack.substrate.holders(oid)
    assert {p: held[f"provider:{p}"] for p in where} == {p: [f"S0_{j}"] for p, j in where.items()}
    gone = put["placement"][0]["provider"]
    moved = svc.providers_drain(gone)["moved"]
    assert [m["clone"] for m in moved] == [1]
    held = stack.substrate.holders(oid)
    assert f"provider:{gone}" not in held and held[f"provider:{moved[0]['to']}"] == ["S0_1"]
    assert svc.get(stack.alice, "moving", ack=True)["fidelity"] == pytest.approx(1.0)
