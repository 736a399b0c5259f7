"""The dashboard against real servers and databases: a sign-out survives kill -9 of the server,
the pages on PostgreSQL as on SQLite, the audit log's filters on both databases, and the
benchmark runs (tiny, correctness only)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from qclone.storage.inputs import parse_state
from tests.storage.conftest import _connect, _with_search_path
from tests.storage.procs import Server, free_port, read_token

ROOT = Path(__file__).resolve().parents[3]


def _sign_in(client: httpx.Client, token: str) -> str:
    page = client.get("/ui/login")
    lt = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/ui/login", data={"token": token, "login_token": lt}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ui/audit").text).group(1)


@pytest.mark.service
def test_sign_out_survives_kill_9(tmp_path):
    srv = Server(["--data-dir", str(tmp_path)], free_port(), tmp_path / "server.log")
    srv.start()
    try:
        token = read_token(tmp_path)
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            csrf = _sign_in(c, token)
            kept = c.cookies.get("qclone_ui")
            assert c.post("/ui/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
        srv.kill()  # SIGKILL right after the sign-out was answered
        srv.start()
        with httpx.Client(base_url=srv.url, timeout=30, cookies={"qclone_ui": kept}) as replay:
            assert replay.get("/ui/objects", follow_redirects=False).status_code == 303  # to the sign-in page
        with httpx.Client(base_url=srv.url, timeout=30) as c:  # a new session works after the restart
            _sign_in(c, token)
            assert c.get("/ui/objects").status_code == 200
    finally:
        srv.kill()


@pytest.mark.service
def test_pages_on_postgresql(tmp_path, postgres_server):
    schema = f"qclone_ui_{uuid.uuid4().hex[:12]}"
    with _connect(postgres_server) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    srv = Server(["--data-dir", str(tmp_path), "--db", _with_search_path(postgres_server, schema)], free_port(),
                 tmp_path / "server.log")
    try:
        srv.start()
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            csrf = _sign_in(c, read_token(tmp_path))
            r = c.post("/ui/objects", data={"csrf_token": csrf, "name": "psi", "kind": "bloch", "data": "0, 1, 0",
                                            "clones": "2", "placement": "today", "keep_reference": "on"},
                       files={"qasm_file": ("", b"")}, follow_redirects=False)
            assert r.status_code == 303
            assert [o["name"] for o in c.get("/ui/objects?format=json").json()["objects"]] == ["psi"]
            page = c.get("/ui/objects/psi")
            assert page.status_code == 200 and "svg" in page.text
            got = c.post("/ui/objects/psi/get", data={"csrf_token": csrf, "confirm": "on", "key": "k1"})
            assert got.status_code == 200
            fidelity = float(re.search(r'id="fidelity">[^<]*<strong>([0-9.]+)</strong>', got.text).group(1))
            assert 0.999 < fidelity <= 1.0  # seconds of storage at T1 = T2 = 1 h
            assert c.post("/ui/objects/psi/get", data={"csrf_token": csrf, "confirm": "on", "key": "k2"}).status_code == 409
            audit = c.get("/ui/audit?object=psi&format=json").json()["entries"]
            assert [e["action"] for e in audit] == ["put", "get", "get.ack", "get.refused"]
    finally:
        srv.kill()
        with _connect(postgres_server) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_audit_log_filters(stack):
    svc = stack.service
    bob = svc.authenticate(svc.create_tenant("bob"))
    for who, name in ((stack.alice, "a1"), (stack.alice, "a2"), (bob, "a1")):
        svc.put(who, name, parse_state("bloch", [0, 0, 1]), clones=2)
    svc.get(stack.alice, "a1", ack=True)
    svc.kill_provider("p1")
    svc.revive_provider("p1")
    assert [e["action"] for e in svc.audit_log(stack.alice, object_name="a1")] == ["put", "get", "get.ack"]
    assert [e["object_name"] for e in svc.audit_log(stack.alice, action="put")] == ["a1", "a2"]
    assert [e["action"] for e in svc.audit_log(None, action="provider.")][-2:] == ["provider.kill", "provider.revive"]
    assert svc.audit_log(None, action="provider_") == []  # the dot is literal, not a wildcard
    assert [e["action"] for e in svc.audit_log(stack.alice, action="get.")] == ["get.ack"]
    assert [e["tenant"] for e in svc.audit_log(None, object_name="a1", action="put")] == ["alice", "bob"]


@pytest.mark.slow
def test_the_dashboard_benchmark_runs():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "dashboard.py"), "--objects", "60", "--repeat", "2"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = re.findall(r"^(objects, first page|object|audit log, first page|providers)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)",
                      done.stdout, re.M)
    assert len(rows) == 4, done.stdout
    for _, page, call, ratio in rows:
        assert float(ratio) == pytest.approx(float(page) / float(call), abs=0.01)
