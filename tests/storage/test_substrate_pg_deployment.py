"""The substrate node with its state in PostgreSQL and two worker processes, behind a gateway.

``qclone serve --role substrate --db URL --workers 2``: the node's key stays in its
data dir, the joint states, outputs, fences and used authorizations in the
PostgreSQL schema of the test. The gateway's calls land on either worker (one
enrollment, through one of them, serves both); the ageing one worker applies
reaches the decryption the other runs, every object is retrieved exactly once,
and a signed request replayed to the node is refused whichever worker gets it.
"""

from __future__ import annotations

import httpx
import numpy as np
import orjson
import pytest

from qclone import Client
from qclone.storage.errors import ConflictError
from qclone.storage.inputs import parse_state
from qclone.storage.rpc.keys import Identity, sign_request
from qclone.storage.substrate import Substrate
from qclone.storage.wire import decode_array
from tests.storage.conftest import _connect
from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.service


def _identity(path) -> Identity:
    return Identity.from_text(path.read_text())


def _expected(bloch: list[float], clones: int, clone: int, seconds: float) -> float:
    """The fidelity of the get, computed in one in-memory substrate: clone ``clone`` and the key
    aged ``seconds`` at T1 = T2 = 3600 s (the nodes' defaults)."""
    sub = Substrate(None)
    info = sub.create("x", parse_state("bloch", bloch), clones, keep_reference=True)
    sub.age("x", info["clone_qubits"][str(clone)], seconds, 3600.0, 3600.0)
    sub.age("x", info["key_qubits"], seconds, 3600.0, 3600.0)
    return float(sub.decrypt("x", clone, "a")["fidelity"])


def test_substrate_workers_on_postgresql_behind_a_gateway(tmp_path, pg_schema_url):
    substrate = Server(["--role", "substrate", "--data-dir", str(tmp_path / "substrate"), "--db", pg_schema_url,
                        "--workers", "2"], free_port(), tmp_path / "substrate.log").start()
    parts = {"substrate": substrate}
    try:
        # the vault and two providers in the gateway's process (fewer processes to start)
        parts["gateway"] = Server(["--role", "gateway", "--data-dir", str(tmp_path / "gateway"), "--settable-clock",
                                   "--db", pg_schema_url, "--substrate", substrate.url],
                                  free_port(), tmp_path / "gateway.log",
                                  env={"QCLONE_SUBSTRATE_JOIN": read_token(tmp_path / "substrate", "join-token")}).start()
        client = Client(parts["gateway"].url, read_token(tmp_path / "gateway"),
                        admin_token=read_token(tmp_path / "gateway", "admin-token"))
        for i in (1, 2):
            client.add_provider(f"e{i}")
        assert not (tmp_path / "substrate" / "substrate.sqlite3").exists()  # the state is in PostgreSQL
        objects = {f"pg-{i}": [np.cos(i), np.sin(i), 0.0] for i in range(6)}
        for name, bloch in objects.items():
            client.put(name, bloch=bloch, clones=2, keep_reference=True)
        with _connect(pg_schema_url) as conn:
            schema = pg_schema_url.rsplit("%3D", 1)[1]
            assert conn.execute(f'SELECT count(*) FROM "{schema}".joint').fetchone()[0] == len(objects)
        client.set_clock(advance=600.0)
        for name, bloch in objects.items():
            out = client.get(name)
            assert out.fidelity == pytest.approx(_expected(bloch, 2, out.clone, 600.0), abs=1e-9)
            assert out.fidelity < 0.99  # the ageing was not lost between the workers
            with pytest.raises(ConflictError):
                client.get(name)
        with _connect(pg_schema_url) as conn:
            joint, used, objs = conn.execute(f'SELECT (SELECT count(*) FROM "{schema}".joint), (SELECT count(*) FROM '
                                             f'"{schema}".grants), (SELECT count(DISTINCT object_id) FROM "{schema}".grants)'
                                             ).fetchone()
        assert joint == 0 and objs == len(objects)
        assert used == 2 * len(objects)  # per get, the vault's and the clone's provider's release, each once

        # memory noise one worker applies is what every worker sees: ageing and reading on new
        # connections (each one to either worker), against one in-memory substrate
        gateway = _identity(tmp_path / "gateway" / "gateway-key")
        node = _identity(tmp_path / "substrate" / "node-key").key_id

        def signed(path: str, body: dict) -> dict:
            raw = orjson.dumps(body)
            headers = sign_request(gateway, "POST", path, raw, audience=node)
            with httpx.Client() as fresh:  # a connection of its own
                answer = fresh.post(parts["substrate"].url + path, content=raw, headers=headers, timeout=30)
            assert answer.status_code == 200, answer.text
            return answer.json()["result"]

        client.put("pg-aged", bloch=[0.0, 0.6, 0.8], clones=2, keep_reference=True)
        object_id = client.stat("pg-aged").object_id
        reference = Substrate(None)
        reference.create(object_id, parse_state("bloch", [0.0, 0.6, 0.8]), 2, keep_reference=True)
        labels = ["S0_1", "N0_1", "N0_2"]
        for step in range(1, 7):
            for sub_labels in (labels[:1], labels[1:]):
                signed("/v1/age", {"object_id": object_id, "labels": sub_labels, "duration": 100.0 * step,
                                   "t1": 900.0, "t2": 700.0})
                reference.age(object_id, sub_labels, 100.0 * step, 900.0, 700.0)
            seen = decode_array(signed("/v1/peek", {"object_id": object_id, "labels": labels}), name="peek")
            np.testing.assert_allclose(seen, reference.peek(object_id, labels), atol=1e-10)

        # a captured signed request, sent again: refused by whichever worker gets it
        raw = orjson.dumps({"object_id": "pg-0"})
        headers = sign_request(gateway, "POST", "/v1/exists", raw, audience=node)
        first = httpx.post(parts["substrate"].url + "/v1/exists", content=raw, headers=headers, timeout=10)
        assert first.status_code == 200 and first.json() == {"result": False}
        for _ in range(4):
            again = httpx.post(parts["substrate"].url + "/v1/exists", content=raw, headers=headers, timeout=10)
            assert again.status_code == 401 and "replayed" in again.text
        with _connect(pg_schema_url) as conn:
            assert conn.execute(f'SELECT count(*) FROM "{schema}".request_nonces WHERE nonce = %s',
                                (headers["x-qclone-nonce"],)).fetchone()[0] == 1
    finally:
        for s in parts.values():
            if isinstance(s, Server):
                s.kill()
