"""A server process killed at every step of a batch put, then restarted.

At each crash point of the batch put (``put.batch.reserve``, ``.create``, ``.deposit``, ``.place``,
``.commit``) the server dies in the middle of a request (``os._exit``, as a kill -9: no clean-up).
After a restart: every batch is stored whole (it died after its commit) or not at all (its names
are free again, its parts gone from the substrate, the vault and every provider), never in
part; sending it again with its key stores exactly what is missing, and a third time nothing.
One data dir for the chain: the server started to crash at step s_i also recovers what step
s_(i-1) left behind.
"""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from qclone.storage.faults import CRASH_EXIT_STATUS
from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.slow

BATCH_STEPS = ["put.batch.reserve", "put.batch.create", "put.batch.deposit", "put.batch.place", "put.batch.commit"]
SIZE = 40


def body(step: str) -> dict:
    return {"objects": [{"name": f"{step}-{i}", "state": {"kind": "bloch", "data": [0.0, 0.6, 0.8]}}
                        for i in range(SIZE)], "keep_reference": True, "key": step.replace("put.batch.", "k-")}


def test_kill_at_every_step_of_a_batch_then_restart(tmp_path):
    server = Server(["--data-dir", str(tmp_path), "--settable-clock"], free_port(), tmp_path / "server.log")
    try:
        for step in BATCH_STEPS:
            server.start(env={"QCLONE_CRASH_AT": step})
            auth = {"authorization": f"Bearer {read_token(tmp_path)}"}
            with pytest.raises(httpx.TransportError):
                httpx.post(server.url + "/v1/objects:batch", json=body(step), headers=auth, timeout=60)
            assert server.wait_exit() == CRASH_EXIT_STATUS, server.tail()
        server.start()
        admin = {"authorization": f"Bearer {read_token(tmp_path, 'admin-token')}"}

        def call(method: str, path: str, **kw) -> httpx.Response:
            return httpx.request(method, server.url + path, headers=auth, timeout=60, **kw)

        def parts() -> tuple[int, int, list[int]]:
            h = httpx.get(server.url + "/v1/health", headers=admin, timeout=60).json()
            held = []
            for f in sorted(tmp_path.glob("providers/*/provider.sqlite3")):  # each provider's own records
                with sqlite3.connect(f) as conn:
                    held.append(conn.execute("SELECT count(*) FROM clones").fetchone()[0])
            return h["substrate"]["objects"], h["vault"]["keys"]["held"], held

        listed = {o["name"]: o["state"] for o in call("GET", "/v1/objects", params={"limit": 1000}).json()["objects"]}
        for step in BATCH_STEPS:
            states = {listed.get(f"{step}-{i}") for i in range(SIZE)}
            # whole or nothing: only the batch that died after its commit is stored
            assert states == ({"stored"} if step == "put.batch.commit" else {None}), (step, states)
        assert parts() == (SIZE, SIZE, [SIZE] * 4)  # nothing half stored is left anywhere
        for step in BATCH_STEPS:
            again = call("POST", "/v1/objects:batch", json=body(step))
            assert again.status_code == 201, again.text
            assert again.json()["created"] == (0 if step == "put.batch.commit" else SIZE), (step, again.text)
            third = call("POST", "/v1/objects:batch", json=body(step))
            assert third.status_code == 201 and third.json()["created"] == 0
        n = SIZE * len(BATCH_STEPS)
        assert parts() == (n, n, [n] * 4)
        for step in BATCH_STEPS:
            got = call("POST", f"/v1/objects/{step}-0/get", json={"key": "g"})
            assert got.status_code == 200 and got.json()["fidelity"] == pytest.approx(1.0, abs=1e-9), got.text
            assert call("POST", f"/v1/objects/{step}-0/ack", json={"key": "g"}).status_code == 200
            assert call("POST", f"/v1/objects/{step}-0/get", json={"key": "other"}).status_code == 409
    except Exception as exc:
        raise AssertionError(f"{exc}\n--- end of the server's log ---\n{server.tail()}") from exc
    finally:
        server.kill()
