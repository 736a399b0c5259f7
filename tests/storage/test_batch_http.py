"""The batch put end to end: ``POST /v1/objects:batch`` on a server process, ``Client.put_many``
and ``qclone load`` (bad input, budgets, retries with the same key)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qclone.cli.exits import BAD_INPUT, REFUSED
from qclone.cli.main import main
from qclone.storage.client import Client
from qclone.storage.errors import ConflictError
from qclone.storage.inputs import MAX_BATCH
from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.service

BODY_LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    s = Server(["--data-dir", str(root), "--settable-clock", "--max-body-bytes", str(BODY_LIMIT)], free_port(),
               root / "server.log")
    s.start()
    try:
        yield s, read_token(root)
    finally:
        s.kill()


def blochs(count: int, seed: int) -> list[list[float]]:
    v = np.random.default_rng(seed).normal(size=(count, 3))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).tolist()


def listed(c: Client) -> int:
    return len(c.list(page=10_000))


def test_put_many_through_the_sdk(server):
    s, token = server
    with Client(s.url, token) as c:
        items: list = []
        for i, b in enumerate(blochs(2100, 1)):  # the three ways to give an object
            name = f"sdk-{i}"
            if i % 3 == 0:
                items.append({"name": name, "bloch": b})
            elif i % 3 == 1:
                items.append({"name": name, "state": {"kind": "bloch", "data": b}})
            else:
                items.append((name, Statevector(_vector(b))))
        before = listed(c)
        out = c.put_many(items, keep_reference=True, key="sdk-load")
        assert len(out) == 2100 and all(o.created and o.state == "stored" for o in out)
        assert [o.name for o in out] == [f"sdk-{i}" for i in range(2100)]
        assert listed(c) == before + 2100
        got = c.get("sdk-7")
        assert got.fidelity == pytest.approx(1.0, abs=1e-9)
        again = c.put_many(items, keep_reference=True, key="sdk-load")  # the same load again: nothing twice
        assert not any(o.created for o in again) and again[7].state == "retrieved"
        assert listed(c) == before + 2100
        with pytest.raises(ConflictError):  # the same names under another key: refused, nothing stored
            c.put_many(items[:3] + [("sdk-new", {"kind": "bloch", "data": [0, 0, 1]})], key="other")
        assert listed(c) == before + 2100


def _vector(b: list[float]) -> np.ndarray:
    """The pure one-qubit state of Bloch vector b."""
    theta, phi = np.arccos(np.clip(b[2], -1, 1)), np.arctan2(b[1], b[0])
    return np.array([np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)])


def test_the_batch_route_refuses_bad_input_whole(server):
    s, token = server
    auth = {"authorization": f"Bearer {token}"}
    with Client(s.url, token) as c:
        before = listed(c)

    def post(body, headers=None):
        return httpx.post(s.url + "/v1/objects:batch", json=body, headers={**auth, **(headers or {})}, timeout=60)

    def objs(names):
        return [{"name": n, "state": {"kind": "bloch", "data": [0.0, 0.0, 1.0]}} for n in names]

    r = post({"objects": objs([f"t{i}" for i in range(MAX_BATCH + 1)])})
    assert r.status_code in (413, 422), r.text  # over the count (or, first, over this server's body limit)
    r = post({"objects": objs([f"t{i}" for i in range(MAX_BATCH + 1)])[:2] + objs(["t0"])})
    assert r.status_code == 422 and "objects[2]" in r.json()["error"]["message"], r.text
    bad = objs(["u0", "u1", "u2"])
    bad[1]["state"]["data"] = [2.0, 0.0, 0.0]
    r = post({"objects": bad})
    assert r.status_code == 422 and "objects[1]" in r.json()["error"]["message"], r.text
    r = post({"objects": []})
    assert r.status_code == 422
    r = post({"objects": objs(["v0"]), "clones": "4"})  # strict types
    assert r.status_code == 422
    r = post({"objects": objs(["v0"]), "key": "k1"}, {"idempotency-key": "k2"})
    assert r.status_code == 422 and "differ" in r.text
    big = "x" * (BODY_LIMIT + 10)
    r = post({"objects": [{"name": "w", "state": {"kind": "qasm", "data": big}}]})
    assert r.status_code == 413 and big not in r.text
    r = httpx.post(s.url + "/v1/objects:batch", json={"objects": objs(["v0"])}, timeout=60)
    assert r.status_code == 401
    ok = post({"objects": objs(["h0", "h1"])}, {"idempotency-key": "by-header"})
    assert ok.status_code == 201 and ok.json()["key"] == "by-header" and ok.json()["created"] == 2
    again = post({"objects": objs(["h0", "h1"])}, {"idempotency-key": "by-header"})
    assert again.status_code == 201 and again.json()["created"] == 0
    with Client(s.url, token) as c:
        assert listed(c) == before + 2


def test_qclone_load(server, tmp_path, capsys):
    s, token = server
    lines = [json.dumps({"name": f"cli-{i}", "bloch": b}) for i, b in enumerate(blochs(1203, 2))]
    lines.insert(600, "")  # blank lines are skipped
    good = tmp_path / "objects.jsonl"
    good.write_text("\n".join(lines) + "\n")
    args = ["load", str(good), "--url", s.url, "--token", token, "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["objects"], out["created"], out["stored_before"], out["requests"]) == (1203, 1203, 0, 2)
    assert main(args) == 0  # the same file again: every request finds its objects
    out = json.loads(capsys.readouterr().out)
    assert (out["objects"], out["created"], out["stored_before"]) == (1203, 0, 1203)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(lines[0] + "\n" + lines[1] + "\n{not json\n")
    assert main(["load", str(broken), "--url", s.url, "--token", token]) == BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 3" in err[0] and "not json" not in err[0]
    taken = tmp_path / "taken.jsonl"
    taken.write_text(json.dumps({"name": "cli-0", "bloch": [0, 0, -1]}) + "\n")
    assert main(["load", str(taken), "--url", s.url, "--token", token]) == REFUSED
    assert "cli-0" in capsys.readouterr().err
    assert main(["load", str(tmp_path), "--url", s.url, "--token", token]) == BAD_INPUT
    assert main(["load", str(good), "--clones", "1", "--url", s.url, "--token", token]) == BAD_INPUT
