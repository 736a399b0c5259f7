"""A multi-process deployment on loopback: gateway, substrate, vault and three providers.

Each component is its own ``qclone serve --role ...`` process with a shared
node key. Providers are added through the gateway by URL. A provider process
and the vault process are killed with SIGKILL and restarted: a get still
succeeds exactly once, from another provider or once the vault is back, and a
restarted provider receives the discards it missed.
"""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from qclone import Client
from qclone.storage.errors import ConflictError, UnavailableError
from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.service

NODE_KEY = "test-node-key"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("deployment")
    key = ["--node-key", NODE_KEY]

    def node(name: str, *args: str) -> Server:
        return Server([*args, "--data-dir", str(root / name), *key], free_port(), root / f"{name}.log")

    parts = {
        "substrate": node("substrate", "--role", "substrate"),
        "vault": node("vault", "--role", "vault"),
        **{f"p{i}": node(f"p{i}", "--role", "provider", "--id", f"p{i}", "--zone", f"zone-{i}") for i in (1, 2, 3)},
    }
    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(lambda s: s.start(), parts.values()))
    gateway = Server(["--role", "gateway", "--data-dir", str(root / "gateway"), "--settable-clock", *key,
                      "--substrate", parts["substrate"].url, "--vault", parts["vault"].url],
                     free_port(), root / "gateway.log")
    parts["gateway"] = gateway
    try:
        gateway.start()
        client = Client(gateway.url, read_token(root / "gateway"), admin_token=read_token(root / "gateway", "admin-token"))
        for i in (1, 2, 3):
            added = client.add_provider(f"p{i}", url=parts[f"p{i}"].url)
            assert added["zone"] == f"zone-{i}"  # reported by the provider node itself
        yield parts, client
    finally:
        for s in parts.values():
            s.kill()


def rho(bloch):
    x, y, z = bloch
    return np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2


def node_health(server: Server) -> dict:
    return httpx.get(server.url + "/v1/health", headers={"x-qclone-node-key": NODE_KEY}, timeout=10).json()


def test_nodes_refuse_calls_without_the_node_key(deployment):
    parts, _ = deployment
    for name, method in (("substrate", "discard"), ("vault", "destroy"), ("p1", "discard")):
        resp = httpx.post(f"{parts[name].url}/v1/{method}", json={"object_id": "x"}, timeout=10)
        assert resp.status_code == 401 and resp.json()["error"]["type"] == "UnauthorizedError"


def test_put_and_get_across_processes(deployment):
    parts, client = deployment
    rec = client.put("dep-a", bloch=[0.6, 0.8, 0], clones=3, keep_reference=True)
    assert sorted(p["provider"] for p in rec["placement"]) == ["p1", "p2", "p3"]
    assert node_health(parts["substrate"])["objects"] >= 1
    assert node_health(parts["vault"])["keys"]["held"] >= 1
    view = client.peek("dep-a", "p1")
    np.testing.assert_allclose(view["density_matrix"], np.eye(2) / 2, atol=1e-9)  # one clone alone: nothing
    out = client.get("dep-a")
    np.testing.assert_allclose(out["density_matrix"], rho([0.6, 0.8, 0]), atol=1e-9)
    assert out["fidelity"] == pytest.approx(1.0, abs=1e-9)
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
    assert out["provider"] != "p2" and out["fidelity"] == pytest.approx(1.0, abs=1e-9)
    pending = {p["id"]: p["discards_pending"] for p in client.providers()}
    assert pending["p2"] == 1  # p2 missed the discard of dep-b
    parts["p2"].start()
    assert node_health(parts["p2"])["clones"] == 2  # its records survived the kill
    client.revive_provider("p2")  # delivers what it missed
    assert node_health(parts["p2"])["clones"] == 1
    assert {p["id"]: p["discards_pending"] for p in client.providers()}["p2"] == 0
    out = client.get("dep-c")
    np.testing.assert_allclose(out["density_matrix"], rho([0, 0, -1]), atol=1e-9)


def test_killed_vault_process_then_restarted(deployment):
    parts, client = deployment
    client.put("dep-d", bloch=[1, 0, 0], clones=3, keep_reference=True)
    parts["vault"].kill(signal.SIGKILL)
    with pytest.raises(UnavailableError):
        client.get("dep-d")
    parts["vault"].start()
    # the claim the vault's failure interrupted was rolled back at once: no "being retrieved" for a lease
    client.set_clock(advance=61.0)
    out = client.get("dep-d")
    assert out["fidelity"] > 0.9  # a minute of memory noise at T1 = T2 = 3600 s
    with pytest.raises(ConflictError):
        client.get("dep-d")
    entries = [e["action"] for e in client.audit_log() if e["object_name"] == "dep-d"]
    assert entries.count("get") == 1
