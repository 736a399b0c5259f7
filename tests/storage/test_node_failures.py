"""Failure is fast and visible on node calls (multi-process deployment).

A SIGSTOPped vault (the process is alive but never answers) must not stall
the gateway: ``health``, ``stat`` and ``ls`` answer at once and say the vault
is down; a get fails with 503 and a ``Retry-After`` header after one call
timeout, and every later get fails at once (the vault's circuit breaker is
open) until the vault answers again. A provider process that died shows as
``down`` in the provider listing and in health.
"""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from tests.storage.procs import Server, read_token, start_deployment

pytestmark = pytest.mark.service

#: What "at once" means here: well under the vault call timeout (3 s), with room for a loaded machine.
PROMPT = 1.5


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """One deployment for the module: the stalled vault is resumed (and answers again) before the
    first test ends, and the second test needs only its providers."""
    root = tmp_path_factory.mktemp("deployment")
    parts, client = start_deployment(root, 2)
    try:
        yield parts, client, read_token(root / "gateway"), read_token(root / "gateway", "admin-token")
    finally:
        for s in parts.values():
            if isinstance(s, Server):
                s.kill()


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0


def test_a_stalled_vault_never_blocks_health_stat_or_ls(deployment):
    parts, client, token, admin = deployment
    for name in ("a", "b", "c"):
        client.put(name, bloch=[0, 0, 1], clones=2)
    gw = parts["gateway"].url
    auth = {"authorization": f"Bearer {token}"}
    parts["vault"].send_signal(signal.SIGSTOP)
    try:
        with httpx.Client(base_url=gw, headers=auth, timeout=10) as http:
            as_admin = {"authorization": f"Bearer {admin}"}  # health's details are the operator's
            deadline = time.monotonic() + 5  # the probe cached before the stop ages out (2 s)
            while True:
                health, took = timed(lambda: http.get("/v1/health", headers=as_admin).json())
                assert took < PROMPT
                if health["vault"]["status"] == "down":
                    break
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert health["status"] == "degraded"
            for path in ("/v1/objects", "/v1/objects/a"):
                resp, took = timed(lambda p=path: http.get(p))
                assert resp.status_code == 200 and took < PROMPT
            first, took_first = timed(lambda: http.post("/v1/objects/a/get", json={}))
            assert first.status_code == 503 and int(first.headers["retry-after"]) >= 1
            assert took_first < 3.0 + PROMPT  # one vault call timeout at most
            second, took = timed(lambda: http.post("/v1/objects/b/get", json={}))
            assert second.status_code == 503 and int(second.headers["retry-after"]) >= 1
            assert took < PROMPT  # the breaker is open: no waiting
            health, took = timed(lambda: http.get("/v1/health", headers=as_admin).json())
            assert took < PROMPT and health["vault"]["status"] == "down"
    finally:
        parts["vault"].send_signal(signal.SIGCONT)
    # the vault answers again: after the cool-off a probe closes the breaker and gets work
    deadline = time.monotonic() + 20
    while True:
        try:
            out = client.get("c")
            break
        except Exception as e:  # noqa: BLE001 - 503 until the breaker's probe succeeds
            assert time.monotonic() < deadline, e
            time.sleep(0.5)
    assert out.name == "c"


def test_a_dead_provider_process_shows_down(deployment):
    parts, client, _, admin = deployment
    assert {p.id: p.node for p in client.providers()} == {"p1": "up", "p2": "up"}
    parts["p2"].kill(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while {p.id: p.node for p in client.providers()}["p2"] != "down":  # the cached probe ages out
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert {p.id: p.node for p in client.providers()}["p1"] == "up"
    health = httpx.get(parts["gateway"].url + "/v1/health", headers={"authorization": f"Bearer {admin}"},
                       timeout=10).json()
    assert health["providers"]["unreachable"] == 1 and health["status"] == "degraded"
    parts["p2"].start()
    deadline = time.monotonic() + 10
    while {p.id: p.node for p in client.providers()}["p2"] != "up":
        assert time.monotonic() < deadline
        time.sleep(0.2)
