"""Data the vault or a provider lost is detected, marked with the reason and audited."""

from __future__ import annotations

import pytest

from qclone.storage.errors import ConflictError
from qclone.storage.inputs import parse_state

from .conftest import Stack

STATE = parse_state("bloch", [0.0, 0.0, 1.0])


def _lost_reasons(stack: Stack) -> dict[str, str]:
    return {e["object_name"]: e["detail"]["reason"] for e in stack.service.audit_log(None)
            if e["action"] == "object.lost"}


def test_nothing_lost_nothing_reported(stack: Stack) -> None:
    stack.service.put(stack.alice, "a", STATE)
    report = stack.service.check_integrity()
    assert report["vault"] == {"status": "ok", "missing_keys": 0} and report["lost_objects"] == []
    assert all(r == {"status": "ok", "missing_clones": 0} for r in report["providers"].values())
    assert stack.service.health()["status"] == "ok"


def test_keys_the_vault_lost(stack: Stack) -> None:
    svc = stack.service
    a = svc.put(stack.alice, "a", STATE)["object_id"]
    svc.put(stack.alice, "b", STATE)
    stack.vault.destroy(a)  # the vault loses a's key
    assert svc.stat(stack.alice, "a")["retrievable"]  # nobody knows yet
    report = svc.check_integrity()
    assert report["vault"] == {"status": "data lost", "missing_keys": 1} and report["lost_objects"] == [a]
    assert svc.stat(stack.alice, "a")["state"] == "lost" and not svc.stat(stack.alice, "a")["retrievable"]
    assert _lost_reasons(stack) == {"a": "the vault no longer holds its key"}
    health = svc.health()
    assert health["status"] == "degraded" and health["vault"]["status"] == "data lost"
    assert health["integrity"]["lost_objects"] == 1
    with pytest.raises(ConflictError, match="lost"):
        svc.get(stack.alice, "a")
    assert svc.get(stack.alice, "b", ack=True)["fidelity"] is None  # the others are untouched


def test_a_get_that_finds_the_key_gone_marks_the_object_lost(stack: Stack) -> None:
    oid = stack.service.put(stack.alice, "k", STATE)["object_id"]
    stack.vault.destroy(oid)
    with pytest.raises(ConflictError, match="vault no longer holds its key"):
        stack.service.get(stack.alice, "k")
    assert stack.service.stat(stack.alice, "k")["state"] == "lost"
    assert not stack.substrate.exists(oid)  # purged


def test_clones_a_provider_lost(stack: Stack) -> None:
    svc = stack.service
    one = svc.put(stack.alice, "one", STATE, clones=2)
    every = svc.put(stack.alice, "every", STATE, clones=2)
    p_one = one["placement"][0]["provider"]
    stack.directory.node({"id": p_one, "zone": f"z{p_one[1:]}", "t1": 3600.0, "t2": 3600.0, "url": None}).discard(one["object_id"])
    for c in every["placement"]:
        stack.directory.node({"id": c["provider"], "zone": c["zone"], "t1": 3600.0, "t2": 3600.0,
                              "url": None}).discard(every["object_id"])
    report = svc.check_integrity()
    assert report["lost_objects"] == [every["object_id"]]
    assert report["providers"][p_one]["missing_clones"] >= 1
    st = svc.stat(stack.alice, "one")
    assert st["state"] == "stored" and st["live_clones"] == 1 and st["retrievable"]
    assert svc.stat(stack.alice, "every")["state"] == "lost"
    assert "lost its last live clone" in _lost_reasons(stack)["every"]
    clone_lost = [e for e in svc.audit_log(None) if e["action"] == "clone.lost"]
    assert len(clone_lost) == 3
    assert svc.get(stack.alice, "one", ack=True)["provider"] != p_one
