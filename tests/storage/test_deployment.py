"""A multi-process deployment on loopback: gateway, substrate, vault and three providers.

Each component is its own ``qclone serve --role ...`` process with its own
key, enrolled with the gateway by the join token it printed: the substrate and
the vault through the gateway's ``--substrate-join`` / ``--vault-join``, the
providers through ``providers add ID --node-url URL --join TOKEN``. A provider
process and the vault process are killed with SIGKILL and restarted: a get
still succeeds exactly once, from another provider or once the vault is back,
and a restarted provider receives the discards it missed.
"""

from __future__ import annotations

import signal

import httpx
import numpy as np
import orjson
import pytest

from qclone import Client
from qclone.errors import InvalidArgumentError
from qclone.storage.errors import ConflictError, UnavailableError
from qclone.storage.rpc.keys import Identity, sign_request
from tests.storage.procs import Server, free_port, read_token, start_deployment

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("deployment")
    parts, client = start_deployment(root, 3, gateway_args=("--settable-clock",))
    try:
        for i in (1, 2, 3):
            assert {p.id: p.zone for p in client.providers()}[f"p{i}"] == f"zone-{i}"  # reported by the node
        parts["root"] = root
        yield parts, client
    finally:
        for s in parts.values():
            if isinstance(s, Server):
                s.kill()


def test_a_provider_node_is_added_with_its_join_token_only(tmp_path, deployment):
    _, client = deployment
    extra = Server(["--role", "provider", "--id", "p9", "--data-dir", str(tmp_path / "p9")], free_port(),
                   tmp_path / "p9.log").start()
    try:
        with pytest.raises(InvalidArgumentError, match="join token"):
            client.add_provider("p9", url=extra.url)
        with pytest.raises(InvalidArgumentError, match="refused"):
            client.add_provider("p9", url=extra.url, join=read_token(tmp_path / "p9", "join-token")[:-4] + "AAAA")
        assert "p9" not in {p.id for p in client.providers()}
    finally:
        extra.kill()


def rho(bloch):
    x, y, z = bloch
    return np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2


def identity_of(data_dir, name: str = "node-key") -> Identity:
    return Identity.from_text((data_dir / name).read_text())


def signed(server: Server, method: str, path: str, body: dict | None, who: Identity, audience: str) -> httpx.Response:
    raw = b"" if body is None else orjson.dumps(body)
    return httpx.request(method, server.url + path, content=raw, timeout=10,
                         headers=sign_request(who, method, path, raw, audience=audience))


def node_health(server: Server) -> dict:
    root = server.log.parent
    name = server.log.stem
    audience = identity_of(root / name).key_id
    return signed(server, "GET", "/v1/health", None, identity_of(root / "gateway", "gateway-key"), audience).json()


def test_nodes_refuse_unsigned_calls(deployment):
    parts, _ = deployment
    for name, method in (("substrate", "discard"), ("vault", "destroy"), ("p1", "discard")):
        resp = httpx.post(f"{parts[name].url}/v1/{method}", json={"object_id": "x"}, timeout=10)
        assert resp.status_code == 401 and resp.json()["error"]["type"] == "UnauthorizedError"
        assert httpx.get(f"{parts[name].url}/v1/health", timeout=10).json() == {"status": "ok"}  # liveness only


def test_a_provider_cannot_decrypt(deployment):
    """The attack of the storage-trust review, across processes: a provider node takes an object id
    from its own records and asks the substrate to decrypt it, with its own key or with none."""
    parts, client = deployment
    root = parts["root"]
    client.put("dep-x", bloch=[0, 1, 0], clones=3, keep_reference=True)
    p1 = identity_of(root / "p1")
    substrate_key = identity_of(root / "substrate").key_id
    records = signed(parts["p1"], "POST", "/v1/records", {}, identity_of(root / "gateway", "gateway-key"),
                     p1.key_id).json()["result"]
    object_id = next(r["object_id"] for r in records)
    body = {"object_id": object_id, "clone": 1, "attempt": "stolen"}
    for resp in (signed(parts["substrate"], "POST", "/v1/decrypt", body, p1, substrate_key),
                 httpx.post(parts["substrate"].url + "/v1/decrypt", json=body, timeout=10)):
        assert resp.status_code == 401 and "density_matrix" not in resp.text
    out = client.get("dep-x")  # the tenant's get is untouched
    assert out.fidelity == pytest.approx(1.0, abs=1e-9)


def test_put_and_get_across_processes(deployment):
    parts, client = deployment
    rec = client.put("dep-a", bloch=[0.6, 0.8, 0], clones=3, keep_reference=True)
    assert sorted(p.provider for p in rec.placement) == ["p1", "p2", "p3"]
    assert node_health(parts["substrate"])["objects"] >= 1
    assert node_health(parts["vault"])["keys"]["held"] >= 1
    view = client.peek("dep-a", "p1")
    np.testing.assert_allclose(view.density_matrix, np.eye(2) / 2, atol=1e-9)  # one clone alone: nothing
    out = client.get("dep-a")
    np.testing.assert_allclose(out.density_matrix, rho([0.6, 0.8, 0]), atol=1e-9)
    assert out.fidelity == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ConflictError):
        client.get("dep-a")
    for p in ("p1", "p2", "p3"):
        assert node_health(parts[p])["clones"] == 0  # every provider discarded its clone


def test_killed_provider_process_then_restarted(deployment):
    parts, client = deployment
    client.put("dep-b", bloch=[0, 0, 1], clones=3, keep_reference=True)
    client.put("dep-c", bloch=[0, 0, -1], clones=3, keep_reference=True)
    parts["p2"].kill(signal.SIGKILL)
    out = client.get("dep-b")  # p2 does not answer: another provider's clone is used
    assert out.provider != "p2" and out.fidelity == pytest.approx(1.0, abs=1e-9)
    pending = {p.id: p.discards_pending for p in client.providers()}
    assert pending["p2"] == 1  # p2 missed the discard of dep-b
    parts["p2"].start()
    root = parts["root"]
    held = signed(parts["p2"], "POST", "/v1/records", {}, identity_of(root / "gateway", "gateway-key"),
                  identity_of(root / "p2").key_id).json()["result"]
    assert client.stat("dep-c").object_id in {r["object_id"] for r in held}  # its records survived the kill
    client.revive_provider("p2")  # delivers what it missed (unless the reconciler already did)
    assert node_health(parts["p2"])["clones"] == 1
    assert {p.id: p.discards_pending for p in client.providers()}["p2"] == 0
    out = client.get("dep-c")
    np.testing.assert_allclose(out.density_matrix, rho([0, 0, -1]), atol=1e-9)


def test_killed_vault_process_then_restarted(deployment):
    parts, client = deployment
    client.put("dep-d", bloch=[1, 0, 0], clones=3, keep_reference=True)
    parts["vault"].kill(signal.SIGKILL)
    with pytest.raises(UnavailableError):
        client.get("dep-d")
    # the claim the vault's failure interrupted was rolled back at once: no "being retrieved" for a lease
    assert client.stat("dep-d").state == "stored"
    parts["vault"].start()
    client.set_clock(advance=61.0)
    out = client.get("dep-d")
    assert out.fidelity > 0.9  # a minute of memory noise at T1 = T2 = 3600 s
    with pytest.raises(ConflictError):
        client.get("dep-d")
    entries = [e.action for e in client.audit_log() if e.object_name == "dep-d"]
    assert entries.count("get") == 1


def test_a_provider_with_a_rotated_key_is_enrolled_again(deployment):
    parts, client = deployment
    root = parts["root"]
    client.put("dep-r", bloch=[0, 0, 1], clones=3)
    old_key = {p.id: p.public_key for p in client.providers()}["p3"]
    parts["p3"].kill()
    from qclone.cli.main import main

    assert main(["storage", "rotate-key", "--role", "provider", "--data-dir", str(root / "p3")]) == 0
    parts["p3"].start()
    # the node no longer knows the gateway: it refuses its calls, so p3 shows as down
    assert signed(parts["p3"], "POST", "/v1/records", {}, identity_of(root / "gateway", "gateway-key"),
                  identity_of(root / "p3").key_id).status_code == 401
    again = client.add_provider("p3", url=parts["p3"].url, join=read_token(root / "p3", "join-token"))
    assert again.public_key not in (None, old_key) and again.node == "up"
    assert node_health(parts["p3"])["clones"] == 1  # its records survived the rotation
    assert client.get("dep-r").fidelity is None


def test_a_remote_substrate_with_the_vault_in_the_gateway(tmp_path):
    """With the vault in the gateway's process, the gateway's key signs the decryption
    authorizations, and the substrate was handed that key at enrollment."""
    substrate = Server(["--role", "substrate", "--data-dir", str(tmp_path / "substrate")], free_port(),
                       tmp_path / "substrate.log").start()
    gateway = Server(["--role", "gateway", "--data-dir", str(tmp_path / "gateway"), "--substrate", substrate.url,
                      "--substrate-join", read_token(tmp_path / "substrate", "join-token")],
                     free_port(), tmp_path / "gateway.log")
    try:
        gateway.start()
        client = Client(gateway.url, read_token(tmp_path / "gateway"),
                        admin_token=read_token(tmp_path / "gateway", "admin-token"))
        for i in (1, 2):
            client.add_provider(f"e{i}")  # embedded in the gateway
        client.put("mixed", bloch=[0, 0.6, 0.8], clones=2, keep_reference=True)
        assert client.get("mixed").fidelity > 0.999  # a few seconds of memory noise (real clock)
        # restarted without the (spent) join token: the gateway remembers the substrate's key
        gateway.kill()
        gateway.args = [a for a in gateway.args if not a.startswith("qcj1.") and a != "--substrate-join"]
        gateway.start()
        client.put("mixed-2", bloch=[1, 0, 0], clones=2)
        assert client.get("mixed-2").name == "mixed-2"
    finally:
        gateway.kill()
        substrate.kill()
