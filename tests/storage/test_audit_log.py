"""The audit log: one entry per operation, who did what when, and the database refuses to change it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import ConflictError
from qclone.storage.inputs import parse_state

from .conftest import Stack

STATE = parse_state("bloch", [0, 0, 1])


def test_every_operation_is_logged_with_actor_and_time(stack: Stack) -> None:
    svc, alice = stack.service, stack.alice
    svc.put(alice, "a", STATE)
    stack.clock.advance(10)
    svc.stat(alice, "a")
    svc.list(alice)
    svc.peek(alice, "a", svc.stat(alice, "a")["placement"][0]["provider"])
    out = svc.get(alice, "a")
    svc.ack(alice, "a", out["key"])
    with pytest.raises(ConflictError):
        svc.get(alice, "a")
    svc.put(alice, "b", STATE)
    svc.delete(alice, "b")
    mine = svc.audit_log(alice)
    # reads (stat, list) are left to the gateway's access log: no audit row each
    assert [e["action"] for e in mine] == ["tenant.create", "put", "peek", "get", "get.ack", "get.refused", "put", "delete"]
    assert all(e["tenant"] == "alice" for e in mine)
    assert all(e["actor"] == "alice" for e in mine[1:]) and mine[0]["actor"] == "admin"
    assert mine[1]["at"] == 1000.0 and mine[-1]["at"] == 1010.0
    assert mine[1]["object_name"] == "a" and mine[1]["detail"]["clones"] == 4
    assert mine[3]["detail"]["provider"] in ("p1", "p2", "p3", "p4")
    ids = [e["id"] for e in mine]
    assert ids == sorted(ids)
    everything = svc.audit_log(None)
    assert [e["action"] for e in everything[:4]] == ["provider.add"] * 4
    assert all(e["actor"] == "admin" for e in everything[:4])
    assert [e["action"] for e in svc.audit_log(alice, after=ids[-3])] == ["put", "delete"]
    assert next(e["action"] for e in svc.audit_log(alice, since=1010.0)) == "peek"
    assert len(svc.audit_log(alice, limit=2)) == 2
    with pytest.raises(InvalidArgumentError):
        svc.audit_log(alice, limit=0)


def test_tenants_see_only_their_entries(stack: Stack) -> None:
    bob = stack.service.authenticate(stack.service.create_tenant("bob"))
    stack.service.put(stack.alice, "x", STATE)
    assert [e["action"] for e in stack.service.audit_log(bob)] == ["tenant.create"]


def test_provider_operations_are_logged(stack: Stack) -> None:
    svc = stack.service
    svc.providers_kill("p1")
    svc.providers_revive("p1")
    svc.providers_drain("p2")
    actions = [(e["action"], e["detail"].get("provider")) for e in svc.audit_log(None) if e["action"].startswith("provider.")]
    assert actions[-4:] == [("provider.kill", "p1"), ("provider.revive", "p1"), ("provider.drain", "p2"),
                            ("provider.drained", "p2")]


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"])
def test_the_database_refuses_to_change_the_log(stack: Stack, statement: str) -> None:
    stack.service.put(stack.alice, "x", STATE)
    before = stack.service.audit_log(None)
    with pytest.raises(DatabaseError, match="append-only"):
        with stack.db.write() as conn:
            conn.execute(text(statement))
    assert stack.service.audit_log(None) == before


@pytest.mark.service
def test_postgresql_refuses_truncate(pg_schema_url: str, tmp_path) -> None:
    stack = Stack(tmp_path / "d", pg_schema_url)
    try:
        with pytest.raises(DatabaseError, match="append-only"):
            with stack.db.write() as conn:
                conn.execute(text("TRUNCATE audit_log"))
        assert len(stack.service.audit_log(None)) == 5
    finally:
        stack.close()
