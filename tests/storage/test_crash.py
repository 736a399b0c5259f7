"""A server process killed at every step of a get, a put and a delete, then restarted.

Each crash point (``QCLONE_CRASH_AT``, :mod:`qclone.storage.faults`) ends the
embedded server with ``os._exit`` in the middle of a request. After a restart
without it, the invariant must hold: the state is neither lost nor decrypted
twice. A get after the restart returns the state (exactly: the settable clock
never moves, so there is no memory noise) or the output the interrupted get
had already produced; a further get is 409; the audit log shows exactly one
retrieval; and the substrate holds a live state for exactly the objects that
are still stored, and no undelivered output.

To keep it quick, each chain of crash points shares one data dir: the process
started to crash at step s_i also recovers, at start-up, the object left
behind by step s_(i-1); a last clean start checks every object. Three
chains (two of get steps, one of put and delete steps) run side by side.
``make test`` runs a seeded sample of each chain's points (``tests/sampling.py``:
every point over a few runs, the seed printed); ``QCLONE_FULL=1`` (``make chaos``)
every point.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from qclone.storage import faults
from qclone.storage.faults import CRASH_EXIT_STATUS
from tests.storage.procs import Server, free_port, read_token

pytestmark = pytest.mark.service

GET_STEPS = ["get.claim", "get.release", "get.age", "get.decrypt", "get.consume", "get.finish", "get.discard",
             "get.deliver"]
#: steps after the output reached the client once: collected again by another get, acknowledged
DELIVERY_STEPS = ["get.collect", "ack.commit", "ack.release"]
#: the reply of a get lost (the gateway died after the decryption, as it sent the answer)
REPLY_STEPS = ["get.reply"]
PUT_STEPS = ["put.reserve", "put.create", "put.deposit", "put.place", "put.commit"]
DELETE_STEPS = ["delete.mark", "delete.purge"]
BLOCH = [0.0, 0.6, 0.8]


def rho(bloch):
    x, y, z = bloch
    return np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2


class Chain:
    """One data dir; a server restarted with a different crash point each time."""

    def __init__(self, root: Path) -> None:
        self.dir = root
        self.server = Server(["--data-dir", str(root), "--settable-clock"], free_port(), root / "server.log")

    def start(self, crash_at: str | None = None) -> None:
        self.server.start(env={"QCLONE_CRASH_AT": crash_at} if crash_at else None)
        self.headers = {"authorization": f"Bearer {read_token(self.dir)}"}

    def call(self, method: str, path: str, **kw) -> httpx.Response:
        return httpx.request(method, self.server.url + path, headers=self.headers, timeout=60, **kw)

    def put(self, name: str) -> httpx.Response:
        body = {"state": {"kind": "bloch", "data": BLOCH}, "clones": 4, "keep_reference": True}
        return self.call("PUT", f"/v1/objects/{name}", json=body)

    def crash(self, method: str, path: str, **kw) -> None:
        """A request that kills the server at its crash point: no answer, exit status 86."""
        with pytest.raises(httpx.TransportError):
            self.call(method, path, **kw)
        assert self.server.wait_exit() == CRASH_EXIT_STATUS, self.server.log.read_text()[-2000:]

    def stop(self) -> None:
        self.server.kill()


def check_retrieved_once(chain: Chain, name: str, *, acknowledged: bool = False) -> None:
    """The object's output reaches the client (unless it was acknowledged before the crash: then
    the client had it), is acknowledged, and is never decrypted twice."""
    if not acknowledged:
        first = chain.call("POST", f"/v1/objects/{name}/get", json={"key": f"check-{name}"})
        assert first.status_code == 200, (name, first.text)
        out = first.json()
        dm = np.array(out["density_matrix"]["real"]) + 1j * np.array(out["density_matrix"]["imag"])
        np.testing.assert_allclose(dm, rho(BLOCH), atol=1e-9, err_msg=name)
        assert out["fidelity"] == pytest.approx(1.0, abs=1e-9)
        ack = chain.call("POST", f"/v1/objects/{name}/ack", json={"key": f"check-{name}"})
        assert ack.status_code == 200, (name, ack.text)
    assert chain.call("GET", f"/v1/objects/{name}").json()["state"] == "retrieved"
    second = chain.call("POST", f"/v1/objects/{name}/get", content=b"{}")
    assert second.status_code == 409, (name, second.text)
    entries = [e for e in chain.call("GET", "/v1/audit-log").json()["entries"] if e["object_name"] == name]
    retrievals = [e for e in entries if e["action"] in ("get", "get.recovered")]
    assert len(retrievals) == 1, (name, [e["action"] for e in entries])
    assert [e["action"] for e in entries].count("get.ack") == 1, (name, [e["action"] for e in entries])


def substrate_extra(chain: Chain) -> tuple[int, int]:
    """(live joint states beyond the stored objects, undelivered outputs) in the substrate."""
    objects = chain.call("GET", "/v1/objects").json()["objects"]
    stored = sum(o["state"] == "stored" for o in objects)
    admin = {"authorization": f"Bearer {read_token(chain.dir, 'admin-token')}"}
    sub = httpx.get(chain.server.url + "/v1/health", headers=admin, timeout=60).json()["substrate"]
    assert sub["objects"] >= stored, (sub, [(o["name"], o["state"]) for o in objects])
    return sub["objects"] - stored, sub["outputs"]


def with_log(chain: Chain, exc: BaseException) -> AssertionError:
    """The failure with the end of the server's log (the chains run in threads)."""
    log = chain.server.log.read_text(errors="replace")[-3000:] if chain.server.log.exists() else ""
    return AssertionError(f"{type(exc).__name__}: {exc}\n--- end of {chain.server.log} ---\n{log}")


def get_chain(root: Path, steps: list[str]) -> None:
    chain = Chain(root)
    try:
        for step in steps:
            chain.start(step)
            assert chain.put(step).status_code == 201
            if step in DELIVERY_STEPS:  # the client received the output once already
                assert chain.call("POST", f"/v1/objects/{step}/get", json={"key": "first"}).status_code == 200
            if step.startswith("ack."):
                chain.crash("POST", f"/v1/objects/{step}/ack", json={"key": "first"})
            else:
                chain.crash("POST", f"/v1/objects/{step}/get", json={"key": "second" if step in DELIVERY_STEPS else "first"})
        chain.start()
        for step in steps:
            if step in REPLY_STEPS:  # the client retries with the key of the get whose reply it lost
                again = chain.call("POST", f"/v1/objects/{step}/get", json={"key": "first"})
                assert again.status_code == 200 and again.json()["fidelity"] == pytest.approx(1.0, abs=1e-9), again.text
                assert chain.call("POST", f"/v1/objects/{step}/ack", json={"key": "first"}).status_code == 200
            check_retrieved_once(chain, step, acknowledged=step.startswith("ack.") or step in REPLY_STEPS)
        assert substrate_extra(chain) == (0, 0)
    except Exception as exc:
        raise with_log(chain, exc) from exc
    finally:
        chain.stop()


def put_delete_chain(root: Path, put_steps: list[str] = PUT_STEPS, delete_steps: list[str] = DELETE_STEPS) -> int:
    """Returns the number of joint states left in the substrate for objects that are not stored."""
    chain = Chain(root)
    try:
        for step in put_steps:
            chain.start(step)
            chain.crash("PUT", f"/v1/objects/{step}",
                        json={"state": {"kind": "bloch", "data": BLOCH}, "clones": 4, "keep_reference": True})
        for step in delete_steps:
            chain.start(step)
            assert chain.put(step).status_code == 201
            chain.crash("DELETE", f"/v1/objects/{step}")
        chain.start()
        for step in put_steps:
            st = chain.call("GET", f"/v1/objects/{step}")
            if st.status_code == 404:  # the put never committed: the name is free, the put can be repeated
                assert chain.put(step).status_code == 201
            else:
                assert st.json()["state"] == "stored", (step, st.text)
            check_retrieved_once(chain, step)
        for step in delete_steps:
            assert chain.call("GET", f"/v1/objects/{step}").json()["state"] == "deleted"
            assert chain.call("POST", f"/v1/objects/{step}/get", content=b"{}").status_code == 409
        orphans, outputs = substrate_extra(chain)
        assert outputs == 0
        return orphans
    except Exception as exc:
        raise with_log(chain, exc) from exc
    finally:
        chain.stop()


@pytest.mark.slow
def test_crash_at_every_step_then_restart(tmp_path, sample):
    """Three chains side by side (the server starts dominate; the waits overlap); in ``make test``
    a sample of each chain's points (two gets, two later get or delivery steps, two puts and a delete)."""
    a = sample(GET_STEPS[:5], 2, "get")
    b = sample(GET_STEPS[5:] + REPLY_STEPS + DELIVERY_STEPS, 2, "get-late")
    puts_sampled = sample(PUT_STEPS, 2, "put")
    deletes = sample(DELETE_STEPS, 1, "delete")
    with ThreadPoolExecutor(3) as pool:
        gets = [pool.submit(get_chain, tmp_path / "a", a), pool.submit(get_chain, tmp_path / "b", b)]
        puts = pool.submit(put_delete_chain, tmp_path / "c", puts_sampled, deletes)
        for f in gets:
            f.result()
        # a put that died before its commit leaves no joint state behind: recovery destroys its parts
        assert puts.result() == 0


def test_every_crash_point_is_tested():
    here = Path(faults.__file__).parent
    source = "".join(p.read_text() for p in [*(here / "service").glob("*.py"), here / "api.py"])
    points = set(re.findall(r'crash_point\("([a-z.]+)"\)', source))
    from tests.storage.test_apply_crash import APPLY_STEPS  # logical gates: their own chain
    from tests.storage.test_batch_crash import BATCH_STEPS  # the batch put: its own chain

    assert points == set(GET_STEPS + REPLY_STEPS + DELIVERY_STEPS + PUT_STEPS + DELETE_STEPS + APPLY_STEPS
                         + BATCH_STEPS)
