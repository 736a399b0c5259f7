"""The ports and the one RPC layer: local and remote implementations agree with the ports;
the circuit breaker; a remote node that is down fails fast and shows as down."""

from __future__ import annotations

import inspect
import socket

import pytest

from qclone.storage import remote
from qclone.storage.errors import UnavailableError
from qclone.storage.ports import (
    PORTS,
    ProviderPort,
    SubstratePort,
    VaultPort,
    node_statuses,
    port_methods,
)
from qclone.storage.provider import ProviderNode
from qclone.storage.rpc.breaker import CircuitBreaker
from qclone.storage.rpc.codec import CODECS
from qclone.storage.rpc.keys import Identity
from qclone.storage.substrate import Substrate
from qclone.storage.vault import KeyVault

LOCAL = {"substrate": lambda: Substrate(None), "vault": lambda: KeyVault(None),
         "provider": lambda: ProviderNode("p", None)}
REMOTE = {"substrate": remote.RemoteSubstrate, "vault": remote.RemoteVault, "provider": remote.RemoteProvider}


def _params(fn) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values() if p.name != "self"]


@pytest.mark.parametrize("role", list(PORTS))
def test_local_and_remote_implement_the_port(role):
    port = PORTS[role]
    local = LOCAL[role]()
    assert isinstance(local, port)
    for name in (*port_methods(port), "health"):
        assert _params(getattr(local, name)) == _params(getattr(port, name)), (role, name)
        assert _params(getattr(REMOTE[role], name)) == _params(getattr(port, name)), (role, name)
    assert set(CODECS[role]) <= set(port_methods(port))  # no codec for a method the port lacks


def test_the_ports_methods():
    assert port_methods(SubstratePort) == ("create", "create_many", "exists", "age", "peek", "fence", "decrypt",
                                           "recover", "holders", "assign", "output", "sample", "release", "discard",
                                           "discard_many", "apply", "gate_state")
    assert port_methods(VaultPort) == ("deposit", "deposit_many", "release", "consume", "restore", "state", "destroy",
                                       "destroy_many", "apply")
    assert port_methods(ProviderPort) == ("store", "store_many", "release", "discard", "discard_many", "holding",
                                          "records", "apply")


def test_breaker_opens_fails_fast_and_probes(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("qclone.storage.rpc.breaker.time.monotonic", lambda: now[0])
    b = CircuitBreaker("vault", threshold=3, cooloff=5.0)
    for _ in range(2):
        b.before()
        b.failure()
    assert b.state == "closed"
    b.failure()
    assert b.state == "open"
    with pytest.raises(UnavailableError) as err:
        b.before()
    assert err.value.retry_after == pytest.approx(5.0)
    now[0] += 5.0
    assert b.state == "half-open"
    b.before()  # the probe goes through ...
    with pytest.raises(UnavailableError):
        b.before()  # ... the others still fail at once
    b.failure()  # the probe failed: open again for a whole cool-off
    assert b.state == "open"
    now[0] += 5.0
    b.before()
    b.success()
    assert b.state == "closed"
    b.before()
    b.failure(trip=True)  # a timeout opens it at once
    assert b.state == "open"


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed


def test_a_dead_node_fails_fast_and_shows_down(monkeypatch):
    node = remote.RemoteVault(_dead_url(), identity=Identity.generate(), node_key=Identity.generate().key_id)
    sent = []
    real = node._exchange
    monkeypatch.setattr(node, "_exchange", lambda *a: sent.append(a) or real(*a))
    for _ in range(3):
        with pytest.raises(UnavailableError, match="unreachable"):
            node.state("obj")
    assert len(sent) == 3 and node.breaker.state == "open"
    with pytest.raises(UnavailableError, match="circuit open") as err:
        node.release("obj", "a1")
    assert len(sent) == 3  # not sent at all
    assert err.value.retry_after is not None and err.value.retry_after > 0
    status = node.status(wait=0.5)
    assert status["status"] == "down"
    assert node_statuses([node, KeyVault(None)], wait=0.5)[0]["status"] == "down"
    assert node_statuses([node, KeyVault(None)], wait=0.5)[1]["status"] == "ok"
