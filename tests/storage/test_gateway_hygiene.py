"""The gateway under hostile input, over HTTP against a real ``qclone serve`` process: no 5xx
for client input, parser bombs refused fast, bodies limited while read, names checked, health
that reveals liveness only, failed logins audited but rate-limited, reads not audited, private
data dirs, request ids on every response, HTTPS, and the tenant/role matrix of every route."""

from __future__ import annotations

import datetime
import logging
import os
import ssl
import stat
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from qclone.storage.api import FailedLogins, create_app
from qclone.storage.errors import UnavailableError
from qclone.storage.server import make_private
from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.service

LIMIT = 200_000  # --max-body-bytes of the server under test
BLOCH = {"state": {"kind": "bloch", "data": [0.6, 0.0, 0.8]}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("hygiene")
    data = root / "data"
    server = Server(["--data-dir", str(data), "--settable-clock", "--max-body-bytes", str(LIMIT), "--log-level", "info"],
                    free_port(), root / "server.log")
    server.start()
    admin = read_token(data, "admin-token")
    r = httpx.post(server.url + "/v1/tenants", json={"name": "tenant-b"}, headers={"authorization": f"Bearer {admin}"})
    assert r.status_code == 201, r.text
    server.tokens = {"a": read_token(data), "b": r.json()["token"], "admin": admin}  # type: ignore[attr-defined]  # fixture state
    server.data = data  # type: ignore[attr-defined]  # fixture state
    try:
        yield server
    finally:
        server.kill()


def req(srv, method: str, path: str, who: str | None = "a", **kw) -> httpx.Response:
    headers = kw.pop("headers", {})
    if who == "bad":
        headers["authorization"] = "Bearer Qbad.0000000000000000000000"
    elif who is not None:
        headers["authorization"] = f"Bearer {srv.tokens[who]}"
    return httpx.request(method, srv.url + path, headers=headers, timeout=30, **kw)


def refused(resp: httpx.Response, status: int = 422) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["request_id"] == resp.headers["x-request-id"]
    return err


# ---------------------------------------------------------------------- client input is never a 5xx
@pytest.mark.parametrize("limit", ["99999999999999999999", "\u00b2", "-1", "0", "1e3", "", "NaN"])
def test_audit_log_limit(srv, limit):
    refused(req(srv, "GET", "/v1/audit-log", params={"limit": limit}))


@pytest.mark.parametrize("clones", [1_000_000_000, 65, 10, -3, 2**70, "4", 4.5, True])
def test_clones_out_of_range_is_422_not_503(srv, clones):
    refused(req(srv, "PUT", "/v1/objects/clones-x", json=BLOCH | {"clones": clones}))


def test_deep_and_malformed_json(srv):
    for raw in (b"[" * 90_000 + b"]" * 90_000, b'{"state": ' * 15_000 + b"1" + b"}" * 15_000, b"\xff\xfe", b"{"):
        refused(req(srv, "PUT", "/v1/objects/deep", content=raw, headers={"content-type": "application/json"}))
    assert req(srv, "GET", "/v1/health", None).status_code == 200


def _nested(depth: int) -> str:
    defs = "gate g0 a { h a; }\n" + "".join(f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n" for i in range(1, depth + 1))
    return f'OPENQASM 2.0; include "qelib1.inc";\n{defs}qreg q[1]; g{depth} q[0];'


@pytest.mark.parametrize("program", [
    _nested(12),
    _nested(24),
    'OPENQASM 2.0; include "qelib1.inc"; qreg q[100000000];',
    'OPENQASM 3.0; include "stdgates.inc"; qubit[99999999999999999999] q;',
    "OPENQASM 3.0; qubit q; rx(" + "(" * 20_000 + "1" + ")" * 20_000 + ") q;",
])
def test_parser_bombs_are_refused_fast(srv, program):
    start = time.monotonic()
    err = refused(req(srv, "PUT", "/v1/objects/bomb", json={"state": {"kind": "qasm", "data": program}}))
    assert time.monotonic() - start < 2.0, err  # the depth-24 attack used to hold a thread for hours
    assert err["type"] == "TooLargeError"


def test_eight_bombs_at_once_leave_health_responsive(srv):
    from concurrent.futures import ThreadPoolExecutor

    body = {"state": {"kind": "qasm", "data": _nested(24)}}
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(req, srv, "PUT", f"/v1/objects/bomb-{i}", json=body) for i in range(8)]
        start = time.monotonic()
        assert req(srv, "GET", "/v1/health", None).status_code == 200
        assert time.monotonic() - start < 2.0
        assert all(f.result().status_code == 422 for f in futures)


def test_include_of_the_token_file_leaks_nothing(srv):
    token = srv.data / "token"
    messages = []
    for target in (str(token), str(srv.data / "admin-token"), str(srv.data / "no-such-file"), "/etc/passwd"):
        for program in (f'OPENQASM 2.0; include "{target}"; qreg q[1];', f'OPENQASM 3.0; include "{target}"; qubit q;'):
            err = refused(req(srv, "PUT", "/v1/objects/inc", json={"state": {"kind": "qasm", "data": program}}))
            for secret in srv.tokens.values():
                assert secret[:8] not in err["message"] and secret[-8:] not in err["message"]
            messages.append(err["message"].replace(target, "X"))
    assert len(set(messages)) == 2  # one message per version: an existing path answers like a missing one


# ---------------------------------------------------------------------- bodies
def test_bodies_beyond_the_limit_are_413_by_length_and_while_streaming(srv):
    big = b'{"state": {"kind": "qasm", "data": "' + b" " * LIMIT + b'"}}'
    err = refused(req(srv, "PUT", "/v1/objects/big", content=big), 413)
    assert err["type"] == "BodyTooLargeError"

    def chunks():
        for _ in range(LIMIT // 10_000 + 5):
            yield b" " * 10_000

    refused(req(srv, "PUT", "/v1/objects/big", content=chunks()), 413)  # no Content-Length: counted while read
    ok = req(srv, "PUT", "/v1/objects/just-fits", json={"state": {"kind": "bloch", "data": [0, 0, 1]}, "clones": 2})
    assert ok.status_code == 201, ok.text


# ---------------------------------------------------------------------- names
@pytest.mark.parametrize("raw", ["a%E2%80%AEb", "a%E2%80%8Bb", "a%07b", "e%CC%81", "%20lead", "%FF", "%FE", "a%C0%AFb",
                                 "x" * 256])
def test_bad_names_are_refused_never_rewritten(srv, raw):
    refused(req(srv, "PUT", f"/v1/objects/{raw}", json=BLOCH))
    assert req(srv, "GET", f"/v1/objects/{raw}").status_code in (404, 422)


def test_nfc_names_work_and_ff_fe_do_not_collide(srv):
    assert req(srv, "PUT", "/v1/objects/%C3%A9t%C3%A9", json=BLOCH).status_code == 201  # "été", NFC
    assert req(srv, "GET", "/v1/objects/%C3%A9t%C3%A9").json()["name"] == "\u00e9t\u00e9"
    assert req(srv, "GET", "/v1/objects/e%CC%81te%CC%81").status_code == 422  # the NFD spelling is refused
    assert req(srv, "PUT", "/v1/objects/%FF", json=BLOCH).status_code == 422
    assert req(srv, "PUT", "/v1/objects/%FE", json=BLOCH).status_code == 422


# ---------------------------------------------------------------------- health, audit, request ids
def test_health_without_the_admin_token_is_liveness_only(srv):
    for who in (None, "a", "b", "bad"):
        assert req(srv, "GET", "/v1/health", who).json() == {"status": "ok"}
    full = req(srv, "GET", "/v1/health", "admin").json()
    assert full["database"]["status"] == "ok" and full["providers"]["up"] == 4


def test_failed_logins_are_audited_once_per_source_and_window(srv):
    def failures() -> list[dict]:
        entries = req(srv, "GET", "/v1/audit-log", "admin", params={"limit": 10_000}).json()["entries"]
        return [e for e in entries if e["action"] == "login.failed"]

    before = len(failures())
    for _ in range(25):
        assert req(srv, "GET", "/v1/objects", "bad").status_code == 401
    new = failures()[before:]
    assert len(new) <= 1  # one per source per minute (0 if this source already failed within the minute)
    assert len(failures()) >= 1
    entry = failures()[-1]
    assert entry["actor"] == "anonymous" and entry["detail"]["source"] == "127.0.0.1" and entry["tenant"] is None


def test_failed_login_limiter_reports_what_it_suppressed():
    written: list[dict] = []
    now = [0.0]
    limiter = FailedLogins(lambda actor, action, **kw: written.append(kw), window=60, sources=2, clock=lambda: now[0])
    assert limiter.failed("10.0.0.1", "bad API token", "/v1/objects")
    assert not any(limiter.failed("10.0.0.1", "bad API token", "/v1/objects") for _ in range(99))
    assert limiter.failed("10.0.0.2", "bad API token", "/v1/objects")  # another source: its own entry
    now[0] = 61.0
    assert limiter.failed("10.0.0.1", "bad API token", "/v1/objects")
    assert [w["suppressed"] for w in written] == [0, 0, 99]
    for i in range(10):  # memory stays bounded: at most `sources` are tracked
        limiter.failed(f"10.1.0.{i}", "x", "/")
    assert len(limiter._seen) == 2


def test_reads_write_no_audit_rows(srv):
    assert req(srv, "PUT", "/v1/objects/read-me", json=BLOCH).status_code == 201
    count = len(req(srv, "GET", "/v1/audit-log", params={"limit": 10_000}).json()["entries"])
    for _ in range(10):
        assert req(srv, "GET", "/v1/objects/read-me").status_code == 200
        assert req(srv, "GET", "/v1/objects").status_code == 200
    assert len(req(srv, "GET", "/v1/audit-log", params={"limit": 10_000}).json()["entries"]) == count
    log = Path(srv.log).read_text()
    assert log.count("GET /v1/objects/read-me 200") == 10  # the access log has them


def test_every_response_has_a_request_id(srv):
    ids = set()
    for method, path, who in (("GET", "/v1/health", None), ("GET", "/v1/objects", None), ("GET", "/nowhere", "a"),
                              ("GET", "/v1/objects/none-such", "a"), ("GET", "/openapi.json", None)):
        r = req(srv, method, path, who)
        assert len(r.headers["x-request-id"]) == 16
        ids.add(r.headers["x-request-id"])
    assert len(ids) == 5


def test_data_dir_files_are_private(srv):
    assert req(srv, "PUT", "/v1/objects/private", json=BLOCH).status_code == 201
    seen = 0
    for root, dirs, files in os.walk(srv.data):
        for d in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode) == 0o700, d
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) == 0o600, f
            seen += 1
    assert stat.S_IMODE(os.stat(srv.data).st_mode) == 0o700
    names = {p.name for p in srv.data.rglob("*")}
    assert {"gateway.sqlite3", "gateway.sqlite3-wal", "token", "admin-token"} <= names and seen > 10


def test_make_private_fixes_what_an_older_version_left(tmp_path):
    umask = os.umask(0o022)
    try:
        (tmp_path / "d" / "sub").mkdir(parents=True)
        (tmp_path / "d" / "sub" / "db.sqlite3").write_text("x")
        os.chmod(tmp_path / "d", 0o755)
        make_private(tmp_path / "d")
        assert stat.S_IMODE(os.stat(tmp_path / "d" / "sub" / "db.sqlite3").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "d" / "sub").st_mode) == 0o700
        assert stat.S_IMODE(os.stat(tmp_path / "d").st_mode) == 0o700
        (tmp_path / "d" / "new").write_text("y")  # the umask now makes new files private
        assert stat.S_IMODE(os.stat(tmp_path / "d" / "new").st_mode) == 0o600
    finally:
        os.umask(umask)


# ---------------------------------------------------------------------- 5xx: generic, with the request id, logged
class _Broken:
    """A service whose calls fail the way a bug or an outage would."""

    def authenticate(self, token: str) -> object:
        return object()

    def audit_event(self, *a: object, **kw: object) -> None:
        pass

    def list(self, tenant: object) -> list:
        raise OverflowError("Python int too large to convert to SQLite INTEGER at /srv/qclone/gateway.sqlite3")

    def providers(self) -> list:
        raise UnavailableError("vault at http://10.1.2.3:8472 does not answer: ConnectionRefusedError")


def test_server_errors_carry_a_request_id_and_nothing_else(caplog):
    client = TestClient(create_app(_Broken(), admin_token="adm"), raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="qclone.storage.gateway"):
        for path, status, kind in (("/v1/objects", 500, "InternalError"), ("/v1/providers", 503, "UnavailableError")):
            r = client.get(path, headers={"authorization": "Bearer t"})
            assert r.status_code == status
            rid = r.headers["x-request-id"]
            assert r.json() == {"error": {"type": kind, "message": r.json()["error"]["message"], "request_id": rid}}
            for leak in ("Overflow", "sqlite", "/srv", "10.1.2.3", "Refused"):
                assert leak not in r.text
            assert any(rid in rec.getMessage() for rec in caplog.records)  # the log has the details, by id
    assert r.headers["retry-after"] == "1"


# ---------------------------------------------------------------------- HTTPS
def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_gateway_serves_https(tmp_path):
    cert, key = _self_signed(tmp_path)
    port = free_port()
    server = Server(["--data-dir", str(tmp_path / "data"), "--tls-cert", str(cert), "--tls-key", str(key)], port,
                    tmp_path / "log")
    server.start(wait=False)
    try:
        url = f"https://127.0.0.1:{port}"
        ctx = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(url + "/v1/health", verify=ctx, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, server.log.read_text()[-2000:]
                time.sleep(0.1)
        assert r.json() == {"status": "ok"}
        token = read_token(tmp_path / "data")
        put = httpx.put(url + "/v1/objects/tls", json=BLOCH, headers={"authorization": f"Bearer {token}"},
                        verify=ctx, timeout=30)
        assert put.status_code == 201
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5).raise_for_status()
    finally:
        server.kill()


# ---------------------------------------------------------------------- the tenant / role matrix
ROLES = ("a", "b", "admin", None, "bad")


def _matrix_routes(srv) -> list[tuple[str, str, dict, dict[str | None, set[int]]]]:
    """(method, path, request kwargs, expected statuses per role) for every route of the API."""
    tenant = {"a": {200, 201}, "b": {404}, "admin": {401}, None: {401}, "bad": {401}}
    tenant_new = {"a": {201}, "b": {201}, "admin": {401}, None: {401}, "bad": {401}}
    admin_only = {"a": {401}, "b": {401}, "admin": {200, 201, 404, 409}, None: {401}, "bad": {401}}
    anyone_with_token = {"a": {200}, "b": {200}, "admin": {200}, None: {401}, "bad": {401}}
    return [
        ("PUT", "/v1/objects/{new}", {"json": BLOCH}, tenant_new),
        ("POST", "/v1/objects/{new}", {"json": BLOCH}, tenant_new),
        ("POST", "/v1/objects:batch", {"json": {"objects": [{"name": "{new}", **BLOCH}], "clones": 2}}, tenant_new),
        ("GET", "/v1/objects", {}, {"a": {200}, "b": {200}, "admin": {401}, None: {401}, "bad": {401}}),
        ("GET", "/v1/objects/{mine}", {}, tenant),
        ("GET", "/v1/objects/{mine}/peek", {"params": {"provider": "p1"}}, tenant | {"a": {200, 404}}),
        ("POST", "/v1/objects/{mine}/get", {"json": {}}, tenant),
        ("POST", "/v1/objects/{mine}/ack", {"json": {"key": "k-0123456789abcdef"}}, tenant | {"a": {200, 404, 409}}),
        ("POST", "/v1/objects/{mine}/ack", {"json": {"key": "never-used"}}, tenant | {"a": {200, 404, 409}}),
        ("POST", "/v1/objects/{mine}/apply", {"json": {"gate": "X"}}, tenant),
        ("DELETE", "/v1/objects/{mine2}", {}, tenant),
        ("GET", "/v1/providers", {}, anyone_with_token),
        ("POST", "/v1/providers", {"json": {"id": "{new}", "zone": "zone-9"}}, admin_only),
        ("POST", "/v1/providers/no-such/drain", {}, admin_only),
        ("POST", "/v1/providers/no-such/kill", {"json": {"destroy": False}}, admin_only),
        ("POST", "/v1/providers/no-such/revive", {}, admin_only),
        ("GET", "/v1/holders", {}, anyone_with_token),
        ("POST", "/v1/holders", {"json": {"id": "{new}", "kind": "custodian"}}, admin_only),
        ("GET", "/v1/audit-log", {}, anyone_with_token),
        ("GET", "/v1/health", {}, {r: {200} for r in ROLES}),
        ("POST", "/v1/tenants", {"json": {"name": "{new}"}}, admin_only),
        ("GET", "/v1/admin/clock", {}, admin_only),
        ("POST", "/v1/admin/clock", {"json": {"advance": 0}}, admin_only),
    ]


def test_every_route_with_every_role(srv):
    import json
    import uuid

    paths = set(req(srv, "GET", "/openapi.json", None).json()["paths"])
    routes = _matrix_routes(srv)
    assert {p.replace("{mine}", "{name}").replace("{new}", "{name}").replace("{mine2}", "{name}")
            .replace("no-such", "{provider_id}") for _, p, _, _ in routes} == paths  # no route left out
    for method, path, kw, expected in routes:
        for who in ROLES:
            mine, mine2 = f"m-{uuid.uuid4().hex[:8]}", f"d-{uuid.uuid4().hex[:8]}"
            p, body = path, json.dumps(kw)
            for key, name in (("{mine}", mine), ("{mine2}", mine2)):
                if key in p or key in body:  # A's objects the route names, fresh for each role
                    assert req(srv, "PUT", f"/v1/objects/{name}", json=BLOCH).status_code == 201
            new = f"n-{uuid.uuid4().hex[:8]}"
            fill = {"{mine}": mine, "{mine2}": mine2, "{new}": new}
            for k, v in fill.items():
                p, body = p.replace(k, v), body.replace(k, v)
            r = req(srv, method, p, who, **json.loads(body))
            assert r.status_code in expected[who], (method, p, who, r.status_code, r.text)
            if who == "b" and ("{mine}" in path or "{mine2}" in path):
                # tenant B learns nothing of A's object: the answer of a name that never existed
                ghost = f"g-{uuid.uuid4().hex[:8]}"
                other = req(srv, method, p.replace(mine, ghost).replace(mine2, ghost), who, **json.loads(body))
                assert (r.status_code, r.json()["error"]["message"].replace(mine, "N").replace(mine2, "N")) == \
                    (other.status_code, other.json()["error"]["message"].replace(ghost, "N"))
    entries_b = req(srv, "GET", "/v1/audit-log", "b", params={"limit": 10_000}).json()["entries"]
    assert entries_b and all(e["tenant"] == "tenant-b" for e in entries_b)


def test_node_processes_have_the_body_limit_and_request_ids(tmp_path):
    port = free_port()
    node = Server(["--role", "vault", "--data-dir", str(tmp_path / "vault"), "--max-body-bytes", "4096"], port,
                  tmp_path / "log")
    node.start(wait=False)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, node.log.read_text()[-2000:]
                time.sleep(0.1)
        assert r.headers["x-request-id"]
        big = httpx.post(f"http://127.0.0.1:{port}/v1/deposit", content=b"x" * 10_000, timeout=10)
        assert big.status_code == 413 and big.json()["error"]["type"] == "BodyTooLargeError"
    finally:
        node.kill()


def test_serve_options_are_checked(tmp_path):
    from qclone.errors import InvalidArgumentError
    from qclone.storage.server import ServeOptions

    cert, key = _self_signed(tmp_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    bad = [{"max_body_bytes": 10}, {"tls_cert": cert}, {"tls_key": key}, {"tls_cert": tmp_path / "no", "tls_key": key},
           {"tls_cert": junk, "tls_key": junk}, {"tls_cert": cert, "tls_key": cert}]
    for kw in bad:
        with pytest.raises(InvalidArgumentError, match=r"--max-body-bytes|--tls"):
            ServeOptions(data_dir=tmp_path, **kw).checked()
    ok = ServeOptions(data_dir=tmp_path, tls_cert=cert, tls_key=key, max_body_bytes=4096).checked()
    assert ok.scheme == "https" and ServeOptions.from_env(ok.to_env()) == ok
