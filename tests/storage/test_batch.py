"""The batch put (``StorageService.put_many``) and the nodes' batch calls: every object stored as a
put stores it, all or nothing, and never twice for one batch key."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from sqlalchemy import update

from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.storage.errors import ConflictError, NotFoundError, UnavailableError
from qclone.storage.inputs import MAX_BATCH, MAX_BATCH_AMPLITUDES, MAX_BATCH_QASM, parse_state
from qclone.storage.models import objects
from qclone.storage.provider import ProviderNode
from qclone.storage.substrate import Substrate
from qclone.storage.vault import KeyVault

QASM = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0];\n'


def random_blochs(count: int, seed: int = 3) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(count, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def batch(names: list[str], blochs: np.ndarray | None = None) -> list[dict]:
    blochs = random_blochs(len(names)) if blochs is None else blochs
    return [{"name": n, "state": {"kind": "bloch", "data": [float(x) for x in b]}} for n, b in zip(names, blochs)]


def rho_of(bloch) -> np.ndarray:
    """The one-qubit density matrix of a Bloch vector, (I + xX + yY + zZ) / 2, written out."""
    x, y, z = bloch
    return np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2


def counts(stack) -> tuple[int, int, list[int]]:
    """(joint states in the substrate, keys at the vault, clone records at each provider)."""
    keys = stack.vault.health()["keys"]
    return (stack.substrate.health()["objects"], keys["held"] + keys["released"],
            [stack.directory.node(p).health()["clones"] for p in stack.service.providers_list()])


def test_put_many_stores_every_object_as_a_put_does(stack):
    svc, alice = stack.service, stack.alice
    blochs = random_blochs(12)
    names = [f"obj-{i}" for i in range(12)]
    out = svc.put_many(alice, batch(names, blochs), keep_reference=True, key="first-batch")
    assert (out["key"], out["stored"], out["created"]) == ("first-batch", 12, 12)
    assert [o["name"] for o in out["objects"]] == names and all(o["created"] and o["state"] == "stored"
                                                                for o in out["objects"])
    assert counts(stack) == (12, 12, [12, 12, 12, 12])
    single = svc.put(alice, "single", parse_state("bloch", [float(x) for x in blochs[0]]), keep_reference=True)
    for name, o in zip(names, out["objects"], strict=True):
        st = svc.stat(alice, name)
        assert st["object_id"] == o["object_id"] and st["state"] == "stored" and st["live_clones"] == 4
        assert sorted(c["provider"] for c in st["placement"]) == ["p1", "p2", "p3", "p4"]
        assert st["parts"] == single["parts"] and st["audit"] == single["audit"] and st["recovery"]["now"]
        assert stack.vault.state(o["object_id"])["state"] == "held"
        assert stack.substrate.holders(o["object_id"]) == stack.substrate.holders(single["object_id"])
    # each one retrieved exactly: the output is the input (the clock stands still: no memory noise)
    for name, b in zip(names, blochs, strict=True):
        got = svc.get(alice, name, ack=True)
        assert got["fidelity"] == pytest.approx(1.0, abs=1e-12)
        assert np.allclose(np.asarray(got["density_matrix"]), rho_of(b), atol=1e-12)
        with pytest.raises(ConflictError):
            svc.get(alice, name)
    entries = [e for e in svc.audit_page(alice, limit=100)[0] if e["action"] == "put"]
    assert [e["object_name"] for e in entries] == [*names, "single"]
    assert all(e["detail"]["batch"] == "first-batch" for e in entries[:12])


def test_a_retry_with_the_same_key_stores_nothing_twice(stack):
    svc, alice = stack.service, stack.alice
    names = [f"r{i}" for i in range(30)]
    items = batch(names)
    first = svc.put_many(alice, items, key="k-1")
    svc.get(alice, "r3", ack=True)
    again = svc.put_many(alice, items, key="k-1")
    assert again["created"] == 0 and again["stored"] == 30
    assert [o["object_id"] for o in again["objects"]] == [o["object_id"] for o in first["objects"]]
    assert {o["name"]: o["state"] for o in again["objects"] if o["state"] != "stored"} == {"r3": "retrieved"}
    assert not any(o["created"] for o in again["objects"])
    assert counts(stack) == (29, 29, [29, 29, 29, 29])  # r3's parts went with its retrieval, none came back
    assert len(svc.list(alice)) == 30
    # a batch that adds to one sent before stores only what is new
    more = svc.put_many(alice, [*items[:5], *batch(["r30", "r31"])], key="k-1")
    assert more["created"] == 2 and [o["created"] for o in more["objects"]] == [False] * 5 + [True] * 2


def test_the_same_name_with_another_state_or_key_is_refused_whole(stack):
    svc, alice = stack.service, stack.alice
    svc.put_many(alice, batch(["a", "b"]), key="k")
    changed = batch(["new-1", "a", "new-2"], random_blochs(3, seed=9))  # 'a' with another state
    with pytest.raises(ConflictError, match="'a' exists"):
        svc.put_many(alice, changed, key="k")
    with pytest.raises(ConflictError, match="'b' exists"):
        svc.put_many(alice, batch(["new-3", "b"]), key="another-key")
    with pytest.raises(ConflictError, match="'a' exists"):
        svc.put_many(alice, batch(["a"]))
    for name in ("new-1", "new-2", "new-3"):
        with pytest.raises(NotFoundError):
            svc.stat(alice, name)
    assert counts(stack) == (2, 2, [2, 2, 2, 2])


def _dupes():
    return batch(["x", "y", "x"])


def _bad_middle():
    items = batch([f"m{i}" for i in range(9)])
    items[5]["state"] = {"kind": "bloch", "data": [0.9, 0.9, 0.9]}  # outside the Bloch ball
    return items


def _too_many_programs():
    return [{"name": f"q{i}", "state": {"kind": "qasm", "data": QASM}} for i in range(MAX_BATCH_QASM + 1)]


def _too_many_amplitudes():
    """Five 8-qubit density matrices hold 5 x 4^8 > 2^18 amplitudes (the budget is lowered in the
    test, with the states, by the same factor, so that no large matrix is parsed)."""
    mixed = (np.eye(2) / 2).tolist()
    return [{"name": f"d{i}", "state": {"kind": "density", "data": mixed}} for i in range(5)]


#: checked before any store is touched: SQLite only (the PostgreSQL variant would test nothing more)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
@pytest.mark.parametrize(("make", "error", "words"), [
    (lambda: batch([f"o{i}" for i in range(MAX_BATCH + 1)]), TooLargeError, f"at most {MAX_BATCH} objects"),
    (lambda: [], InvalidArgumentError, "non-empty list"),
    (_dupes, InvalidArgumentError, "objects[2]: the name 'x' is also objects[0]'s"),
    (_bad_middle, InvalidArgumentError, "objects[5] ('m5')"),
    (lambda: [*batch(["ok"]), {"name": "no-state"}], InvalidArgumentError, "objects[1]"),
    (lambda: [*batch(["ok"]), {"name": "a/b", "state": {"kind": "bloch", "data": [0, 0, 1]}}], InvalidArgumentError,
     "objects[1]"),
    (_too_many_programs, TooLargeError, f"at most {MAX_BATCH_QASM} OpenQASM"),
    (_too_many_amplitudes, TooLargeError, "objects[4] goes over"),
], ids=["too-many", "empty", "duplicate-names", "bad-state-in-the-middle", "no-state", "bad-name", "qasm-budget",
        "amplitude-budget"])
def test_bad_input_is_refused_whole_and_names_the_item(stack, make, error, words, monkeypatch):
    monkeypatch.setattr("qclone.storage.service.batch.MAX_BATCH_AMPLITUDES", MAX_BATCH_AMPLITUDES // 4**7)
    with pytest.raises(error) as err:
        stack.service.put_many(stack.alice, make())
    assert words in str(err.value)
    assert stack.service.list(stack.alice) == [] and counts(stack) == (0, 0, [0, 0, 0, 0])


@SQLITE_ONLY
def test_bad_options_are_refused_before_anything_is_stored(stack):
    svc, alice = stack.service, stack.alice
    for kw in ({"clones": 1}, {"clones": 0}, {"policy": "anywhere"}, {"key": "spaces are not allowed"},
               {"placement": "nowhere"}, {"clones": 5}):
        with pytest.raises(InvalidArgumentError):
            svc.put_many(alice, batch(["a", "b"]), **kw)
    assert svc.list(alice) == [] and counts(stack) == (0, 0, [0, 0, 0, 0])
    # n = 2 with two of the four providers, and n = 1 with force
    assert svc.put_many(alice, batch(["two"]), clones=2)["created"] == 1
    assert svc.put_many(alice, batch(["one"]), clones=1, force=True)["created"] == 1
    assert svc.stat(alice, "two")["live_clones"] == 2 and svc.stat(alice, "one")["live_clones"] == 1


def test_a_node_failing_mid_batch_undoes_the_whole_batch(stack, monkeypatch):
    svc, alice = stack.service, stack.alice
    svc.put_many(alice, batch(["before"]))
    p3 = stack.directory.node(next(p for p in svc.providers_list() if p["id"] == "p3"))

    def down(records):
        raise UnavailableError("provider p3 is unreachable")

    monkeypatch.setattr(p3, "store_many", down)
    with pytest.raises(UnavailableError):
        svc.put_many(alice, batch([f"f{i}" for i in range(20)]), key="fails")
    assert [o["name"] for o in svc.list(alice)] == ["before"]
    assert counts(stack) == (1, 1, [1, 1, 1, 1])
    monkeypatch.undo()
    assert svc.put_many(alice, batch([f"f{i}" for i in range(20)]), key="fails")["created"] == 20
    assert counts(stack) == (21, 21, [21, 21, 21, 21])


def test_a_reservation_left_by_a_dead_attempt_is_undone(stack, monkeypatch):
    """A batch that dies after its reservation (no undo runs): a retry while its lease runs is told
    to wait; once the lease has ended, the retry undoes it and stores the batch; a restart's
    recovery undoes such reservations a batch at a time."""
    svc, alice = stack.service, stack.alice
    items = batch([f"d{i}" for i in range(10)])

    def dies(*a, **kw):
        raise KeyboardInterrupt  # stands for the process dying here: no clean-up runs

    def lease_ends() -> None:
        with stack.service.db.write() as conn:
            conn.execute(update(objects).where(objects.c.state == "storing").values(lease_until=0.0))

    monkeypatch.setattr(svc, "_commit_batch", dies)
    with pytest.raises(KeyboardInterrupt):
        svc.put_many(alice, items, key="dead")
    monkeypatch.undo()
    assert {o["state"] for o in svc.list(alice)} == {"storing"} and counts(stack) == (10, 10, [10, 10, 10, 10])
    with pytest.raises(UnavailableError, match="still storing"):
        svc.put_many(alice, items, key="dead")
    lease_ends()
    out = svc.put_many(alice, items, key="dead")
    assert out["created"] == 10 and counts(stack) == (10, 10, [10, 10, 10, 10])
    monkeypatch.setattr(svc, "_commit_batch", dies)
    with pytest.raises(KeyboardInterrupt):
        svc.put_many(alice, batch([f"e{i}" for i in range(7)]), key="dead-2")
    monkeypatch.undo()
    lease_ends()
    stack.restart()
    assert counts(stack) == (10, 10, [10, 10, 10, 10])
    assert [o["state"] for o in stack.service.list(alice)] == ["stored"] * 10
    log = [e for e in stack.service.audit_page(None, limit=1000)[0] if e["action"] in ("put.abandoned", "recover")]
    assert sum(e["action"] == "put.abandoned" for e in log) == 10 + 7
    assert log[-1]["action"] == "recover" and log[-1]["detail"]["abandoned"] == 7


# ---------------------------------------------------------------------- the nodes' batch calls
def test_substrate_create_many_writes_what_create_writes(tmp_path):
    states = [parse_state("bloch", [float(x) for x in b]) for b in random_blochs(6)]
    states.append(parse_state("statevector", [0.6, 0, 0, 0.8]))  # two qubits
    holders = {"vault": ["N0_1", "N0_2"], "provider:p1": ["S0_1"], "provider:p2": ["S0_2"]}
    one, many = Substrate(tmp_path / "one"), Substrate(tmp_path / "many")
    for i, st in enumerate(states):
        one.create(f"o{i}", st, 2, keep_reference=True, holders=holders if st.qubits == 1 else None)
    items = [{"object_id": f"o{i}", "state": st, "holders": holders if st.qubits == 1 else None}
             for i, st in enumerate(states)]
    assert many.create_many(items, 2, keep_reference=True) == {"created": 7, "existing": 0}

    def rows(sub: Substrate) -> list:
        sub.close()
        with sqlite3.connect(sub.data_dir / "substrate.sqlite3") as conn:
            return conn.execute("SELECT object_id, blob FROM joint ORDER BY object_id").fetchall()

    assert many.create_many(items, 2, keep_reference=True) == {"created": 0, "existing": 7}  # idempotent
    with pytest.raises(ConflictError, match="exists with 1 qubits and 2 clones"):
        Substrate(tmp_path / "one").create_many(items[:1], 3, keep_reference=True)
    assert rows(one) == rows(many)  # byte for byte
    again = Substrate(tmp_path / "many")
    assert again.decrypt("o0", 1, "a")["fidelity"] == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ConflictError, match="decrypted"):
        again.create_many(items[:2], 2, keep_reference=True)
    assert again.health()["objects"] == 6  # the refused batch wrote nothing
    again.discard_many(["o1", "o2", "missing"])
    assert again.health()["objects"] == 4


def test_substrate_create_many_checks_its_input(tmp_path):
    sub = Substrate(None)
    st = parse_state("bloch", [0, 0, 1])
    for bad in ([], [{"object_id": "a", "state": st}] * 2, [{"object_id": "a", "state": {"kind": "bloch"}}],
                [{"object_id": "bad id", "state": st}], [{"object_id": "a", "state": st, "extra": 1}],
                [{"object_id": f"o{i}", "state": st} for i in range(MAX_BATCH + 1)],
                [{"object_id": "a", "state": st, "holders": {"vault": ["N0_9"]}}]):
        with pytest.raises(InvalidArgumentError):
            sub.create_many(bad, 2, keep_reference=False)
    assert sub.health()["objects"] == 0
    assert sub.create_many([{"object_id": "a", "state": st}], 2, keep_reference=False)["created"] == 1
    assert sub.create_many([{"object_id": "a", "state": st}], 2, keep_reference=False)["existing"] == 1


def test_vault_and_provider_batches_are_idempotent_and_all_or_nothing(tmp_path):
    vault, provider = KeyVault(tmp_path / "v"), ProviderNode("p1", tmp_path / "p")
    vault.deposit_many("t", [["a", ["N0_1"]], ["b", ["N0_1", "N0_2"]]])
    vault.deposit_many("t", [["a", ["N0_1"]], ["b", ["N0_1", "N0_2"]]])
    with pytest.raises(ConflictError):
        vault.deposit_many("t", [["c", ["N0_1"]], ["a", ["N0_2"]]])  # a with another key: c not written either
    assert vault.state("c") is None and vault.health()["keys"]["held"] == 2
    provider.store_many([["a", 1, ["S0_1"], 5.0], ["b", 2, ["S0_2"], 5.0]])
    provider.store_many([["a", 1, ["S0_1"], 5.0]])
    with pytest.raises(ConflictError):
        provider.store_many([["c", 1, ["S0_1"], 5.0], ["b", 1, ["S0_1"], 5.0]])
    assert provider.holding("c") is None and provider.holding("b")["clone"] == 2
    for bad in ([], [["a"]], [["a", "N0_1"]], [["a", ["x"]], ["a", ["y"]]], [[1, ["x"]]]):
        with pytest.raises(InvalidArgumentError):
            vault.deposit_many("t", bad)
    with pytest.raises(InvalidArgumentError):
        provider.store_many([["a", "one", ["S0_1"], 5.0]])
    vault.destroy_many(["a", "b", "never"])
    provider.discard_many(["a"])
    assert vault.health()["keys"]["held"] == 0 and provider.health()["clones"] == 1
    with pytest.raises(InvalidArgumentError):
        provider.discard_many([])


@pytest.mark.service
def test_substrate_batches_in_postgresql(pg_schema_url):
    """The substrate's state in PostgreSQL: a batch in one transaction, the same rows as one by one."""
    states = [parse_state("bloch", [float(x) for x in b]) for b in random_blochs(5)]
    sub = Substrate(None, db_url=pg_schema_url)
    try:
        items = [{"object_id": f"o{i}", "state": st, "holders": None} for i, st in enumerate(states)]
        assert sub.create_many(items, 4, keep_reference=True) == {"created": 5, "existing": 0}
        assert sub.create_many(items, 4, keep_reference=True) == {"created": 0, "existing": 5}
        sub.create("single", states[0], 4, keep_reference=True)
        rows = dict(sub._db.query("SELECT object_id, blob FROM joint"))
        assert bytes(rows["single"]) == bytes(rows["o0"])  # byte for byte what create writes
        with pytest.raises(ConflictError, match="exists with 1 qubits and 4 clones"):
            sub.create_many(items[:2], 2, keep_reference=True)
        assert sub.decrypt("o1", 2, "a")["fidelity"] == pytest.approx(1.0, abs=1e-12)
        with pytest.raises(ConflictError, match="decrypted"):
            sub.create_many([*items[1:], {"object_id": "new", "state": states[0]}], 4, keep_reference=True)
        assert sub.health()["objects"] == 5 and not sub.exists("new")  # the refused batch wrote nothing
        sub.discard_many(["o0", "o1", "o2", "never"])
        assert sub.health()["objects"] == 3 and sub.output("o1") is None
    finally:
        sub.close()


@SQLITE_ONLY
def test_the_orphan_sweep_reads_a_provider_a_page_at_a_time(stack):
    svc = stack.service
    svc.put_many(stack.alice, batch([f"o{i}" for i in range(30)]))
    p1 = stack.directory.node(svc.providers_list()[0])
    p1.store_many([[f"orphan-{i:02d}", 1, ["S0_1"], 0.0] for i in range(12)])  # records of objects it holds no clone of
    pages = []
    real = p1.records
    p1.records = lambda after=None, limit=None: pages.append(limit) or real(after=after, limit=limit)
    svc.ORPHAN_PAGE = 7
    assert svc.recover()["orphans"] == 12
    assert set(pages) == {7} and len(pages) == 42 // 7 + 1  # 42 records, 7 at a time (then an empty page)
    assert len(real()) == 30 and counts(stack) == (30, 30, [30, 30, 30, 30])
    ids = [r["object_id"] for r in real()]
    assert ids == sorted(ids) and [r["object_id"] for r in real(after=ids[1], limit=3)] == ids[2:5]
    with pytest.raises(InvalidArgumentError):
        real(limit=0)
