"""Corrected retrieval through a real ``qclone serve``: the CLI option, the SDK, the HTTP field, and
the server killed (exit, no cleanup) at every step of a corrected get, then restarted: the state
comes back once, from one corrected recovery, as for a plain get (the same steps, the same code).
``make test`` kills it at a seeded sample of the steps (``tests/sampling.py``); ``QCLONE_FULL=1``
(``make chaos``) at every step."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from qclone import Client
from qclone.cli.main import main
from tests.storage.procs import Server, free_port, read_token
from tests.storage.test_crash import BLOCH, GET_STEPS, REPLY_STEPS, Chain, rho, substrate_extra, with_log

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("corrected")
    srv = Server(["--data-dir", str(data_dir), "--settable-clock"], free_port(), data_dir / "server.log").start()
    srv.data_dir = data_dir
    yield srv
    srv.kill()


def test_cli_sdk_and_http_take_the_retrieval_mode(server, capsys, monkeypatch) -> None:
    monkeypatch.setenv("QCLONE_URL", server.url)
    monkeypatch.setenv("QCLONE_TOKEN", read_token(server.data_dir))
    assert main(["put", "c1", "--bloch", "0,0.6,0.8", "--clones", "3", "--keep-reference"]) == 0
    capsys.readouterr()
    assert main(["get", "c1", "--retrieval", "corrected", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["retrieval"] == "corrected" and out["fallback"] is None
    assert out["bloch"][0] == pytest.approx([0, 0.6, 0.8], abs=1e-9)
    assert main(["get", "c1", "--retrieval", "best"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("qclone: error: --retrieval must be plain or corrected") and captured.out == ""

    with Client(server.url, read_token(server.data_dir)) as c:
        c.put("c2", bloch=[0.6, 0.0, 0.8], clones=2, keep_reference=True)
        got = c.get("c2", retrieval="corrected")
        assert got.retrieval == "corrected" and got.fallback is None and got.fidelity == pytest.approx(1.0)
        c.put("c3", bloch=[0.6, 0.0, 0.8], clones=2)
        assert c.get("c3").retrieval == "plain"
    headers = {"authorization": f"Bearer {read_token(server.data_dir)}"}
    bad = httpx.post(server.url + "/v1/objects/c4/get", json={"retrieval": "ideal"}, headers=headers, timeout=60)
    assert bad.status_code == 422 and "retrieval" in bad.text


def _check_once(chain: Chain, name: str, *, acknowledged: bool) -> None:
    if not acknowledged:
        first = chain.call("POST", f"/v1/objects/{name}/get", json={"key": f"check-{name}", "retrieval": "corrected"})
        assert first.status_code == 200, (name, first.text)
        out = first.json()
        # a get taken over after the crash delivers the corrected output of the interrupted one
        assert out["retrieval"] == "corrected", (name, out)
        dm = np.array(out["density_matrix"]["real"]) + 1j * np.array(out["density_matrix"]["imag"])
        np.testing.assert_allclose(dm, rho(BLOCH), atol=1e-9, err_msg=name)
        assert chain.call("POST", f"/v1/objects/{name}/ack", json={"key": f"check-{name}"}).status_code == 200
    assert chain.call("GET", f"/v1/objects/{name}").json()["state"] == "retrieved"
    assert chain.call("POST", f"/v1/objects/{name}/get", json={"retrieval": "corrected"}).status_code == 409
    entries = [e for e in chain.call("GET", "/v1/audit-log").json()["entries"] if e["object_name"] == name]
    assert len([e for e in entries if e["action"] in ("get", "get.recovered")]) == 1, (name, entries)
    assert [e["action"] for e in entries].count("get.ack") == 1


def _corrected_chain(root: Path, steps: list[str]) -> None:
    chain = Chain(root)
    try:
        for step in steps:
            chain.start(step)
            assert chain.put(step).status_code == 201
            chain.crash("POST", f"/v1/objects/{step}/get", json={"key": "first", "retrieval": "corrected"})
        chain.start()
        for step in steps:
            if step in REPLY_STEPS:
                again = chain.call("POST", f"/v1/objects/{step}/get", json={"key": "first", "retrieval": "corrected"})
                assert again.status_code == 200 and again.json()["retrieval"] == "corrected", again.text
                assert chain.call("POST", f"/v1/objects/{step}/ack", json={"key": "first"}).status_code == 200
            _check_once(chain, step, acknowledged=step in REPLY_STEPS)
        assert substrate_extra(chain) == (0, 0)
    except Exception as exc:
        raise with_log(chain, exc) from exc
    finally:
        chain.stop()


@pytest.mark.slow
def test_a_corrected_get_killed_at_every_step_is_retrieved_once(tmp_path, sample) -> None:
    steps = sample(GET_STEPS + REPLY_STEPS, 3)
    with ThreadPoolExecutor(3) as pool:
        for f in [pool.submit(_corrected_chain, tmp_path / name, steps[i::3]) for i, name in enumerate("abc")
                      if steps[i::3]]:
            f.result()
