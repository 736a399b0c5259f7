"""CLI and HTTP: ``qclone apply`` and ``POST /v1/objects/{name}/apply`` against a real ``qclone serve``
process (the client commands run in-process with ``main(args)``)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from qiskit.quantum_info import DensityMatrix, Operator

from qclone.cli.main import main
from qclone.protocol.logical import local_unitary
from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("apply-server")
    srv = Server(["--data-dir", str(data_dir), "--settable-clock"], free_port(), data_dir / "server.log").start()
    srv.data_dir = data_dir
    yield srv
    srv.kill()


@pytest.fixture
def env(server, monkeypatch):
    monkeypatch.setenv("QCLONE_URL", server.url)
    monkeypatch.setenv("QCLONE_TOKEN", read_token(server.data_dir))
    return server


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _expected(bloch, gate):
    x, y, z = bloch
    rho = DensityMatrix(np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2)
    return np.asarray(rho.evolve(Operator(local_unitary(gate))).data)


def test_apply_then_get_and_stat(env, capsys):
    assert run(capsys, "put", "ap-a", "--bloch", "0.6,0,0.8", "--clones", "3", "--force", "--keep-reference")[0] == 0
    code, out, err = run(capsys, "apply", "ap-a", "--gate", "H")
    assert code == 0, err
    assert "applied logical H to 'ap-a'" in out and "key holders that applied their part: vault" in out
    assert "never the state" in out
    code, out, err = run(capsys, "stat", "ap-a")
    assert code == 0 and "logical gate H on qubit(s) 0" in out and "vault" in out, err
    code, out, err = run(capsys, "get", "ap-a", "--json")
    d = json.loads(out)
    rho = np.array(d["density_matrix"]["real"]) + 1j * np.array(d["density_matrix"]["imag"])
    # the server's default gate noise (3.4e-4 per local gate) moves it by about 1e-3
    np.testing.assert_allclose(rho, _expected([0.6, 0, 0.8], "H"), atol=5e-3)


def test_apply_json_and_refusals(env, capsys):
    assert run(capsys, "put", "ap-b", "--bloch", "0,0,1", "--clones", "4")[0] == 0
    code, out, err = run(capsys, "apply", "ap-b", "--gate", "X", "--json")
    d = json.loads(out)
    assert code == 0 and d["complete"] and d["gate"] == "X" and d["key_holders"] == [] and d["pending"] == []
    code, out, err = run(capsys, "apply", "ap-b", "--gate", "H")  # H has no local plan for even n
    assert code == 2 and out == "" and err.startswith("qclone: error:") and "no local plan" in err
    assert err.count("\n") == 1
    code, out, err = run(capsys, "apply", "ap-b", "--gate", "X", "--qubit", "3")
    assert code == 2 and "qubits" in err
    assert run(capsys, "rm", "ap-b")[0] == 0
    code, out, err = run(capsys, "apply", "ap-b", "--gate", "X")
    assert code == 3 and "deleted" in err and err.count("\n") == 1
    code, out, err = run(capsys, "apply", "nothing-here", "--gate", "X")
    assert code == 3 and "no object" in err


def test_http_route_idempotency_key_and_errors(env):
    h = {"authorization": f"Bearer {read_token(env.data_dir)}"}
    body = {"state": {"kind": "bloch", "data": [0.0, 0.6, 0.8]}, "clones": 3, "force": True, "keep_reference": True}
    assert httpx.put(env.url + "/v1/objects/ap-c", json=body, headers=h).status_code == 201
    first = httpx.post(env.url + "/v1/objects/ap-c/apply", json={"gate": "H"}, headers={**h, "idempotency-key": "k1"})
    assert first.status_code == 200 and first.json()["key"] == "k1" and first.json()["complete"]
    again = httpx.post(env.url + "/v1/objects/ap-c/apply", json={"gate": "H", "key": "k1"}, headers=h)
    assert again.status_code == 200 and again.json()["op"] == first.json()["op"]  # the same gate, not a second
    st = httpx.get(env.url + "/v1/objects/ap-c", headers=h).json()
    assert [g["gate"] for g in st["logical"]["gates"]] == ["H"]
    for bad, status in (({"gate": "H", "qubits": "0"}, 422), ({"gate": ""}, 422), ({"gate": "H", "extra": 1}, 422),
                        ({}, 422), ({"gate": "S"}, 422)):
        r = httpx.post(env.url + "/v1/objects/ap-c/apply", json=bad, headers=h)
        assert r.status_code == status, (bad, r.text)
        assert set(r.json()["error"]) == {"type", "message", "request_id"}
    mismatch = httpx.post(env.url + "/v1/objects/ap-c/apply", json={"gate": "H", "key": "a"},
                          headers={**h, "idempotency-key": "b"})
    assert mismatch.status_code == 422
    assert httpx.post(env.url + "/v1/objects/ap-c/apply", json={"gate": "H"}).status_code == 401
