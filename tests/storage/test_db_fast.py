"""The prepared-statement path (``Database.fast_write``/``fast_read``) against SQLAlchemy's own
execution of the same statements, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from qclone.storage.db import MAX_PREPARED, Database, JSONDocument
from qclone.storage.models import audit_log, clones, objects, providers, tenants
from qclone.storage.service import StorageService
from qclone.storage.service import statements as svc


@pytest.fixture
def db(database_url: str):  # noqa: ANN201 - Database
    d = Database.open(database_url)
    with d.write() as c:
        c.execute(insert(tenants), {"id": "t1", "name": "alice", "token_hash": "0" * 64, "created_at": 1.0})
        c.execute(insert(providers), [
            {"id": f"p{i}", "name": f"p{i}", "zone": f"z{i}", "url": None, "state": s, "t1": 10.0 * i, "t2": 5.0 * i,
             "created_at": 2.0} for i, s in enumerate(["up", "up", "draining", "down"], 1)])
    yield d
    d.dispose()


def _object(i: int, **kw: object) -> dict:
    row = {"id": f"o{i}", "tenant_id": "t1", "name": f"obj-{i}", "k": 1, "n": 4, "policy": "distinct-providers",
           "state": "storing", "attempt": None, "lease_until": 99.5, "chosen_clone": None, "created_at": 3.25,
           "stored_at": 3.25, "finished_at": None, "keep_reference": True, "purge_pending": False,
           "placement": {"policy": "p", "clones": {}, "key": None}, "audit": {"summary": None, "report": None}}
    return {**row, **kw}


def test_rows_equal_sqlalchemys(db: Database) -> None:
    with db.fast_write() as c:
        c.execute(svc.INSERT_OBJECT, _object(1, lease_until=4.0e9))  # a put commits while its lease runs
        assert c.execute(svc.STORED, {"b_id": "o1", "b_placement": {"a": [1, 2]},
                                       "b_audit": JSONDocument(summary={"safe": True}, report=None)}).rowcount == 1
        c.execute(svc.INSERT_CLONES, [{"object_id": "o1", "j": j, "provider_id": f"p{j}", "labels": [f"S{j}"],
                                        "state": "live", "discard_pending": False, "stored_at": 4.0} for j in (1, 2, 3, 4)])
    for stmt, params in [(svc.Q_OBJECT, {"b_tenant": "t1", "b_name": "obj-1"}),
                         (svc.Q_OBJECT_AUDIT, {"b_tenant": "t1", "b_name": "obj-1"}),
                         (svc.Q_CLONES, {"b_id": "o1"}), (svc.Q_UP, {})]:
        with db.read() as c:
            want = [dict(r._mapping) for r in c.execute(stmt, params).all()]
        with db.fast_read() as c:
            got = [dict(r._mapping) for r in c.execute(stmt, params).all()]
        for a, b in zip(got, want):  # the database's clock, read twice: close, not equal
            assert abs(a.pop("db_now", 0.0) - b.pop("db_now", 0.0)) < 5
        assert got == want and got, stmt
        for a, b in zip(got, want):
            assert [type(v) for v in a.values()] == [type(v) for v in b.values()], stmt
    with db.fast_read() as c:
        row = c.execute(svc.Q_OBJECT_AUDIT, {"b_tenant": "t1", "b_name": "obj-1"}).first()
    assert row.state == "stored" and row.lease_until is None and row.keep_reference is True
    assert row.placement == {"a": [1, 2]} and row.audit == {"summary": {"safe": True}, "report": None}
    with db.fast_read() as c:
        assert c.execute(svc.Q_OBJECT, {"b_tenant": "t1", "b_name": "nope"}).first() is None
        assert c.execute(svc.Q_UP).scalar() == "p1"


def test_updates_and_their_rowcounts(db: Database) -> None:
    with db.fast_write() as c:
        c.execute(svc.INSERT_OBJECT, _object(1, state="stored"))
        c.execute(svc.INSERT_CLONES, [{"object_id": "o1", "j": j, "provider_id": f"p{j}", "labels": [f"S{j}"],
                                        "state": "live", "discard_pending": False, "stored_at": 4.0} for j in (1, 2, 3, 4)])
        claim = {"b_id": "o1", "b_fence": 0, "b_attempt": "a1", "b_key": "k1", "b_lease": 50.0, "b_clone": 2,
                 "b_now": 6.0}
        assert c.execute(svc.CLAIM, claim).rowcount == 1
        assert c.execute(svc.CLAIM, claim).rowcount == 0  # the compare-and-set lets one through
        finish = {"b_id": "o1", "b_attempt": "a1", "b_fence": 1, "b_now": 7.0, "b_retention": 100.0}
        assert c.execute(svc.FINISH, {**finish, "b_attempt": "other"}).rowcount == 0
        assert c.execute(svc.FINISH, {**finish, "b_fence": 0}).rowcount == 0  # a stale fence
        assert c.execute(svc.FINISH, finish).rowcount == 1
        assert c.execute(svc.DISCARD_CLONES, {"b_id": "o1"}).rowcount == 4
    with db.read() as c:
        obj = c.execute(select(objects).where(objects.c.id == "o1")).first()
        cl = {r.j: (r.state, r.discard_pending) for r in c.execute(select(clones))}
        now = db.now()
    assert (obj.state, obj.attempt, obj.chosen_clone, obj.finished_at, obj.fence, obj.get_key) == \
        ("delivering", "a1", 2, 7.0, 1, "k1")
    assert now + 90 < obj.lease_until < now + 110  # the retention, on the database's clock
    with db.fast_write() as c:
        assert c.execute(svc.ACK, {"b_id": "o1", "b_key": "other"}).rowcount == 0
        assert c.execute(svc.ACK, {"b_id": "o1", "b_key": "k1"}).rowcount == 1
    with db.read() as c:
        assert c.execute(select(objects.c.state).where(objects.c.id == "o1")).scalar() == "retrieved"
    # the discard reaches providers that are up or draining now; the one that is down gets it later
    assert cl == {1: ("discarded", False), 2: ("discarded", False), 3: ("discarded", False), 4: ("discarded", True)}


def test_audit_entries_and_errors_as_sqlalchemys(db: Database) -> None:
    with db.fast_write() as c:
        StorageService._log(c, 5.0, "alice", "put", tenant_id="t1", object_id="o1", object_name="x", clones=4)
        c.execute(svc.INSERT_OBJECT, _object(1))
    with db.read() as c:
        entry = c.execute(select(audit_log)).one()
    assert (entry.actor, entry.action, entry.detail) == ("alice", "put", {"clones": 4})
    with pytest.raises(IntegrityError), db.fast_write() as c:  # the name is taken
        c.execute(svc.INSERT_OBJECT, _object(2, name="obj-1"))
    # append-only: the UPDATE is refused by a trigger, with the error class SQLAlchemy gives it
    with pytest.raises(DBAPIError) as via_sqlalchemy, db.write() as c:
        c.execute(_RENAME_LOG, {"b_actor": "mallory"})
    with pytest.raises(DBAPIError, match="append-only") as via_fast, db.fast_write() as c:
        c.execute(_RENAME_LOG, {"b_actor": "mallory"})
    assert type(via_fast.value) is type(via_sqlalchemy.value)
    assert type(via_fast.value.orig) is type(via_sqlalchemy.value.orig)
    with pytest.raises(KeyError), db.fast_write() as c:  # a missing parameter
        c.execute(svc.CLAIM, {"b_id": "o1"})


_RENAME_LOG = update(audit_log).values(actor=bindparam("b_actor"))


def test_a_failed_transaction_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.fast_write() as c:
        c.execute(svc.INSERT_OBJECT, _object(1))
        StorageService._log(c, 5.0, "alice", "put")
        raise RuntimeError("boom")
    with db.read() as c:
        assert c.execute(select(objects)).all() == []
        assert c.execute(select(audit_log)).all() == []
    with db.fast_write() as c:  # the connection went back to the pool clean
        c.execute(svc.INSERT_OBJECT, _object(1))
    with db.fast_read() as c:
        assert c.execute(svc.Q_OBJECT_BY_ID, {"b_id": "o1"}).first().name == "obj-1"


def test_concurrent_claims_let_exactly_one_through(db: Database) -> None:
    with db.fast_write() as c:
        c.execute(svc.INSERT_OBJECT, _object(1, state="stored"))
    won: list[int] = []
    go = threading.Barrier(8)

    def claim(i: int) -> None:
        go.wait()
        with db.fast_write() as c:
            won.append(c.execute(svc.CLAIM, {"b_id": "o1", "b_fence": 0, "b_attempt": f"a{i}", "b_key": f"k{i}",
                                             "b_lease": 1.0, "b_clone": 1, "b_now": 1.0}).rowcount)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [0] * 7 + [1]


def test_only_statements_built_once(tmp_path) -> None:
    db = Database.open(data_dir=tmp_path)
    try:
        with pytest.raises(ValueError, match="expanding"), db.fast_read() as c:
            c.execute(select(providers).where(providers.c.state.in_(["up", "down"])))
        with pytest.raises(RuntimeError, match="built once"), db.fast_read() as c:
            for i in range(MAX_PREPARED + 1):
                c.execute(select(providers).where(providers.c.t1 > i))
    finally:
        db.dispose()


def test_writes_take_the_lock_at_begin_and_a_busy_one_is_an_operational_error(tmp_path, monkeypatch) -> None:
    import sqlite3

    from qclone.storage import db as dbmod

    monkeypatch.setattr(dbmod, "SQLITE_BUSY_TIMEOUT_MS", 50)
    db = Database.open(data_dir=tmp_path)
    raw = sqlite3.connect(str(tmp_path / "gateway.sqlite3"), timeout=0.05, isolation_level=None)
    try:
        with db.fast_write():  # holds the write lock from BEGIN IMMEDIATE on
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                raw.execute("BEGIN IMMEDIATE")
        raw.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"), db.fast_write():
            pass
        with db.fast_read() as c:  # readers are not blocked by a writer (WAL)
            assert c.execute(svc.Q_UP).all() == []
        raw.execute("ROLLBACK")
    finally:
        raw.close()
        db.dispose()
