"""Cursor paging of the object listing and the audit log: the service, the HTTP API, the SDK
and ``qclone ls``, on SQLite and PostgreSQL.

The pages are checked against the whole listing read in one ``SELECT`` sorted by Python
(an independent order), with ties on ``created_at`` so the name must break them.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text

from qclone.errors import InvalidArgumentError
from qclone.storage.api import create_app
from qclone.storage.models import audit_log, objects
from qclone.storage.paging import decode_cursor, encode_cursor
from qclone.storage.service.objects import PAGE_PLAN, listing_query

ADMIN = "adm-" + "x" * 28


def _fill(stack, tenant, count: int, *, ties: int = 3) -> None:
    """``count`` object rows for ``tenant``, ``ties`` of them per created_at (names shuffled)."""
    rows = []
    for i in range(count):
        rows.append({"id": uuid.uuid4().hex, "tenant_id": tenant.id, "name": f"o-{(i * 7919) % 100003:06d}",
                     "k": 1, "n": 2, "policy": "round-robin", "state": "stored", "created_at": 2000.0 + i // ties,
                     "stored_at": 2000.0 + i // ties, "keep_reference": False, "purge_pending": False,
                     "placement": [], "audit": {}, "fence": 0})
    with stack.db.write() as conn:
        conn.execute(insert(objects), rows)


def _expected(stack, tenant) -> list[str]:
    with stack.db.read() as conn:
        rows = conn.execute(select(objects.c.created_at, objects.c.name).where(objects.c.tenant_id == tenant.id)).all()
    return [name for _, name in sorted(rows)]


def test_pages_cover_the_listing_once_in_order(stack) -> None:
    bob = stack.service.authenticate(stack.service.create_tenant("bob"))
    _fill(stack, stack.alice, 23)
    _fill(stack, bob, 5)
    want = _expected(stack, stack.alice)
    for limit in (1, 2, 5, 23, 100):
        seen, cursor, pages = [], None, 0
        while True:
            rows, cursor = stack.service.list_page(stack.alice, limit=limit, cursor=cursor)
            pages += 1
            assert len(rows) <= limit
            seen += [r["name"] for r in rows]
            if cursor is None:
                break
        assert seen == want  # every object once, in (created_at, name) order, none of bob's
        assert pages == -(-23 // limit)  # a full last page already says there is no next one
    # a row added behind the cursor does not shift the next page (keyset, not offset)
    first, cursor = stack.service.list_page(stack.alice, limit=10)
    with stack.db.write() as conn:
        conn.execute(insert(objects), [{"id": uuid.uuid4().hex, "tenant_id": stack.alice.id, "name": "a-early",
                                        "k": 1, "n": 2, "policy": "round-robin", "state": "stored",
                                        "created_at": 1.0, "stored_at": 1.0, "keep_reference": False,
                                        "purge_pending": False, "placement": [], "audit": {}, "fence": 0}])
    second, _ = stack.service.list_page(stack.alice, limit=10, cursor=cursor)
    assert [r["name"] for r in second] == want[10:20]
    assert stack.service.list(stack.alice, limit=3) == stack.service.list_page(stack.alice, limit=3)[0]


def test_the_listing_query_uses_the_index(stack) -> None:
    """O(page) at any size: the page statement the service runs seeks ``ix_objects_tenant_created_name``
    to the cursor and reads on in index order, with no sort and no rows filtered after the seek (the
    plan, not a timing). On PostgreSQL with the plan setting the service uses, checked on a table of
    30 000 rows of one instant (a batch stores its objects at one created_at) that was never analysed:
    the statistics a bulk load leaves behind until autovacuum catches up."""
    if stack.db.dialect == "postgresql":
        with stack.db.write() as conn:  # this test's own schema: its statistics stay those of the empty table
            conn.execute(text("ALTER TABLE objects SET (autovacuum_enabled = false)"))
    _fill(stack, stack.alice, 30_000 if stack.db.dialect == "postgresql" else 5, ties=1000)
    _, cursor = stack.service.list_page(stack.alice, limit=2)
    key = decode_cursor(cursor, "objects", (float, str))
    query = listing_query(stack.alice.id, after=key, limit=1001)  # a page of 1000, as the API reads it
    with stack.db.read() as conn:
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        if stack.db.dialect == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
            assert "ix_objects_tenant_created_name (tenant_id=? AND (created_at,name)>(?,?))" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            conn.execute(text(PAGE_PLAN))
            plan = " ".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
            assert "Index Scan using ix_objects_tenant_created_name" in plan, plan
            assert "ROW(created_at, (name)::text) > ROW(" in plan, plan  # the seek: an index condition
            assert "Sort" not in plan and "Filter" not in plan, plan
    rows, _ = stack.service.list_page(stack.alice, limit=1000, cursor=cursor)
    with stack.db.read() as conn:
        want = _expected(stack, stack.alice)[2:1003]
        assert [r["name"] for r in rows] == [r.name for r in conn.execute(query)][:1000] == want[:1000]


def test_audit_pages(stack) -> None:
    _fill(stack, stack.alice, 1)
    for i in range(7):
        stack.service.create_tenant(f"t{i}")  # admin entries
    with stack.db.read() as conn:
        ids = [r.id for r in conn.execute(select(audit_log.c.id).order_by(audit_log.c.id))]
    seen, cursor = [], None
    while True:
        rows, cursor = stack.service.audit_page(None, limit=3, cursor=cursor)
        seen += [r["id"] for r in rows]
        if cursor is None:
            break
    assert seen == ids


@pytest.mark.parametrize("cursor", [
    "", "%%%", "bm90IGpzb24", encode_cursor("audit", 5), encode_cursor("objects", "x", "y"),
    encode_cursor("objects", 1.0), encode_cursor("objects", float("nan"), "a"), encode_cursor("objects", 1.0, "a" * 300),
    base64.urlsafe_b64encode(b"[" * 100000).decode(), base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    encode_cursor("objects", True, "a"),
])
def test_a_bad_cursor_is_refused_without_echo(cursor: str) -> None:
    with pytest.raises(InvalidArgumentError) as e:
        decode_cursor(cursor, "objects", (float, str))
    assert cursor[:8] not in str(e.value) or not cursor


def test_api_pages_and_refusals(stack) -> None:
    _fill(stack, stack.alice, 12)
    token = stack.service.create_tenant("carol")
    carol = stack.service.authenticate(token)
    _fill(stack, carol, 12)
    want = _expected(stack, carol)
    client = TestClient(create_app(stack.service, admin_token=ADMIN), raise_server_exceptions=False)
    h = {"Authorization": f"Bearer {token}"}
    r = client.get("/v1/objects", headers=h)
    assert r.status_code == 200 and r.json()["next_cursor"] is None
    assert [o["name"] for o in r.json()["objects"]] == want  # the default page holds them all (compatible)
    seen, cursor = [], None
    while True:
        r = client.get("/v1/objects", headers=h, params={"limit": 5} | ({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200
        seen += [o["name"] for o in r.json()["objects"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == want
    secret = "server-side-secret-" + uuid.uuid4().hex
    bad = base64.urlsafe_b64encode(json.dumps(["objects", 1.0, secret * 20]).encode()).decode()
    for params in ({"limit": 0}, {"limit": 10**6}, {"limit": "many"}, {"cursor": "!!"}, {"cursor": bad},
                   {"cursor": "A" * 5000}, {"cursor": encode_cursor("audit", 1)}):
        r = client.get("/v1/objects", headers=h, params=params)
        assert r.status_code == 422, (params, r.status_code)
        message = r.json()["error"]["message"]
        assert secret not in r.text and "\n" not in message and ("cursor" in message or "limit" in message), message
    r = client.get("/v1/audit-log", headers={"Authorization": f"Bearer {ADMIN}"}, params={"limit": 2})
    assert r.status_code == 200 and len(r.json()["entries"]) == 2 and r.json()["next_cursor"]
    nxt = client.get("/v1/audit-log", headers={"Authorization": f"Bearer {ADMIN}"},
                     params={"limit": 2, "cursor": r.json()["next_cursor"]}).json()
    assert nxt["entries"][0]["id"] > r.json()["entries"][-1]["id"]
    r = client.get("/v1/audit-log", headers=h, params={"cursor": encode_cursor("objects", 1.0, "x")})
    assert r.status_code == 422


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.storage.procs import Server, free_port

    data_dir = tmp_path_factory.mktemp("paging-server")
    srv = Server(["--data-dir", str(data_dir), "--settable-clock"], free_port(), data_dir / "server.log").start()
    srv.data_dir = data_dir
    yield srv
    srv.kill()


@pytest.mark.service
def test_sdk_and_cli_read_every_page(server, capsys, monkeypatch) -> None:
    from qclone import Client
    from qclone.cli.main import main
    from tests.storage.procs import read_token

    token = read_token(server.data_dir)
    with Client(server.url, token) as c:
        for i in range(5):
            c.put(f"page-{i}", bloch=[0, 0, 1], clones=2)
        names = [o.name for o in c.list()]
        assert names == [f"page-{i}" for i in range(5)]  # created one after another: oldest first
        assert [o.name for o in c.list(page=2)] == names  # three requests, read transparently
        assert [o.name for o in c.list(limit=3, page=2)] == names[:3]
        rows, cursor = c.list_page(limit=4)
        assert len(rows) == 4 and cursor is not None
        rest, end = c.list_page(limit=4, cursor=cursor)
        assert [o.name for o in rest] == names[4:] and end is None
        with pytest.raises(InvalidArgumentError):
            c.list_page(cursor="garbage!")
    monkeypatch.setenv("QCLONE_URL", server.url)
    monkeypatch.setenv("QCLONE_TOKEN", token)
    assert main(["ls", "--limit", "2", "--json"]) == 0
    assert [o["name"] for o in json.loads(capsys.readouterr().out)] == names[:2]
    assert main(["ls", "--json"]) == 0
    assert [o["name"] for o in json.loads(capsys.readouterr().out)] == names
    assert main(["ls", "--limit", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qclone: error:") and err.count("\n") == 1


@pytest.mark.slow
def test_listing_benchmark_runs() -> None:
    """``bench/listing.py`` from a clean checkout (correctness only: a tiny run, no timings checked)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(root / "bench" / "listing.py"), "--sizes", "30,60", "--page", "10",
                           "--repeat", "1"], capture_output=True, text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.split()[:1] in (["30"], ["60"])]
    assert [(r[0], r[1]) for r in rows] == [(s, w) for s in ("30", "60") for w in ("first", "middle", "last")]
    assert sum(line.startswith("flatness") for line in done.stdout.splitlines()) == 4
