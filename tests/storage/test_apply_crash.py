"""A server killed at every step of ``apply`` (a logical gate), then restarted: the gate is applied
exactly once, on every holder, and nothing is lost.

Logical H (n = 3) is its own inverse, so a gate applied twice would give back |ψ⟩ and one never
applied |ψ⟩ too: after the restart, the get must return H|ψ⟩ exactly (the settable clock never
moves: no memory noise; only the small gate noise), the audit log must show one completed ``apply`` and ``stat`` one gate.
A retry with the same idempotency key (the client's answer was lost with the process) returns the
same gate, never a second one. ``make test`` runs a seeded sample of the steps (``tests/sampling.py``);
``QCLONE_FULL=1`` (``make chaos``) every step.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qclone.protocol.logical import local_unitary

from .test_crash import BLOCH, Chain, rho, with_log

pytestmark = pytest.mark.service

APPLY_STEPS = ["apply.claim", "apply.age", "apply.start", "apply.holder", "apply.part", "apply.finish"]
#: inside the substrate's transaction that writes a holder's part (the embedded server runs it in process)
SUBSTRATE_STEPS = ["substrate.apply.tx"]


def _check_gated_once(chain: Chain, name: str) -> None:
    st = chain.call("GET", f"/v1/objects/{name}").json()
    assert st["state"] == "stored", (name, st["state"])
    assert [g["gate"] for g in st["logical"]["gates"]] == ["H"], (name, st["logical"])
    out = chain.call("POST", f"/v1/objects/{name}/get", json={"key": f"check-{name}"})
    assert out.status_code == 200, (name, out.text)
    dm = np.array(out.json()["density_matrix"]["real"]) + 1j * np.array(out.json()["density_matrix"]["imag"])
    h = local_unitary("H")
    # the server's default gate noise (the heron preset's one-qubit error on each local gate) moves the
    # output by about 1e-3; H applied twice (or never) would be |ψ⟩, at distance 0.4 from H|ψ⟩
    np.testing.assert_allclose(dm, h @ rho(BLOCH) @ h.conj().T, atol=5e-3, err_msg=name)
    assert np.abs(dm - rho(BLOCH)).max() > 0.3
    assert out.json()["fidelity"] == pytest.approx(1.0, abs=5e-3)
    assert chain.call("POST", f"/v1/objects/{name}/ack", json={"key": f"check-{name}"}).status_code == 200
    entries = [e for e in chain.call("GET", "/v1/audit-log").json()["entries"] if e["object_name"] == name]
    assert [e["action"] for e in entries].count("apply") == 1, (name, [e["action"] for e in entries])


def _one_step(root, step: str) -> None:
    """A server that dies at ``step`` while applying H, then a clean start (its start-up recovery
    finishes the gate: a crash point it passes must not end it again), then the checks."""
    chain = Chain(root)
    try:
        chain.start(step)
        body = {"state": {"kind": "bloch", "data": BLOCH}, "clones": 3, "keep_reference": True, "force": True}
        assert chain.call("PUT", f"/v1/objects/{step}", json=body).status_code == 201
        chain.crash("POST", f"/v1/objects/{step}/apply", json={"gate": "H", "key": f"k-{step}"})
        chain.start()  # the start-up recovery finishes the interrupted gate (rolling forward)
        again = chain.call("POST", f"/v1/objects/{step}/apply", json={"gate": "H", "key": f"k-{step}"})
        assert again.status_code == 200 and again.json()["complete"], (step, again.text)
        _check_gated_once(chain, step)
    except Exception as exc:
        raise with_log(chain, exc) from exc
    finally:
        chain.stop()


@pytest.mark.slow
def test_crash_at_every_step_of_apply_then_restart(tmp_path, sample):
    """One data dir per crash point (a start-up recovery passes the later points of the gate it
    finishes), three side by side: the server starts dominate. In ``make test`` three of the steps."""
    steps = sample(APPLY_STEPS + SUBSTRATE_STEPS, 3)
    with ThreadPoolExecutor(3) as pool:
        for f in [pool.submit(_one_step, tmp_path / str(i), step) for i, step in enumerate(steps)]:
            f.result()
