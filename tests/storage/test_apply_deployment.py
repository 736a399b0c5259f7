"""Logical gates in a multi-process deployment: every holder is a node process that signs a one-time
receipt of its part (the substrate node applies a part only with it); a provider killed with SIGKILL
before a gate keeps its part pending (the object is ``applying``, a get is refused) and, once it is
started again, the reconciler finishes the gate, once: the output is H|ψ⟩ (H twice would be |ψ⟩)."""

from __future__ import annotations

import numpy as np
import pytest

from qclone import Client
from qclone.protocol.logical import local_unitary
from qclone.storage.errors import ConflictError
from qclone.storage.launcher import Cluster
from tests.storage.procs import until

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # a short lease: the reconciler (every 2 s) takes over a gate left pending after 2 s
    c = Cluster(tmp_path_factory.mktemp("apply"), mode="deployment", providers=3, holders=["custodian:c1"],
                extra=["--settable-clock", "--lease", "2"])
    try:
        c.up()
        yield c
    finally:
        c.down()


@pytest.fixture
def client(cluster):
    with Client(cluster.url, cluster.token(), admin_token=cluster.token("admin-token")) as c:
        yield c


def _until(check, timeout: float = 60.0):
    return until(check, timeout)


def _h_of(bloch) -> np.ndarray:
    x, y, z = bloch
    h = local_unitary("H")
    return h @ (np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2) @ h.conj().T


@pytest.mark.slow
def test_signed_parts_and_a_provider_killed_then_back(cluster, client):
    bloch = [0.6, 0.0, 0.8]
    client.put("kept", bloch=bloch, clones=3, keep_reference=True, placement="keep-A", force=True)
    done = client.apply("kept", "H")  # every holder a node: each part with its node's signed receipt
    assert done.complete and set(done.key_holders) == {"c1", "vault"}
    assert len([p for p in done.done if p.startswith("provider:")]) == 3
    out = client.get("kept")
    np.testing.assert_allclose(out.density_matrix, _h_of(bloch), atol=5e-3)  # the default gate noise only

    client.put("pend", bloch=bloch, clones=3, keep_reference=True, force=True)
    victim = client.stat("pend").placement[1].provider
    cluster.processes[victim].kill()  # SIGKILL
    try:
        half = client.apply("pend", "H", key="pend-1", retry_for=0)
        assert not half.complete and half.pending == (f"provider:{victim}",)
        assert client.stat("pend").state == "applying"
        with pytest.raises(ConflictError, match="logical gate"):
            client.get("pend")
    finally:
        cluster.restart(victim)
    st = _until(lambda: (s := client.stat("pend")).state == "stored" and s)  # the reconciler finished it
    assert st and [g["gate"] for g in st.logical_gates] == ["H"]
    assert f"provider:{victim}" in st.logical_gates[0]["parties"]
    again = client.apply("pend", "H", key="pend-1")  # the retry with the same key: that gate, not another
    assert again.complete and again.op == half.op
    out = client.get("pend")
    np.testing.assert_allclose(out.density_matrix, _h_of(bloch), atol=5e-3)
