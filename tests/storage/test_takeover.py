"""Two gateways on one database: the recovery of one (at its start, or its reconciler) takes over
what the other is doing right now. A put it abandons must never be acknowledged (its commit and
the abandonment exclude each other), and a put it finds committed is left alone.

The process form (gateway processes racing, kill -9) is ``tests/storage/test_cluster.py``."""

from __future__ import annotations

import threading

import pytest

from qclone.storage import faults
from qclone.storage.errors import ConflictError, NotFoundError
from qclone.storage.inputs import parse_state

UP = parse_state("bloch", [0, 0, 1])
PLUS = parse_state("bloch", [1, 0, 0])


def _other_gateway(stack):  # noqa: ANN001, ANN202 - a second StorageService over the same database and nodes
    from qclone.storage.service import StorageService

    return StorageService(stack.db, stack.substrate, stack.vault, stack.directory, stack.clock, recover=False,
                          holders=stack.holders)


def test_a_put_abandoned_by_another_gateways_recovery_is_refused_not_lost(stack, monkeypatch):
    """The other gateway's recovery finds the put in flight, destroys its quantum state and, before it
    removes the reservation, the put tries to commit: the commit must fail (else an acknowledged
    object would have no state)."""
    other = _other_gateway(stack)
    destroyed, committed = threading.Event(), threading.Event()
    seen: dict = {}
    discard = stack.substrate.discard_many

    def discard_then_wait(object_ids: list[str]) -> None:
        discard(object_ids)
        if threading.current_thread() is recovery:  # the recovery destroyed the put's quantum state
            destroyed.set()
            committed.wait(20)  # the put's commit comes now, between the destruction and the removal

    monkeypatch.setattr(stack.substrate, "discard_many", discard_then_wait)
    recovery = threading.Thread(target=lambda: seen.update(other.recover()))

    def hook(name: str) -> None:
        if name == "put.place":  # the other gateway starts now: its start-up recovery takes over every put in flight
            recovery.start()
            assert destroyed.wait(20)

    monkeypatch.setattr(faults, "crash_point", hook)
    try:
        with pytest.raises(ConflictError, match="lease"):
            stack.service.put(stack.alice, "x", UP, clones=3, keep_reference=True)
    finally:
        committed.set()
        recovery.join(20)
    monkeypatch.undo()
    assert destroyed.is_set() and "abandoned" in seen  # the recovery ran (the put's own clean-up may remove the row first)
    with pytest.raises(NotFoundError):  # nothing was acknowledged, nothing is left
        stack.service.stat(stack.alice, "x")
    stack.service.put(stack.alice, "x", UP, clones=3, keep_reference=True)  # the name is free again
    assert stack.service.get(stack.alice, "x", ack=True)["fidelity"] == pytest.approx(1.0)


def test_a_put_committed_before_the_recovery_looked_is_left_alone(stack, monkeypatch):
    other = _other_gateway(stack)
    seen = {}

    def hook(name: str) -> None:
        if name == "put.commit":  # committed: the other gateway's recovery must not touch it
            seen.update(other.recover())

    monkeypatch.setattr(faults, "crash_point", hook)
    stack.service.put(stack.alice, "y", PLUS, clones=3, keep_reference=True)
    monkeypatch.undo()
    assert seen["abandoned"] == 0
    assert stack.service.get(stack.alice, "y", ack=True)["fidelity"] == pytest.approx(1.0)
