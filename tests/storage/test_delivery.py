"""Exactly-once delivery: idempotency keys, acknowledgements, retention, fencing, the reconciler,
and the upgrade of a data dir written before all of it."""

from __future__ import annotations

import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qclone.storage import faults
from qclone.storage.errors import ConflictError
from qclone.storage.inputs import parse_state

from .conftest import Stack

PURE = parse_state("bloch", [0.0, 0.6, 0.8])
FIXTURE = Path(__file__).parent / "fixtures" / "datadir-0001.tar.gz"


def _rho(bloch: list[float]) -> np.ndarray:
    x, y, z = bloch
    return np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2


def _actions(stack: Stack, name: str) -> list[str]:
    return [e["action"] for e in stack.service.audit_log(None) if e["object_name"] == name and e["action"] != "stat"]


def test_output_waits_for_its_acknowledgement(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    svc.put(alice, "a", PURE, keep_reference=True)
    first = svc.get(alice, "a", key="k1")
    again = svc.get(alice, "a", key="k1")  # the reply was lost: the same get again
    assert first["attempt"] == again["attempt"] and again["key"] == "k1"
    np.testing.assert_allclose(again["density_matrix"], PURE.density, atol=1e-9)
    assert svc.stat(alice, "a")["state"] == "delivering" and stack.substrate.health()["outputs"] == 1
    later = svc.get(alice, "a", key="k2")  # a crashed client's next get collects it
    assert later["recovered"] and later["attempt"] == first["attempt"]
    with pytest.raises(ConflictError, match="later get"):
        svc.ack(alice, "a", "k1")  # the delivery is now k2's
    assert svc.ack(alice, "a", "k2")["state"] == "retrieved"
    assert svc.ack(alice, "a", "k2")["state"] == "retrieved"  # idempotent
    assert stack.substrate.health()["outputs"] == 0
    with pytest.raises(ConflictError, match="already retrieved"):
        svc.get(alice, "a", key="k2")
    assert _actions(stack, "a") == ["put", "get", "get.deliver", "get.ack", "get.refused"]


def test_unacknowledged_output_is_discarded_after_its_retention(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    svc.retention_seconds = 0.5  # of the database's clock
    oid = svc.put(alice, "r", PURE)["object_id"]
    svc.get(alice, "r", key="k")
    time.sleep(0.6)
    counts = svc.recover(expired_only=True)  # what the reconciler runs
    assert counts["expired"] == 1
    assert svc.stat(alice, "r")["state"] == "lost"
    assert stack.substrate.output(oid) is None and stack.vault.state(oid) is None
    lost = [e for e in svc.audit_log(None) if e["object_name"] == "r" and e["action"] == "object.lost"]
    assert len(lost) == 1 and "not acknowledged within 0.5 s" in lost[0]["detail"]["reason"]
    with pytest.raises(ConflictError, match="lost"):
        svc.get(alice, "r", key="k")


@pytest.mark.parametrize("step", ["get.collect", "ack.commit", "ack.release"])
def test_crash_while_delivering_then_restart(stack: Stack, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    oid = stack.service.put(stack.alice, "d", PURE, keep_reference=True)["object_id"]
    stack.service.get(stack.alice, "d", key="k1")

    class Crash(BaseException):
        pass

    def point(name: str) -> None:
        if name == step:
            raise Crash(name)

    with monkeypatch.context() as m:
        m.setattr(faults, "crash_point", point)
        with pytest.raises(Crash):
            if step == "get.collect":
                stack.service.get(stack.alice, "d", key="k2")
            else:
                stack.service.ack(stack.alice, "d", "k1")
    stack.restart()
    svc = stack.service
    if step == "get.collect":  # the output still waits: the next get receives it
        assert svc.get(stack.alice, "d", key="k3", ack=True)["fidelity"] == pytest.approx(1.0, abs=1e-9)
    else:  # acknowledged before the crash: the output is released at start-up
        assert svc.stat(stack.alice, "d")["state"] == "retrieved"
    assert stack.substrate.output(oid) is None
    with pytest.raises(ConflictError):
        svc.get(stack.alice, "d")
    assert _actions(stack, "d").count("get") == 1 and _actions(stack, "d").count("get.ack") == 1


class _PausingVault:
    """The vault, with ``release`` of one attempt held until told to go (a SIGSTOPped vault)."""

    def __init__(self, vault) -> None:  # noqa: ANN001 - KeyVault
        self._vault = vault
        self.paused = threading.Event()
        self.go = threading.Event()
        self.first: str | None = None

    def release(self, object_id: str, attempt: str) -> None:
        if self.first is None:
            self.first = attempt
            self.paused.set()
            self.go.wait(30)
        self._vault.release(object_id, attempt)

    def __getattr__(self, name: str):  # noqa: ANN204 - a proxy forwards any attribute
        return getattr(self._vault, name)


def test_a_stale_attempt_cannot_finish_after_another_took_over(stack: Stack) -> None:
    """The vault stalls one get past its lease; another get takes the object over. When the stale
    attempt resumes it is refused at every write (vault, substrate, database): one decryption,
    one delivery, nothing stuck."""
    svc, alice = stack.service, stack.alice
    oid = svc.put(alice, "f", PURE, keep_reference=True)["object_id"]
    svc.vault = _PausingVault(stack.vault)
    svc.lease_seconds = 0.5
    outcome: dict = {}

    def stale() -> None:
        try:
            outcome["out"] = svc.get(alice, "f", key="slow")
        except ConflictError as e:
            outcome["error"] = e

    t = threading.Thread(target=stale)
    t.start()
    assert svc.vault.paused.wait(10)
    with pytest.raises(ConflictError, match="being retrieved"):
        svc.get(alice, "f", key="other")  # the lease still runs
    time.sleep(0.6)
    winner = svc.get(alice, "f", key="fast")  # the lease ended: taken over (fenced), retrieved
    assert svc.stat(alice, "f")["state"] == "delivering"
    svc.vault.go.set()  # the stale attempt resumes
    t.join(30)
    assert "error" in outcome, outcome  # it could not decrypt, nor finish
    assert svc.ack(alice, "f", "fast")["state"] == "retrieved"
    np.testing.assert_allclose(winner["density_matrix"], PURE.density, atol=1e-9)
    assert stack.substrate.output(oid) is None and not stack.substrate.exists(oid)
    assert stack.vault.state(oid)["state"] == "consumed"
    assert _actions(stack, "f").count("get") == 1
    with pytest.raises(ConflictError, match="already retrieved"):
        svc.get(alice, "f")


def test_substrate_refuses_a_decryption_below_the_fence(stack: Stack) -> None:
    oid = stack.service.put(stack.alice, "g", PURE)["object_id"]
    seen = stack.substrate.fence(oid, 3)
    assert seen == {"fence": 3, "exists": True, "output_attempt": None}
    assert stack.substrate.fence(oid, 1)["fence"] == 3  # never lowered
    with pytest.raises(ConflictError, match="newer attempt"):
        stack.substrate.decrypt(oid, 1, "a" * 32, fence=2)
    assert stack.substrate.exists(oid)
    out = stack.substrate.decrypt(oid, 1, "b" * 32, fence=3)
    assert stack.substrate.fence(oid, 4)["output_attempt"] == out["attempt"] == "b" * 32


def test_the_reconciler_takes_over_an_expired_claim_in_the_background(stack: Stack,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    svc, alice = stack.service, stack.alice
    svc.put(alice, "h", PURE)
    svc.lease_seconds = 0.3

    class Crash(BaseException):
        pass

    def point(name: str) -> None:
        if name == "get.release":
            raise Crash(name)

    with monkeypatch.context() as m:
        m.setattr(faults, "crash_point", point)
        with pytest.raises(Crash):
            svc.get(alice, "h")
    assert svc.stat(alice, "h")["state"] == "retrieving"
    svc.start_reconciler(interval=0.1)
    try:
        deadline = time.monotonic() + 10
        while svc.stat(alice, "h")["state"] != "stored" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        svc.close()
    assert svc.stat(alice, "h")["state"] == "stored"  # rolled back without any get asking
    assert stack.vault.state(svc.stat(alice, "h")["object_id"])["state"] == "held"
    assert svc.get(alice, "h", ack=True)["fidelity"] is None


def test_a_vault_outage_leaves_nothing_held(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """A get that meets a dead vault rolls its claim back at once; once the vault answers again
    the next get succeeds (no 409 'being retrieved' for the length of a lease)."""
    from qclone.storage.errors import UnavailableError

    svc, alice = stack.service, stack.alice
    oid = svc.put(alice, "v", PURE)["object_id"]
    real_release, real_restore = stack.vault.release, stack.vault.restore

    def release_then_die(object_id: str, attempt: str) -> None:
        real_release(object_id, attempt)  # the vault did it, but the answer never came back
        raise UnavailableError("vault at http://vault is unreachable (ConnectionResetError)")

    def unreachable(*_a: object) -> None:
        raise UnavailableError("vault at http://vault is unreachable (ConnectionRefusedError)")

    monkeypatch.setattr(stack.vault, "release", release_then_die)
    monkeypatch.setattr(stack.vault, "restore", unreachable)
    with pytest.raises(UnavailableError):
        svc.get(alice, "v")
    assert svc.stat(alice, "v")["state"] == "stored"
    assert stack.vault.state(oid)["state"] == "released"  # released to the dead attempt
    monkeypatch.setattr(stack.vault, "release", real_release)
    monkeypatch.setattr(stack.vault, "restore", real_restore)
    out = svc.get(alice, "v", ack=True)  # the next claim restores the stale release first
    np.testing.assert_allclose(out["density_matrix"], PURE.density, atol=1e-9)


def test_a_data_dir_of_the_previous_schema_is_upgraded(tmp_path: Path) -> None:
    """``fixtures/datadir-0001.tar.gz`` was written by the service at schema 0001 (see
    ``fixtures/make_datadir_0001.py``): opened now, it is migrated and every object keeps its promise."""
    from qclone.storage.server import ServeOptions, build_service

    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    svc = build_service(ServeOptions(data_dir=tmp_path, settable_clock=True).checked())
    try:
        # the head: 0007_ui_sessions revises 0006_object_listing, which revises 0005_applying, which
        # revises 0004_holders, which revises 0002_node_keys, which revises 0003_delivery
        assert svc.db.revision() == "0007_ui_sessions"
        tenant = svc.authenticate((tmp_path / "token").read_text().strip())
        states = {o["name"]: o["state"] for o in svc.list(tenant)}
        assert states == {"kept": "stored", "done": "retrieved", "decrypted": "delivering",
                          "undelivered": "delivering", "gone": "deleted"}
        for name in ("kept", "decrypted", "undelivered"):  # each delivered exactly once
            out = svc.get(tenant, name, key=f"up-{name}")
            np.testing.assert_allclose(out["density_matrix"], _rho([0.0, 0.6, 0.8]), atol=1e-9)
            svc.ack(tenant, name, f"up-{name}")
            with pytest.raises(ConflictError):
                svc.get(tenant, name)
        with pytest.raises(ConflictError):
            svc.get(tenant, "done")
        assert svc.substrate.health()["outputs"] == 0
        for name in ("done", "decrypted", "undelivered", "kept"):
            acts = [e["action"] for e in svc.audit_log(None) if e["object_name"] == name]
            assert acts.count("get") + acts.count("get.recovered") == 1, (name, acts)
    finally:
        svc.db.dispose()


def test_missed_discards_are_retried_by_the_reconciler(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider that is up but cannot be reached when told to discard gets the discard from the
    reconciler's next pass (not only at a restart or a revive)."""
    from qclone.storage.errors import UnavailableError

    svc, alice = stack.service, stack.alice
    placed = svc.put(alice, "m", PURE)
    victim = placed["placement"][0]
    node = stack.directory.node({"id": victim["provider"], "zone": victim["zone"], "t1": 3600.0, "t2": 3600.0,
                                 "url": None})
    real_discard = node.discard

    def unreachable(object_id: str) -> None:
        raise UnavailableError(f"provider {victim['provider']} is unreachable (ConnectionResetError)")

    monkeypatch.setattr(node, "discard", unreachable)
    svc.get(alice, "m", ack=True)
    assert node.holding(placed["object_id"]) is not None
    assert {p["id"]: p["discards_pending"] for p in svc.providers_list()}[victim["provider"]] == 1
    monkeypatch.setattr(node, "discard", real_discard)
    assert svc.recover(expired_only=True)["discards"] == 1
    assert node.holding(placed["object_id"]) is None
    assert {p["id"]: p["discards_pending"] for p in svc.providers_list()}[victim["provider"]] == 0
