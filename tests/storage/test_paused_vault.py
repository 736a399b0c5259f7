"""A vault paused (SIGSTOP) in the middle of a get, past the lease, then resumed: the object is
never stuck, never decrypted twice, and the next get receives it (a multi-process deployment)."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from qclone.storage.client import Client
from qclone.storage.errors import ConflictError, UnavailableError
from qclone.storage.launcher import Cluster

pytestmark = pytest.mark.service


def test_a_get_that_outlives_its_lease_leaves_nothing_stuck(tmp_path) -> None:
    cluster = Cluster(tmp_path, mode="deployment", providers=2, extra=["--lease", "1.5"]).up()
    try:
        c = Client(cluster.url, cluster.token(), retry_for=0.0)
        c.put("paused", bloch=[0.0, 0.6, 0.8], clones=2, keep_reference=True)
        vault = cluster.processes["vault"]
        vault.kill(signal.SIGSTOP)
        outcome: dict = {}

        def stalled_get() -> None:
            try:
                outcome["out"] = Client(cluster.url, cluster.token(), timeout=120.0, retry_for=0.0).get("paused")
            except (ConflictError, UnavailableError) as e:
                outcome["error"] = e

        t = threading.Thread(target=stalled_get)
        t.start()
        time.sleep(4.0)  # the lease (1.5 s of the database's clock) ends; the reconciler takes over
        vault.kill(signal.SIGCONT)
        t.join(120)
        assert not t.is_alive()
        deadline = time.monotonic() + 60
        out = outcome.get("out")
        while out is None and time.monotonic() < deadline:  # the tenant asks again until it answers
            try:
                out = c.get("paused")
            except (ConflictError, UnavailableError) as e:
                if "already retrieved" in str(e) or "lost" in str(e):
                    raise
                time.sleep(0.5)
        assert out is not None and out.fidelity > 0.99
        assert c.stat("paused").state == "retrieved"
        with pytest.raises(ConflictError, match="already retrieved"):
            c.get("paused")
        actions = [e.action for e in c.audit_log() if e.object_name == "paused"]
        assert actions.count("get") + actions.count("get.recovered") == 1, actions
        assert actions.count("get.ack") == 1, actions
    finally:
        cluster.down()
