"""The dashboard over HTTP, in process: sign-in, sessions, CSRF, tenant isolation, the JSON of
each page against the API's, the get-once flow, and the predicted fidelity against real gets.

The predicted fidelity is checked against an independent computation: the mean of the
fidelities the substrate's exact decryption reports for the six states ±x, ±y, ±z (a 2-design,
so their mean is the average over all states) after the same storage time.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qclone.storage.api import create_app
from qclone.storage.clock import SettableClock
from qclone.storage.db import Database
from qclone.storage.inputs import parse_state
from qclone.storage.service import ProviderDirectory, StorageService
from qclone.storage.substrate import Substrate
from qclone.storage.vault import KeyVault
from qclone.storage.web.fidelity import predicted_average_fidelity
from qclone.storage.web.session import COOKIE, SessionKeeper

ADMIN = "admin-token-for-tests"


def make_service(t1: float = 3600.0, t2: float = 3600.0) -> StorageService:
    svc = StorageService(Database.open(), Substrate(None), KeyVault(None), ProviderDirectory.local(None),
                         SettableClock(None, start=1_000_000.0))
    for i in range(1, 5):
        svc.providers_add(f"p{i}", zone=f"zone-{i}", t1=t1, t2=t2)
    return svc


@pytest.fixture
def env():
    svc = make_service()
    tokens = {"alice": svc.create_tenant("alice"), "bob": svc.create_tenant("bob"), "admin": ADMIN}
    app = create_app(svc, admin_token=ADMIN)
    yield svc, app, tokens
    svc.close()


def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def sign_in(c: TestClient, token: str) -> str:
    """Sign in through the form; the CSRF token of the session."""
    page = c.get("/ui/login")
    login_token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/ui/login", data={"token": token, "login_token": login_token, "next": "/ui/audit"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(c.get("/ui/audit").text)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def store(c: TestClient, csrf: str, name: str, data: str = "0.6, 0, 0.8", kind: str = "bloch", **extra):
    form = {"csrf_token": csrf, "name": name, "kind": kind, "data": data, "clones": "4", "placement": "today",
            "policy": "distinct-providers", "keep_reference": "on", **extra}
    return c.post("/ui/objects", data=form, files={"qasm_file": ("", b"")}, follow_redirects=False)


# ---------------------------------------------------------------------- sign-in and sessions
def test_pages_need_sign_in(env):
    _, app, _ = env
    c = client(app)
    for path in ("/ui/objects", "/ui/objects/x", "/ui/providers", "/ui/audit"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?next=")
        assert c.get(path + "?format=json").status_code == 401


def test_bad_token_is_refused_and_audited(env):
    svc, app, _ = env
    c = client(app)
    page = c.get("/ui/login")
    lt = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/ui/login", data={"token": "not-a-token", "login_token": lt})
    assert r.status_code == 401 and "not accepted" in r.text and COOKIE not in c.cookies
    assert any(e["action"] == "login.failed" for e in svc.audit_log(None))


def test_sign_in_form_needs_its_nonce(env):
    _, app, tokens = env
    c = client(app)
    c.get("/ui/login")
    r = c.post("/ui/login", data={"token": tokens["alice"], "login_token": "forged"})
    assert r.status_code == 403 and COOKIE not in c.cookies
    fresh = client(app)  # a form token without the cookie it belongs to (posted from elsewhere)
    lt = re.search(r'name="login_token" value="([^"]+)"', c.get("/ui/login").text).group(1)
    assert fresh.post("/ui/login", data={"token": tokens["alice"], "login_token": lt}).status_code == 403


def test_session_cookie_is_httponly_strict_and_opaque(env):
    _, app, tokens = env
    c = client(app)
    page = c.get("/ui/login")
    lt = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/ui/login", data={"token": tokens["alice"], "login_token": lt}, follow_redirects=False)
    header = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE + "="))
    assert "HttpOnly" in header and "SameSite=strict" in header.replace("Strict", "strict") and "Path=/ui" in header
    value = header.split(";", 1)[0].split("=", 1)[1]
    assert tokens["alice"] not in value and tokens["alice"].split(".")[-1] not in value


def test_tampered_cookie_is_refused(env):
    _, app, tokens = env
    c = client(app)
    sign_in(c, tokens["alice"])
    value = c.cookies[COOKIE]
    flipped = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    c.cookies.set(COOKIE, flipped, path="/ui")
    assert c.get("/ui/objects", follow_redirects=False).status_code == 303


def test_sign_out_revokes_the_cookie_for_good(env, tmp_path):
    _, app, tokens = env
    c = client(app)
    csrf = sign_in(c, tokens["alice"])
    stolen = c.cookies[COOKIE]
    assert c.post("/ui/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    replay = client(app)
    replay.cookies.set(COOKIE, stolen, path="/ui")
    assert replay.get("/ui/objects", follow_redirects=False).status_code == 303
    # with a data dir the sign-out survives a restart (a new keeper on the same dir)
    keeper = SessionKeeper(tmp_path)
    session, value = keeper.issue("tok", admin=False)
    assert keeper.read(value) == session
    keeper.revoke(session)
    assert SessionKeeper(tmp_path).read(value) is None
    assert SessionKeeper(tmp_path / "other").read(value) is None  # another server's key


def test_sign_out_needs_csrf(env):
    _, app, tokens = env
    c = client(app)
    sign_in(c, tokens["alice"])
    assert c.post("/ui/logout", data={}).status_code == 403
    assert c.get("/ui/objects").status_code == 200


def test_next_never_leaves_the_dashboard(env):
    _, app, tokens = env
    c = client(app)
    for target in ("//evil.example/x", "https://evil.example/", "/v1/objects", "/ui/\\evil"):
        lt = re.search(r'name="login_token" value="([^"]+)"', c.get("/ui/login").text).group(1)
        r = c.post("/ui/login", data={"token": tokens["alice"], "login_token": lt, "next": target}, follow_redirects=False)
        assert r.headers["location"] == "/ui/objects"


# ---------------------------------------------------------------------- CSRF and isolation
def test_forms_need_the_csrf_token(env):
    svc, app, tokens = env
    c = client(app)
    csrf = sign_in(c, tokens["alice"])
    assert store(c, "wrong", "psi").status_code == 403
    assert store(c, "", "psi").status_code == 403
    cross = c.post("/ui/objects", data={"csrf_token": csrf, "name": "psi", "kind": "bloch", "data": "0,0,1"},
                   headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    alice = svc.authenticate(tokens["alice"])
    assert svc.list(alice) == []
    # another session's CSRF token is not this one's
    other = client(app)
    other_csrf = sign_in(other, tokens["alice"])
    assert other_csrf != csrf and store(c, other_csrf, "psi").status_code == 403
    assert store(c, csrf, "psi").status_code == 303 and [o["name"] for o in svc.list(alice)] == ["psi"]


def test_tenant_isolation(env):
    svc, app, tokens = env
    alice, bob = client(app), client(app)
    csrf_a = sign_in(alice, tokens["alice"])
    csrf_b = sign_in(bob, tokens["bob"])
    assert store(alice, csrf_a, "secret").status_code == 303
    # bob sees neither the page nor the JSON nor the listing entry of alice's object
    assert bob.get("/ui/objects/secret").status_code == 404
    assert bob.get("/ui/objects/secret?format=json").status_code == 404
    assert bob.get("/ui/objects?format=json").json()["objects"] == []
    assert "secret" not in bob.get("/ui/audit").text
    r = bob.post("/ui/objects/secret/get", data={"csrf_token": csrf_b, "confirm": "on", "key": "k"})
    assert r.status_code == 404
    # nor the admin pages and forms
    assert bob.get("/ui/providers").status_code == 403
    assert bob.get("/ui/providers/p1/kill").status_code == 403
    assert bob.post("/ui/providers/p1/kill", data={"csrf_token": csrf_b, "confirm": "yes"}).status_code == 403
    assert all(p["state"] == "up" for p in svc.providers())
    # alice's object is untouched by all of it
    assert svc.stat(svc.authenticate(tokens["alice"]), "secret")["state"] == "stored"


def test_admin_kills_a_provider_and_the_object_stays_retrievable(env):
    svc, app, tokens = env
    alice, admin = client(app), client(app)
    csrf_a = sign_in(alice, tokens["alice"])
    store(alice, csrf_a, "psi")
    csrf = sign_in(admin, ADMIN)
    assert admin.get("/ui/objects").status_code == 403  # objects belong to tenants
    confirm = admin.get("/ui/providers/p1/kill")
    assert confirm.status_code == 200 and "Kill provider p1?" in confirm.text
    assert admin.post("/ui/providers/p1/kill", data={"csrf_token": csrf}).status_code == 422  # not confirmed
    r = admin.post("/ui/providers/p1/kill", data={"csrf_token": csrf, "confirm": "yes"})
    assert r.status_code == 200 and "kill p1: down" in r.text
    assert {p["id"]: p["state"] for p in svc.providers()}["p1"] == "down"
    page = alice.get("/ui/objects/psi")
    assert re.search(r'id="retrievable">yes<', page.text)
    assert 'class="party down" data-party="p1"' in page.text  # drawn down on the placement picture
    revive = admin.post("/ui/providers/p1/revive", data={"csrf_token": csrf, "confirm": "yes"})
    assert revive.status_code == 200 and "provider.revive" in revive.text


# ---------------------------------------------------------------------- JSON is the API's
def test_json_of_each_page_is_what_the_api_returns(env):
    svc, app, tokens = env
    ui = client(app)
    csrf = sign_in(ui, tokens["alice"])
    store(ui, csrf, "psi")
    store(ui, csrf, "phi", data="0.6, 0.8i", kind="statevector")
    api = client(app)
    bearer = {"Authorization": f"Bearer {tokens['alice']}"}
    listing = api.get("/v1/objects", headers=bearer).json()
    assert ui.get("/ui/objects?format=json").json()["objects"] == listing["objects"]
    assert ui.get("/ui/objects/psi?format=json").json() == api.get("/v1/objects/psi?audit=full", headers=bearer).json()
    assert ui.get("/ui/audit?format=json").json()["entries"] == \
        api.get("/v1/audit-log", headers=bearer).json()["entries"][:50]
    admin = client(app)
    sign_in(admin, ADMIN)
    assert admin.get("/ui/providers?format=json").json() == \
        api.get("/v1/providers", headers={"Authorization": f"Bearer {ADMIN}"}).json()


# ---------------------------------------------------------------------- the get, once
def test_get_once_then_refused(env):
    svc, app, tokens = env
    c = client(app)
    csrf = sign_in(c, tokens["alice"])
    store(c, csrf, "psi")
    svc.clock.advance(300.0)
    page = c.get("/ui/objects/psi")
    assert "One time only" in page.text
    assert c.post("/ui/objects/psi/get", data={"csrf_token": csrf, "key": "k1"}).status_code == 422  # no confirmation
    r = c.post("/ui/objects/psi/get", data={"csrf_token": csrf, "key": "k1", "confirm": "on"})
    assert r.status_code == 200
    shown = float(re.search(r'id="fidelity">[^<]*<strong>([0-9.]+)</strong>', r.text).group(1))
    assert r.text.count('class="bloch"') == 2  # retrieved and stored
    # acknowledged, as the CLI does: the API says retrieved, and its audit has the ack
    alice = svc.authenticate(tokens["alice"])
    assert svc.stat(alice, "psi")["state"] == "retrieved"
    assert [e["action"] for e in svc.audit_log(alice, object_name="psi")][-2:] == ["get", "get.ack"]
    # the fidelity shown: independently, the exact fidelity of the twirled T1/T2 channel (T1 = T2:
    # depolarizing on each of the n + 1 qubits the decryption uses, every error reaching the output)
    p = 1 - np.exp(-300.0 / 3600.0)  # per qubit: X, Y, Z each with p/4
    f_expected = ((1 + 3 * (1 - p) ** 5) / 4 + 0.5) / 1.5  # depolarizing: F_e = (1 + 3 λ) / 4, λ = (1 − p)^(n+1)
    assert shown == pytest.approx(f_expected, abs=2e-6)
    again = c.post("/ui/objects/psi/get", data={"csrf_token": csrf, "key": "k2", "confirm": "on"})
    assert again.status_code == 409 and "already retrieved" in again.text


def test_store_form_bad_input_is_a_4xx_page(env):
    _, app, tokens = env
    c = client(app)
    csrf = sign_in(c, tokens["alice"])
    for form in ({"data": "1, 2"}, {"data": "a, b, c"}, {"data": "2, 0, 0"}, {"kind": "qasm", "data": "OPENQASM 2.0; nonsense"},
                 {"kind": "nope"}, {"clones": "-1"}, {"clones": "9999999"}, {"placement": "../etc"},
                 {"data": "1," * 30_000}):
        r = store(c, csrf, "bad", **form)
        assert 400 <= r.status_code < 500, (form, r.status_code)
        assert "Traceback" not in r.text
    r = store(c, csrf, "x" * 400)
    assert 400 <= r.status_code < 500
    assert c.get("/ui/objects?cursor=" + "z" * 50).status_code < 500
    assert c.get("/ui/audit?after=-1").status_code == 422


def test_store_by_qasm_upload(env):
    svc, app, tokens = env
    c = client(app)
    csrf = sign_in(c, tokens["alice"])
    program = b'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0];\n'
    r = c.post("/ui/objects", data={"csrf_token": csrf, "name": "plus", "kind": "qasm", "clones": "2",
                                    "placement": "today", "keep_reference": "on"},
               files={"qasm_file": ("plus.qasm", program, "text/plain")}, follow_redirects=False)
    assert r.status_code == 303
    out = svc.get(svc.authenticate(tokens["alice"]), "plus", ack=True)
    assert np.allclose(out["bloch"][0], [1.0, 0.0, 0.0], atol=1e-9)  # H|0> = |+>: Bloch vector +x


def test_placement_picture_and_coalition_highlight(env):
    _, app, tokens = env
    c = client(app)
    csrf = sign_in(c, tokens["alice"])
    store(c, csrf, "odd", clones="3")
    page = c.get("/ui/objects/odd").text
    assert page.count('data-party="') == 4  # p's holding the 3 clones and the vault
    # the providers of the 3 clones together learn Y (odd n): that row highlights exactly them
    idx, names = re.search(r'coalition=(\d+)">(p\d \+ p\d \+ p\d)</a></td>\s*<td>[^<]*</td><td class="learns-partial">Y<',
                           page).groups()
    lit = c.get(f"/ui/objects/odd?coalition={idx}").text
    assert sorted(re.findall(r'class="party hl" data-party="(p\d)"', lit)) == sorted(names.split(" + "))
    assert 'class="party hl" data-party="vault"' not in lit
    assert c.get("/ui/objects/odd?coalition=999").status_code == 200


# ---------------------------------------------------------------------- fidelity now
@pytest.mark.parametrize("t1,t2", [(3600.0, 3600.0), (3600.0, 1200.0)])
def test_predicted_fidelity_is_the_average_over_real_gets(t1, t2):
    svc = make_service(t1, t2)
    try:
        alice = svc.authenticate(svc.create_tenant("alice"))
        states = [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]
        for i, b in enumerate(states):
            svc.put(alice, f"s{i}", parse_state("bloch", b), clones=3, keep_reference=True)
        elapsed = 900.0
        svc.clock.advance(elapsed)
        vault = next(h for h in svc.holders_list() if h["id"] == "vault")
        fids, predicted = [], set()
        for i in range(len(states)):
            out = svc.get(alice, f"s{i}", ack=True)
            fids.append(out["fidelity"])
            predicted.add(round(predicted_average_fidelity(1, 3, elapsed, (t1, t2), (vault["t1"], vault["t2"]),
                                                           clone=out["clone"]), 12))
        assert len(predicted) == 1
        assert float(np.mean(fids)) == pytest.approx(predicted.pop(), abs=1e-9)
        if t1 != t2:
            assert max(fids) - min(fids) > 1e-3  # the states differ: the check is not trivial
    finally:
        svc.close()
