"""Every node authenticates every call, and each endpoint knows who may call it.

The node apps (substrate, vault, two providers) run in process behind
Starlette's test client, enrolled with a gateway key as a deployment enrolls
them. Every endpoint of every node is called with every role's credentials
(the gateway's, each node's own key, a stranger's) and with none: only the
gateway gets through, the substrate decrypts only with the vault's one-time
authorization for that object and attempt, and a provider's key never decrypts.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from dataclasses import dataclass

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qclone.storage.inputs import parse_state
from qclone.storage.nodes import build_node, endpoints
from qclone.storage.rpc.codec import encode_state
from qclone.storage.rpc.keys import (
    H_TIME,
    Identity,
    JoinToken,
    NodeKeys,
    issue_grant,
    sign_request,
)


@dataclass
class Answer:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self):
        return orjson.loads(self.content)


class TestClient:
    """Calls a node's ASGI app directly, in this process (no sockets)."""

    __test__ = False

    def __init__(self, app) -> None:
        self.app = app

    def request(self, method: str, path: str, *, content: bytes = b"", headers: dict | None = None) -> Answer:
        sent: list[dict] = []
        messages = [{"type": "http.request", "body": content, "more_body": False}]

        async def receive() -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path,
                 "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
        asyncio.run(self.app(scope, receive, send))
        return Answer(sent[0]["status"], sent[1]["body"])

    def post(self, path: str, **kw) -> Answer:
        return self.request("POST", path, **kw)


ROLES = {"substrate": "substrate", "vault": "vault", "p1": "provider", "p2": "provider"}
#: A valid body for every method (what the gateway would send), so that only the credentials differ.
BODIES = {
    "create": {"object_id": "obj1", "clones": 2, "keep_reference": True},
    "exists": {"object_id": "obj1"},
    "age": {"object_id": "obj1", "labels": ["S0_1"], "duration": 1.0, "t1": 100.0, "t2": 100.0},
    "peek": {"object_id": "obj1", "labels": ["S0_1"]},
    "fence": {"object_id": "obj9", "fence": 1},
    "decrypt": {"object_id": "obj1", "clone": 1, "attempt": "a1"},
    "recover": {"object_id": "obj1", "qubits": ["S0_1", "N0_1", "N0_2"], "attempt": "a1"},
    "holders": {"object_id": "obj1"},
    "assign": {"object_id": "obj1", "labels": ["S0_2"], "party": "provider:p2"},
    "output": {"object_id": "obj1"},
    "sample": {"object_id": "obj1", "basis": "Z", "shots": 3, "seed": 1},
    "release": {"object_id": "obj1"},
    "discard": {"object_id": "obj9"},
    "deposit": {"tenant": "t", "object_id": "obj1", "labels": ["N0_1", "N0_2"]},
    "consume": {"object_id": "obj1", "attempt": "a1"},
    "restore": {"object_id": "obj1", "attempt": "a1"},
    "state": {"object_id": "obj1"},
    "destroy": {"object_id": "obj9"},
    "store": {"object_id": "obj1", "clone": 1, "labels": ["S0_1"], "stored_at": 1.0},
    "holding": {"object_id": "obj1"},
    "records": {},
    "apply": {"object_id": "obj1", "op": "op1", "gates": {"S0_1": "H"}},
    "gate_state": {"object_id": "obj1"},
    # the batch calls (one transaction per batch)
    "create_many": {"clones": 2, "keep_reference": True},
    "discard_many": {"object_ids": ["obj9"]},
    "deposit_many": {"tenant": "t", "keys": [["objb", ["N0_1", "N0_2"]]]},
    "destroy_many": {"object_ids": ["obj9"]},
    "store_many": {"records": [["objb", 1, ["S0_1"], 1.0]]},
}


def body_for(role: str, method: str) -> dict:
    body = dict(BODIES[method])
    if (role, method) == ("substrate", "create"):
        body["state"] = encode_state(parse_state("bloch", [0.6, 0.8, 0.0]))
    if (role, method) == ("substrate", "create_many"):
        body["objects"] = [{"object_id": "objb", "state": encode_state(parse_state("bloch", [0.0, 0.6, 0.8]))}]
    if (role, method) in (("vault", "release"), ("provider", "release")):
        body = {"object_id": "obj1", "attempt": "a1"}
    if (role, method) == ("substrate", "apply"):
        body = {"object_id": "obj1", "op": "op1", "gate": "H", "gates": {"0": "H"}, "parties": []}
    return body


class Deployment:
    """Four node apps enrolled with one gateway key."""

    def __init__(self, root) -> None:
        self.gateway = Identity.generate()
        self.stranger = Identity.generate()
        self.apps, self.clients, self.keys = {}, {}, {}
        for name in ("vault", "substrate", "p1", "p2"):
            role = ROLES[name]
            app = build_node(role, root / name, provider_id=name if role == "provider" else None, zone="z")
            self.apps[name], self.clients[name] = app, TestClient(app)
            self.keys[name] = app.keys.identity
            token = JoinToken.parse((root / name / "join-token").read_text(), role=role)
            peers = {"vault": self.keys["vault"].key_id} if role == "substrate" else {}
            resp = self.clients[name].post("/v1/enroll", content=orjson.dumps(
                {"gateway_key": self.gateway.key_id, "challenge": "c", "peers": peers,
                 "proof": token.proof(self.gateway.key_id)}))
            assert resp.status_code == 200, resp.text

    def credentials(self) -> dict[str, Identity | None]:
        return {"none": None, "gateway": self.gateway, "stranger": self.stranger, **self.keys}

    def call(self, node: str, path: str, body: dict | None, who: Identity | None, *, method: str = "POST",
             audience: str | None = None):
        raw = b"" if body is None else orjson.dumps(body)
        headers = {} if who is None else sign_request(who, method, path, raw,
                                                        audience=audience or self.keys[node].key_id)
        return self.clients[node].request(method, path, content=raw, headers=headers)

    def gw(self, node: str, method: str, **body):
        resp = self.call(node, f"/v1/{method}", body, self.gateway)
        assert resp.status_code == 200, resp.text
        return resp.json()["result"]


@pytest.fixture
def dep(tmp_path) -> Deployment:
    return Deployment(tmp_path)


def put_object(dep: Deployment) -> None:
    info = dep.gw("substrate", "create", object_id="obj1", state=encode_state(parse_state("bloch", [0.6, 0.8, 0.0])),
                  clones=2, keep_reference=True)
    dep.gw("vault", "deposit", tenant="t", object_id="obj1", labels=info["key_qubits"])
    dep.gw("p1", "store", object_id="obj1", clone=1, labels=info["clone_qubits"]["1"], stored_at=1.0)


def test_finding_provider_or_nobody_cannot_decrypt(dep):
    """The attack of the storage-trust review: a provider takes an object id from its own records
    and asks the substrate to decrypt it (with its own key, or with no credentials at all)."""
    put_object(dep)
    object_id = dep.gw("p1", "records")[0]["object_id"]
    for who in (dep.keys["p1"], None, dep.keys["vault"], dep.stranger):
        for clone in (1, 2):
            resp = dep.call("substrate", "/v1/decrypt", {"object_id": object_id, "clone": clone, "attempt": "evil"}, who)
            assert resp.status_code == 401, resp.text
            assert "density_matrix" not in resp.text
    # even a gateway-signed call needs the vault's authorization
    resp = dep.call("substrate", "/v1/decrypt", {"object_id": object_id, "clone": 1, "attempt": "evil"}, dep.gateway)
    assert resp.status_code == 401 and "authorization" in resp.json()["error"]["message"]
    assert dep.gw("substrate", "exists", object_id=object_id) is True  # nothing was decrypted
    # the tenant's own retrieval still works, once
    grant = dep.gw("vault", "release", object_id=object_id, attempt="a1")
    out = dep.gw("substrate", "decrypt", object_id=object_id, clone=1, attempt="a1", authorization=grant)
    rho = np.array(out["density_matrix"]["real"]) + 1j * np.array(out["density_matrix"]["imag"])
    np.testing.assert_allclose(rho, np.array([[1, 0.6 - 0.8j], [0.6 + 0.8j, 1]]) / 2, atol=1e-9)


@pytest.mark.parametrize("node", list(ROLES))
def test_every_endpoint_with_every_credential(dep, node):
    put_object(dep)
    role = ROLES[node]
    table = endpoints(role)
    assert {p for _, p, _ in table} >= {"/v1/health", "/v1/enroll"}
    for _method, path, _who in table:
        name = path.removeprefix("/v1/")
        for cred, who in dep.credentials().items():
            if path == "/v1/health":
                resp = dep.call(node, path, None, who, method="GET")
                assert resp.status_code == 200
                if cred == "gateway":
                    assert resp.json()["role"] == role
                else:
                    assert resp.json() == {"status": "ok"}, (node, cred)  # liveness only
                continue
            if path == "/v1/enroll":
                body = {"gateway_key": (who or dep.stranger).key_id, "challenge": "x", "peers": {}}
                resp = dep.call(node, path, body, who)
                # enrolled: only the pinned gateway may enroll again (to hand over peers' keys)
                assert resp.status_code == (200 if cred == "gateway" else 401), (node, cred, resp.text)
                continue
            resp = dep.call(node, path, body_for(role, name), who)
            if cred != "gateway":
                assert resp.status_code == 401, (node, path, cred, resp.text)
                assert resp.json()["error"]["type"] == "UnauthorizedError"
            elif (role, name) in (("substrate", "decrypt"), ("substrate", "recover")):
                assert resp.status_code == 401  # no authorization from the vault
            else:
                assert resp.status_code != 401, (node, path, resp.text)


def test_requests_for_another_node_or_replayed_or_stale_are_refused(dep):
    body = orjson.dumps({"object_id": "obj1"})
    # signed by the gateway but for p2: p1 refuses (its nonce cache is not the only guard)
    headers = sign_request(dep.gateway, "POST", "/v1/holding", body, audience=dep.keys["p2"].key_id)
    assert dep.clients["p1"].post("/v1/holding", content=body, headers=headers).status_code == 401
    # the same signed request twice: the second is a replay
    headers = sign_request(dep.gateway, "POST", "/v1/holding", body, audience=dep.keys["p1"].key_id)
    assert dep.clients["p1"].post("/v1/holding", content=body, headers=headers).status_code == 200
    assert dep.clients["p1"].post("/v1/holding", content=body, headers=headers).status_code == 401
    # another body under a signature: refused
    headers = sign_request(dep.gateway, "POST", "/v1/holding", body, audience=dep.keys["p1"].key_id)
    other = orjson.dumps({"object_id": "obj2"})
    assert dep.clients["p1"].post("/v1/holding", content=other, headers=headers).status_code == 401
    # another path under a signature: refused
    headers = sign_request(dep.gateway, "POST", "/v1/holding", body, audience=dep.keys["p1"].key_id)
    assert dep.clients["p1"].post("/v1/discard", content=body, headers=headers).status_code == 401
    # a time outside the skew window (re-signed with that time): refused
    headers = sign_request(dep.gateway, "POST", "/v1/holding", body, audience=dep.keys["p1"].key_id)
    headers[H_TIME] = f"{time.time() - 120:.6f}"
    assert dep.clients["p1"].post("/v1/holding", content=body, headers=headers).status_code == 401


def test_a_request_signed_before_the_node_started_is_refused(tmp_path, dep):
    body = orjson.dumps({"object_id": "obj1"})
    headers = sign_request(dep.gateway, "POST", "/v1/holding", body, audience=dep.keys["p1"].key_id)
    time.sleep(0.01)
    restarted = TestClient(build_node("provider", tmp_path / "p1", provider_id="p1", zone="z"))  # same dir, new process
    assert restarted.post("/v1/holding", content=body, headers=headers).status_code == 401


def test_decryption_authorizations(dep):
    put_object(dep)
    vault = dep.keys["vault"]
    cases = {
        "another object": issue_grant(vault, "obj2", "a1"),
        "another attempt": issue_grant(vault, "obj1", "a2"),
        "signed by a provider": issue_grant(dep.keys["p1"], "obj1", "a1"),
        "signed by the gateway": issue_grant(dep.gateway, "obj1", "a1"),
        "expired": {**issue_grant(vault, "obj1", "a1"), "issued_at": time.time() - 3600},
        "malformed": {"object_id": "obj1"},
    }
    forged = issue_grant(vault, "obj1", "a1")
    forged["attempt"] = "a1"
    forged["nonce"] = ("y" if forged["nonce"][0] == "x" else "x") + forged["nonce"][1:]  # always another nonce
    cases["tampered"] = forged
    for why, grant in cases.items():
        resp = dep.call("substrate", "/v1/decrypt", {"object_id": "obj1", "clone": 1, "attempt": "a1",
                                                      "authorization": grant}, dep.gateway)
        assert resp.status_code == 401, why
    good = dep.gw("vault", "release", object_id="obj1", attempt="a1")
    first = dep.gw("substrate", "decrypt", object_id="obj1", clone=1, attempt="a1", authorization=good)
    # the same authorization again: refused, even for the attempt that used it
    resp = dep.call("substrate", "/v1/decrypt", {"object_id": "obj1", "clone": 1, "attempt": "a1",
                                                  "authorization": good}, dep.gateway)
    assert resp.status_code == 401 and "used" in resp.json()["error"]["message"]
    # a fresh authorization for the same attempt repeats the same output (idempotent retry)
    again = dep.gw("substrate", "decrypt", object_id="obj1", clone=1, attempt="a1",
                   authorization=dep.gw("vault", "release", object_id="obj1", attempt="a1"))
    assert again == first


def test_used_authorizations_survive_a_restart(tmp_path, dep):
    put_object(dep)
    grant = dep.gw("vault", "release", object_id="obj1", attempt="a1")
    dep.gw("substrate", "decrypt", object_id="obj1", clone=1, attempt="a1", authorization=grant)
    dep.apps["substrate"].component.close()
    app = build_node("substrate", tmp_path / "substrate")
    assert app.component._grant_used(grant["nonce"])
    client = TestClient(app)
    raw = orjson.dumps({"object_id": "obj1", "clone": 1, "attempt": "a1", "authorization": grant})
    headers = sign_request(dep.gateway, "POST", "/v1/decrypt", raw, audience=app.keys.identity.key_id)
    assert client.post("/v1/decrypt", content=raw, headers=headers).status_code == 401


def test_enrollment_needs_the_join_token_once(tmp_path):
    gateway = Identity.generate()
    app = build_node("provider", tmp_path / "p", provider_id="p", zone="z")
    client = TestClient(app)
    token = JoinToken.parse((tmp_path / "p" / "join-token").read_text(), role="provider")
    # a node that is not enrolled answers nothing but liveness
    assert client.post("/v1/records", content=b"{}").status_code == 401
    wrong = JoinToken("provider", token.key_id, "not-the-secret")
    body = {"gateway_key": gateway.key_id, "challenge": "c", "peers": {}}
    assert client.post("/v1/enroll", content=orjson.dumps({**body, "proof": wrong.proof(gateway.key_id)})).status_code == 401
    resp = client.post("/v1/enroll", content=orjson.dumps({**body, "proof": token.proof(gateway.key_id)}))
    assert resp.status_code == 200 and resp.json()["result"]["public_key"] == token.key_id
    assert not (tmp_path / "p" / "join-token").exists()
    # the token is spent: another gateway cannot take the node over with it
    other = Identity.generate()
    body2 = {"gateway_key": other.key_id, "challenge": "c", "peers": {}, "proof": token.proof(other.key_id)}
    assert client.post("/v1/enroll", content=orjson.dumps(body2)).status_code == 401
    # files: 0600 in a 0700 directory; the private key never leaves it
    assert stat.S_IMODE(os.stat(tmp_path / "p").st_mode) == 0o700
    for name in ("node-key", "enrollment.json"):
        assert stat.S_IMODE(os.stat(tmp_path / "p" / name).st_mode) == 0o600
    # rotation: a new key and join token, the old enrollment forgotten
    new = NodeKeys.rotate(tmp_path / "p", "provider")
    assert new.key_id != token.key_id
    rotated = NodeKeys(tmp_path / "p", "provider")
    assert rotated.gateway_key is None and rotated.identity.key_id == new.key_id


def _fuzz_app(tmp_path_factory, enrolled: bool):
    root = tmp_path_factory.mktemp("fuzz")
    app = build_node("vault", root / "v")
    if enrolled:
        gateway = Identity.generate()
        token = JoinToken.parse((root / "v" / "join-token").read_text(), role="vault")
        app.keys.enroll({"gateway_key": gateway.key_id, "challenge": "c", "peers": {},
                         "proof": token.proof(gateway.key_id)}, signed_by_gateway=False)
    return TestClient(app)


_HEADER = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=120)
_JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=40),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                     max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/v1/release", "/v1/state", "/v1/enroll", "/v1/health", "/v1/nope", "/x"]),
       method=st.sampled_from(["GET", "POST", "PUT"]),
       headers=st.dictionaries(st.sampled_from(["x-qclone-key", "x-qclone-time", "x-qclone-nonce",
                                                "x-qclone-signature"]), _HEADER),
       body=st.one_of(st.binary(max_size=200), _JSON.map(lambda v: json.dumps(v).encode())),
       enrolled=st.booleans())
def test_hostile_requests_get_a_4xx_never_a_5xx(tmp_path_factory, path, method, headers, body, enrolled):
    client = _fuzz_app(tmp_path_factory, enrolled)
    resp = client.request(method, path, content=body, headers=headers)
    assert resp.status_code < 500, resp.text
    if path not in ("/v1/health",) and resp.status_code == 200:
        assert path == "/v1/enroll" and not enrolled  # only a valid join proof could do that: never by chance
    if resp.status_code != 200:
        assert set(resp.json()) == {"error"}


def test_rotate_key_command(tmp_path, capsys):
    from qclone.cli.main import main

    NodeKeys(tmp_path / "v", "vault")
    old = (tmp_path / "v" / "join-token").read_text().strip()
    assert main(["storage", "rotate-key", "--role", "vault", "--data-dir", str(tmp_path / "v"), "--json"]) == 0
    new = orjson.loads(capsys.readouterr().out)["join_token"]
    assert new != old and new == (tmp_path / "v" / "join-token").read_text().strip()
    assert JoinToken.parse(new, role="vault").key_id == NodeKeys(tmp_path / "v", "vault").identity.key_id
    assert main(["storage", "rotate-key", "--role", "gateway", "--data-dir", str(tmp_path / "v")]) == 2
    assert "--role is one of" in capsys.readouterr().err


def test_a_recovery_needs_the_signed_release_of_the_provider_holding_the_clone(dep):
    """The substrate node knows each provider's key (handed over by the gateway) and which provider
    holds which clone: the vault's release with another provider's is refused, with the right one
    the recovery runs, once."""
    peers = {"vault": dep.keys["vault"].key_id, "provider:p1": dep.keys["p1"].key_id,
             "provider:p2": dep.keys["p2"].key_id}
    resp = dep.call("substrate", "/v1/enroll", {"gateway_key": dep.gateway.key_id, "challenge": "c", "peers": peers},
                    dep.gateway)
    assert resp.status_code == 200, resp.text
    info = dep.gw("substrate", "create", object_id="obj2", state=encode_state(parse_state("bloch", [0, 0, 1])),
                  clones=2, keep_reference=True,
                  holders={"vault": ["N0_1", "N0_2"], "provider:p1": ["S0_1"], "provider:p2": ["S0_2"]})
    dep.gw("vault", "deposit", tenant="t", object_id="obj2", labels=info["key_qubits"])
    dep.gw("p1", "store", object_id="obj2", clone=1, labels=["S0_1"], stored_at=1.0)
    vault = dep.gw("vault", "release", object_id="obj2", attempt="a1")
    body = {"object_id": "obj2", "qubits": ["S0_1", "N0_1", "N0_2"], "attempt": "a1"}
    for wrong in ({"vault": vault},  # no provider's release
                  {"vault": vault, "provider:p1": issue_grant(dep.keys["p2"], "obj2", "a1")}):  # p2 signing for p1
        resp = dep.call("substrate", "/v1/recover", {**body, "authorizations": wrong}, dep.gateway)
        assert resp.status_code == 401, resp.text
    # p2 holds no clone of obj2: it releases nothing
    assert dep.call("p2", "/v1/release", {"object_id": "obj2", "attempt": "a1"}, dep.gateway).status_code == 404
    out = dep.gw("substrate", "recover", **body, authorizations={
        "vault": vault, "provider:p1": dep.gw("p1", "release", object_id="obj2", attempt="a1")})
    assert out["clone"] == 1 and out["parties"] == ["provider:p1", "vault"] and out["fidelity"] == pytest.approx(1.0)
