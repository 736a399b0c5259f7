"""The gateway over HTTP: a real ``qclone serve`` process, on SQLite and on PostgreSQL.

Physics checks use independent computations: the density matrix of a Bloch
vector written out by hand, and the maximally mixed state a single clone must
be for n >= 2 (docs/protocol.md, property 2).
"""

from __future__ import annotations

import math
import os
import stat
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from qclone import Client
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.storage.errors import ConflictError, NotFoundError, UnauthorizedError, UnavailableError
from tests.storage.conftest import _connect, _with_search_path
from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.service

X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
Z = np.diag([1.0, -1.0]).astype(complex)


def rho_of(bloch) -> np.ndarray:
    x, y, z = bloch
    return (np.eye(2) + x * X + y * Y + z * Z) / 2


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    """One embedded server per database for the whole module (a fresh PostgreSQL schema)."""
    data_dir = tmp_path_factory.mktemp(f"http-{request.param}")
    args = ["--data-dir", str(data_dir), "--settable-clock"]
    schema = None
    if request.param == "postgresql":
        pg = request.getfixturevalue("postgres_server")
        schema = f"qclone_http_{uuid.uuid4().hex[:12]}"
        with _connect(pg) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        args += ["--db", _with_search_path(pg, schema)]
    srv = Server(args, free_port(), data_dir / "server.log")
    srv.start()
    srv.data_dir = data_dir
    yield srv
    srv.kill()
    if schema is not None:
        with _connect(pg) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def client(server):
    with Client(server.url, read_token(server.data_dir), admin_token=read_token(server.data_dir, "admin-token")) as c:
        yield c


_names = iter(range(10**6))


def fresh(prefix: str = "obj") -> str:
    return f"{prefix}-{next(_names)}"


def call(server, method: str, path: str, token: str | None = "tenant", **kw) -> httpx.Response:
    headers = kw.pop("headers", {})
    if token == "tenant":
        token = read_token(server.data_dir)
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx.request(method, server.url + path, headers=headers, timeout=30, **kw)


def assert_error(resp: httpx.Response, status: int, type_: str | None = None, *words: str) -> None:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"type", "message", "request_id"} and err["request_id"] == resp.headers["x-request-id"]
    if type_ is not None:
        assert err["type"] == type_, err
    for w in words:
        assert w in err["message"], err


def test_first_start_writes_tokens_0600(server):
    for name in ("token", "admin-token"):
        mode = stat.S_IMODE((server.data_dir / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
        assert len(read_token(server.data_dir, name)) >= 20


def test_health_and_openapi_need_no_token(server):
    assert call(server, "GET", "/v1/health", token=None).json()["status"] == "ok"
    paths = call(server, "GET", "/openapi.json", token=None).json()["paths"]
    assert {"/v1/objects/{name}", "/v1/objects/{name}/get", "/v1/providers", "/v1/audit-log"} <= set(paths)
    assert "requestBody" in paths["/v1/objects/{name}"]["put"]


def test_missing_or_bad_token_is_401(server):
    assert_error(call(server, "GET", "/v1/objects", token=None), 401, "UnauthorizedError", "token")
    assert_error(call(server, "GET", "/v1/objects", token="not-a-token"), 401, "UnauthorizedError")
    assert_error(call(server, "GET", "/v1/objects", token=None, headers={"authorization": "Basic abc"}), 401)


def test_put_get_once_exact_without_elapsed_time(client):
    name = fresh()
    bloch = [0.6, 0.0, 0.8]
    rec = client.put(name, bloch=bloch, clones=4, keep_reference=True)
    assert rec.name == name and rec.state == "stored"
    assert client.stat(name).state == "stored"
    assert name in [o.name for o in client.ls()]
    out = client.get(name)
    # nothing aged (the settable clock did not move): the output is the input, exactly
    np.testing.assert_allclose(out.density_matrix, rho_of(bloch), atol=1e-9)
    np.testing.assert_allclose(out.bloch, [bloch], atol=1e-9)
    assert out.fidelity == pytest.approx(1.0, abs=1e-9)
    assert client.stat(name).state == "retrieved"
    with pytest.raises(ConflictError):
        client.get(name)


def test_statevector_density_and_qasm_inputs(client):
    plus_i = np.array([1, 1j]) / math.sqrt(2)
    client.put("sv-" + (n1 := fresh()), statevector=plus_i, clones=2)
    np.testing.assert_allclose(client.get("sv-" + n1).bloch, [[0, 1, 0]], atol=1e-9)

    mixed = rho_of([0.1, -0.2, 0.3])
    client.put("dm-" + (n2 := fresh()), density=mixed, clones=3)
    np.testing.assert_allclose(client.get("dm-" + n2).density_matrix, mixed, atol=1e-9)

    bell = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; h q[0]; cx q[0], q[1];'
    client.put("qasm-" + (n3 := fresh()), qasm=bell, clones=4)
    out = client.get("qasm-" + n3)
    phi = np.array([1, 0, 0, 1]) / math.sqrt(2)
    np.testing.assert_allclose(out.density_matrix, np.outer(phi, phi), atol=1e-9)
    np.testing.assert_allclose(out.bloch, [[0, 0, 0], [0, 0, 0]], atol=1e-9)  # each half is maximally mixed


def test_elapsed_clock_time_ages_the_clones(client):
    """The server's settable clock drives the memory noise (its physics is tested with the
    substrate): no time, exact; more stored time, lower fidelity; no sleeping anywhere."""
    a, b = fresh(), fresh()
    client.put(a, bloch=[1, 0, 0], keep_reference=True)
    client.put(b, bloch=[1, 0, 0], keep_reference=True)
    client.set_clock(advance=600.0)
    early = client.get(a)
    client.set_clock(advance=1200.0)
    late = client.get(b)
    assert early.elapsed == pytest.approx(600.0) and late.elapsed == pytest.approx(1800.0)
    assert 0.5 < late.fidelity < early.fidelity < 0.999
    assert 0.0 < late.bloch[0][0] < early.bloch[0][0] < 0.999


def test_one_clone_alone_is_maximally_mixed(client):
    name = fresh()
    client.put(name, bloch=[0, 0, 1], clones=4)
    providers = [r.provider for r in client.stat(name).placement]
    assert len(set(providers)) == 4
    view = client.peek(name, providers[0])
    np.testing.assert_allclose(view.density_matrix, np.eye(2) / 2, atol=1e-9)
    with pytest.raises(NotFoundError):
        client.peek(name, "no-such-provider")


def test_concurrent_gets_exactly_one_wins(server, client):
    name = fresh()
    client.put(name, bloch=[0, 0, -1])
    barrier = threading.Barrier(8)

    def one(i: int) -> tuple[int, str | None]:
        barrier.wait()
        r = call(server, "POST", f"/v1/objects/{name}/get", json={"key": f"k{i}"})
        return r.status_code, r.json().get("attempt")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))
    # one decryption: every 200 carries its output (a get arriving after it collects the output
    # waiting for its acknowledgement), the others met it running (409)
    assert {code for code, _ in answers} <= {200, 409} and any(code == 200 for code, _ in answers)
    assert len({attempt for code, attempt in answers if code == 200}) == 1
    entries = [e.action for e in client.audit_log() if e.object_name == name]
    assert entries.count("get") == 1
    # the delivery is held by the last get that collected it: its key, and no other, acknowledges it
    acks = [call(server, "POST", f"/v1/objects/{name}/ack", json={"key": f"k{i}"}).status_code
            for i in range(8) if answers[i][0] == 200]
    assert sorted(acks)[0] == 200 and acks.count(200) == 1, acks
    assert call(server, "POST", f"/v1/objects/{name}/get", json={}).status_code == 409  # acknowledged: gone


def test_get_retried_with_its_key_then_acknowledged(server, client):
    name = fresh()
    client.put(name, bloch=[0, 1, 0], keep_reference=True)
    first = call(server, "POST", f"/v1/objects/{name}/get", json={}, headers={"idempotency-key": "try-1"})
    again = call(server, "POST", f"/v1/objects/{name}/get", json={"key": "try-1"})  # the reply was lost: retry
    assert first.status_code == again.status_code == 200
    assert first.json()["attempt"] == again.json()["attempt"] and again.json()["key"] == "try-1"
    assert client.stat(name).state == "delivering"
    assert_error(call(server, "POST", f"/v1/objects/{name}/ack", json={"key": "other"}), 409, "ConflictError")
    assert_error(call(server, "POST", f"/v1/objects/{name}/ack", json={}), 422, None, "key")
    assert_error(call(server, "POST", f"/v1/objects/{name}/ack", json={"key": "bad key!"}), 422, None, "key")
    assert call(server, "POST", f"/v1/objects/{name}/ack", json={"key": "try-1"}).json()["state"] == "retrieved"
    assert call(server, "POST", f"/v1/objects/{name}/ack", json={"key": "try-1"}).status_code == 200  # idempotent
    assert client.stat(name).state == "retrieved"
    assert_error(call(server, "POST", f"/v1/objects/{name}/get", json={"key": "try-1"}), 409, "ConflictError")
    actions = [e.action for e in client.audit_log() if e.object_name == name]
    assert actions.count("get") == 1 and actions.count("get.ack") == 1


def test_delete(client):
    name = fresh()
    client.put(name, bloch=[0, 0, 1])
    client.rm(name)
    assert client.stat(name).state == "deleted"
    with pytest.raises(ConflictError):
        client.get(name)
    with pytest.raises(NotFoundError):
        client.rm(fresh("never-stored"))


def test_name_exists_is_409(client):
    name = fresh()
    client.put(name, bloch=[0, 0, 1])
    with pytest.raises(ConflictError):
        client.put(name, bloch=[0, 0, 1])


def test_wrong_tenant_sees_nothing(server, client):
    name = fresh()
    client.put(name, bloch=[0, 0, 1])
    other = client.create_tenant(fresh("tenant"))
    with Client(server.url, other.token) as c2:
        with pytest.raises(NotFoundError):
            c2.get(name)
        with pytest.raises(NotFoundError):
            c2.stat(name)
        assert name not in [o.name for o in c2.ls()]
    assert client.get(name).bloch[0] == pytest.approx([0, 0, 1], abs=1e-9)


def test_tenant_creation_needs_the_admin_token(server):
    assert_error(call(server, "POST", "/v1/tenants", json={"name": "x"}), 401, "UnauthorizedError", "admin")
    assert_error(call(server, "POST", "/v1/admin/clock", json={"advance": 1}), 401, "UnauthorizedError")


BAD_PUTS = [
    ({"state": {"kind": "statevector", "data": [1, 1]}}, "normalised"),
    ({"state": {"kind": "statevector", "data": [1, 0, 0]}}, ""),
    ({"state": {"kind": "statevector", "data": ["nan", 0]}}, ""),
    ({"state": {"kind": "bloch", "data": [1, 1, 1]}}, ""),
    ({"state": {"kind": "bloch", "data": [0, 0]}}, ""),
    ({"state": {"kind": "density", "data": [[1, 0], [0, 1]]}}, "trace"),
    ({"state": {"kind": "qasm", "data": "OPENQASM 2.0; qreg q[1]; nonsense q[0];"}}, ""),
    ({"state": {"kind": "qasm", "data": 'OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; creg c[1]; measure q[0] -> c[0];'}}, ""),
    ({"state": {"kind": "tensor", "data": [1]}}, "kind"),
    ({"state": {"kind": "bloch"}}, "state"),
    ({"state": {"kind": "bloch", "data": [0, 0, 1]}, "clones": 0}, "clones"),
    ({"state": {"kind": "bloch", "data": [0, 0, 1]}, "clones": 1}, "single clone"),
    ({"state": {"kind": "bloch", "data": [0, 0, 1]}, "policy": "anywhere"}, "policy"),
    ({"state": {"kind": "bloch", "data": [0, 0, 1]}, "clones": "four"}, "clones"),
    ({"state": {"kind": "bloch", "data": [0, 0, 1]}, "clones": 4, "colour": "red"}, "colour"),
    ({}, "state"),
]


@pytest.mark.parametrize(("body", "word"), BAD_PUTS)
def test_bad_puts_are_422_with_a_message(server, body, word):
    resp = call(server, "PUT", f"/v1/objects/{fresh('bad')}", json=body)
    assert_error(resp, 422, None, word)
    assert resp.json()["error"]["message"]


def test_too_many_qubits_is_422(server):
    vec = np.zeros(2**9)
    vec[0] = 1
    assert_error(call(server, "PUT", f"/v1/objects/{fresh()}", json={"state": {"kind": "statevector", "data": vec.tolist()}}),
                 422, "TooLargeError")


def test_nan_and_malformed_json_bodies_are_422(server):
    raw = b'{"state": {"kind": "statevector", "data": [NaN, 0]}}'
    assert_error(call(server, "PUT", f"/v1/objects/{fresh()}", content=raw), 422, "InvalidArgumentError", "NaN")
    assert_error(call(server, "PUT", f"/v1/objects/{fresh()}", content=b'{"state": '), 422, "InvalidArgumentError", "JSON")
    assert_error(call(server, "PUT", f"/v1/objects/{fresh()}", content=b"[1, 2]"), 422, None, "object")
    assert_error(call(server, "POST", f"/v1/objects/{fresh()}/get", content=b'{"basis": "Q", "shots": 3}'), 422, None, "basis")


def test_unknown_object_and_route(server):
    assert_error(call(server, "POST", f"/v1/objects/{fresh('nope')}/get", content=b"{}"), 404, "NotFoundError")
    assert_error(call(server, "GET", f"/v1/objects/{fresh('nope')}"), 404, "NotFoundError")
    assert call(server, "GET", "/v1/nothing-here").status_code == 404


def test_sdk_raises_the_same_errors(server, client):
    with pytest.raises(InvalidArgumentError, match="normalised"):
        client.put(fresh(), statevector=[1, 1])
    with pytest.raises(TooLargeError):
        client.put(fresh(), statevector=np.eye(2**9)[0])
    with pytest.raises(UnauthorizedError):
        Client(server.url, "bad").ls()
    with pytest.raises(UnavailableError):
        Client(f"http://127.0.0.1:{free_port()}", "x").ls()


def test_measure_the_output(client):
    name = fresh()
    client.put(name, bloch=[0, 0, -1])
    out = client.get(name, basis="Z", shots=50, seed=3)
    assert out.counts == {"1": 50} and len(out.samples) == 50


def test_providers_kill_and_revive(server, client):
    name = fresh()
    client.put(name, bloch=[0, 0, 1], clones=2)
    holders = [r.provider for r in client.stat(name).placement]
    with Client(server.url, read_token(server.data_dir)) as tenant_only:
        with pytest.raises(UnauthorizedError, match="admin"):
            tenant_only.kill_provider(holders[0])
    try:
        for p in holders:
            assert client.kill_provider(p).state == "down"
        with pytest.raises(UnavailableError):
            client.get(name)
        assert client.stat(name).state == "stored"  # nothing was consumed
        assert client.revive_provider(holders[1]).state == "up"
        out = client.get(name)
        assert out.provider == holders[1]
    finally:
        for p in holders:
            client.revive_provider(p)
    states = {p.id: p.state for p in client.providers()}
    assert all(states[p] == "up" for p in holders)


def test_audit_log_records_the_tenants_actions(client):
    name = fresh()
    client.put(name, bloch=[0, 0, 1])
    client.get(name)
    actions = [(e.action, e.object_name) for e in client.audit_log()]
    mine = [a for a, o in actions if o == name]
    assert mine[0] == "put" and "get" in mine


def _group_processes(pgid: int) -> dict[int, tuple[str, set[str]]]:
    """pid -> (command line, files open) of the processes in a process group (Linux /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != pgid:
                continue
            cmd = (Path("/proc") / entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fds = Path("/proc") / entry / "fd"
            files = {os.readlink(fds / fd) for fd in os.listdir(fds)}
        except (OSError, ProcessLookupError):
            continue
        found[int(entry)] = (cmd, files)
    return found


@pytest.mark.slow
def call_ack(c: Client, name: str, key: str) -> bool:
    try:
        c.ack(name, key)
        return True
    except ConflictError:
        return False


def test_two_workers_share_one_substrate_and_one_winner(tmp_path):
    """--workers 2: two worker processes on one port, each running the whole service with the
    substrate in process on the one shared substrate file; concurrent gets of one object, spread
    over both workers, still have exactly one winner."""
    srv = Server(["--data-dir", str(tmp_path), "--settable-clock", "--workers", "2"], free_port(), tmp_path / "log")
    srv.start()
    try:
        with Client(srv.url, read_token(tmp_path), admin_token=read_token(tmp_path, "admin-token")) as c:
            names = [fresh("w2") for _ in range(3)]
            for name in names:
                c.put(name, bloch=[0, 0.6, 0.8], keep_reference=True)
            token = read_token(tmp_path)

            def one(name: str, i: int) -> tuple[int, float | None, str | None]:
                # a fresh connection per request, so the kernel spreads them over both workers
                r = httpx.post(f"{srv.url}/v1/objects/{name}/get", json={"key": f"k{i}"}, timeout=60,
                               headers={"authorization": f"Bearer {token}"})
                return r.status_code, r.json().get("fidelity"), r.json().get("attempt")

            with ThreadPoolExecutor(8) as pool:
                for name in names:
                    results = list(pool.map(one, [name] * 8, range(8)))
                    # one decryption; a get arriving after it receives the same output
                    assert {code for code, _, _ in results} <= {200, 409}, results
                    assert len({a for code, _, a in results if code == 200}) == 1, results
                    assert all(f == pytest.approx(1.0, abs=1e-9) for code, f, _ in results if code == 200)
                    acks = [call_ack(c, name, f"k{i}") for i in range(8) if results[i][0] == 200]
                    assert acks.count(True) == 1, acks
                    assert [e.action for e in c.audit_log() if e.object_name == name].count("get") == 1
            health = c.health()
            assert health["substrate"]["objects"] == 0 and health["substrate"]["outputs"] == 0
        assert srv.proc is not None
        procs = _group_processes(srv.proc.pid)
        assert not any("--role" in cmd for cmd, _ in procs.values()), procs  # no separate node process
        db_file = str(tmp_path / "substrate" / "substrate.sqlite3")
        workers = [pid for pid, (_, files) in procs.items() if pid != srv.proc.pid and db_file in files]
        assert len(workers) == 2, procs
    finally:
        srv.kill()
