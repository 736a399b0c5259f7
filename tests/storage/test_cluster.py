"""Several gateway processes and substrate workers racing on one PostgreSQL (a local cluster, as
``qclone cluster up`` starts it): exactly-once and nothing-lost hold across processes.

One cluster for the module, started with ``qclone cluster up`` (2 gateways, a substrate node with 2
workers, the vault, 1 provider and 2 more added through one gateway each; metadata and substrate in
a fresh PostgreSQL schema), in order:

0. a provider added through either gateway is known to the substrate (its releases are accepted);
1. every object is got through two gateways at once: one get has the state, the other a 409;
2. reconcilers in separate processes race over the same expired leases (interrupted gets and
   puts a crashed gateway left behind): each object is taken over exactly once;
3. clients put and get through both gateways while one gateway is killed -9 for good and a
   substrate worker is killed -9: every acknowledged put is retrieved exactly once, nothing is
   left unsettled (the survivor and its reconciler finish what the dead gateway started);
4. ``qclone cluster status`` reports the dead gateway, ``up`` is refused while the cluster runs,
   ``down`` stops it and ``up`` starts the same service again on the same ports with 3 gateways:
   what was stored is there, served by the new gateway too.

The long form is ``python -m qclone.storage.chaos --mode deployment --db postgresql --gateways 3
--substrate-workers 2`` (``make chaos``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qclone.storage.chaos import UNSETTLED, Ledger, database_view, is_aged_input, postgres_schema
from qclone.storage.launcher import Cluster
from tests.storage.procs import until

pytestmark = pytest.mark.service

LEASE = 2.0


def _qclone(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``qclone ARGS`` as a user runs it: its own process."""
    return subprocess.run([sys.executable, "-m", "qclone", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def cluster(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """``qclone cluster up`` (its processes outlive the command), attached to by its state file."""
    root = tmp_path_factory.mktemp("cluster")
    with postgres_schema(postgres_server) as url:
        up = _qclone("cluster", "up", "--data-dir", str(root), "--db", url, "--gateways", "2", "--substrate-workers", "2",
                     "--providers", "1", "--lease", str(LEASE), "--json")
        c = None
        try:
            assert up.returncode == 0, up.stderr
            assert json.loads(up.stdout)["gateways"] == Cluster.attach(root).urls
            c = Cluster.attach(root)
            c.db_url = url
            yield c
        finally:
            _qclone("cluster", "down", "--data-dir", str(root))
            for p in (c.processes.values() if c is not None else ()):  # nodes a test started itself
                p.kill()


def _bloch(rng: random.Random) -> list[float]:
    v = [rng.gauss(0, 1) for _ in range(3)]
    norm = sum(x * x for x in v) ** 0.5
    return [x / norm for x in v]


def _view(cluster: Cluster) -> tuple[dict[str, str], dict[str, int]]:
    states, decryptions, _ = database_view(cluster, cluster.db_url)
    return states, decryptions


def _settled(cluster: Cluster, unsettled: tuple[str, ...] = UNSETTLED, timeout: float = 30.0) -> dict[str, str]:
    """The objects' states once none is in ``unsettled`` (the reconcilers' work), or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        states, _ = _view(cluster)
        if not any(s in unsettled for s in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(0.3)


# ---------------------------------------------------------------------- 0. providers added at any gateway
def test_providers_added_through_different_gateways_are_all_known_to_the_substrate(cluster: Cluster) -> None:
    """Each gateway hands the substrate every provider of the database (not only those it added
    itself, nor only those in its copy of nodes.json): p2 is added through the first gateway after
    the second started, then p3 through the second; a get from a clone at either alone works."""
    from qclone import Client
    from qclone.storage.launcher import ServerProcess, free_port

    admin = cluster.token("admin-token")
    nodes = {pid: ServerProcess(["--role", "provider", "--id", pid, "--zone", f"zone-{pid}", "--data-dir",
                                 str(cluster.root / pid)], free_port(), cluster.root / f"{pid}.log", name=pid)
             for pid in ("p2", "p3")}
    for node in nodes.values():
        node.start(wait=False)
    cluster.processes.update(nodes)  # stopped with the cluster
    for node in nodes.values():
        node.wait_healthy()
    for pid, url in zip(nodes, cluster.urls, strict=True):  # p2 through the first gateway, p3 through the second
        with Client(url, cluster.token(), admin_token=admin) as c:
            c.add_provider(pid, url=nodes[pid].url, join=(cluster.root / pid / "join-token").read_text().strip())
    everyone = ("p1", "p2", "p3")
    for only, url in (("p2", cluster.urls[1]), ("p3", cluster.urls[0])):  # each got through the other gateway
        with Client(url, cluster.token(), admin_token=admin) as c:
            c.put(f"at-{only}", bloch=[0, 1, 0], clones=3)  # a clone at every provider
            for other in everyone:
                if other != only:
                    c.kill_provider(other)
            out = c.get(f"at-{only}")  # the one clone left is at the new provider: its release is checked
            assert out.provider == only and is_aged_input(np.asarray(out.density_matrix), [0, 1, 0])
            for other in everyone:
                if other != only:
                    c.revive_provider(other)


# ---------------------------------------------------------------------- 1. two gets at once
def test_each_object_got_through_two_gateways_at_once_is_decrypted_once(cluster: Cluster) -> None:
    from qclone import Client
    from qclone.storage.errors import ConflictError

    rng = random.Random(1)
    token = cluster.token()
    a, b = cluster.urls
    names = [f"twice-{i}" for i in range(4)]
    inputs = {}
    for i, name in enumerate(names):  # stored through one gateway or the other
        inputs[name] = _bloch(rng)
        with Client(cluster.urls[i % 2], token) as c:
            c.put(name, bloch=inputs[name], clones=2)
    outcomes: dict[str, list[Any]] = {name: [] for name in names}

    def get(url: str, name: str, start: threading.Barrier) -> None:
        with Client(url, token, retry_for=0) as c:
            start.wait()
            try:
                outcomes[name].append(c.get(name))
            except ConflictError as e:
                outcomes[name].append(e)

    for name in names:
        start = threading.Barrier(2)
        threads = [threading.Thread(target=get, args=(url, name, start)) for url in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    for name, got in outcomes.items():
        states = [o for o in got if not isinstance(o, Exception)]
        refused = [o for o in got if isinstance(o, ConflictError)]
        assert len(states) == 1 and len(refused) == 1, (name, got)
        assert refused[0].http_status == 409
        assert is_aged_input(np.asarray(states[0].density_matrix), inputs[name]), name
    states, decryptions = _view(cluster)
    assert all(states[n] == "retrieved" and decryptions[n] == 1 for n in names), (states, decryptions)


# ---------------------------------------------------------------------- 2. reconcilers racing
class Crash(BaseException):
    """A simulated crash of the gateway in this process: skips every clean-up, as kill -9 would."""


#: Where a gateway is left dead, and what the recovery must then decide.
STUCK = {"get.claim": "get.rollback", "get.decrypt": "get.recovered", "put.place": "put.abandoned"}
#: Every decision a recovery writes to the audit log about an interrupted get or put.
DECISIONS = ("get.rollback", "get.recovered", "put.abandoned", "object.lost")

RACER = """
import json, sys, time
from pathlib import Path
from qclone.storage.server import ServeOptions, build_service
opts = ServeOptions(role="gateway", data_dir=Path(sys.argv[1]), db_url=sys.argv[2], substrate_url=sys.argv[3],
                    vault_url=sys.argv[4]).checked()
service = build_service(opts, recover=False)
print("ready", flush=True)
sys.stdin.readline()  # every racer starts at the same instant
print(json.dumps(service.recover(expired_only=True)), flush=True)
"""


def _gateway_dir(cluster: Cluster, name: str) -> Path:
    from qclone.storage.server import copy_gateway_files

    d = cluster.root / name
    copy_gateway_files(cluster.data_dir, d)  # a new gateway: the shared files, nothing else
    return d


def test_reconcilers_in_separate_processes_take_over_each_interrupted_operation_once(cluster: Cluster,
                                                                                       monkeypatch) -> None:
    from sqlalchemy import update

    from qclone.storage import faults
    from qclone.storage.db import db_now
    from qclone.storage.inputs import parse_state
    from qclone.storage.models import objects
    from qclone.storage.server import ServeOptions, build_service

    sub, vault = cluster.processes["substrate"].url, cluster.processes["vault"].url
    # leases long enough that no reconciler takes anything over before the racers below are ready
    opts = ServeOptions(role="gateway", data_dir=_gateway_dir(cluster, "crashing"), db_url=cluster.db_url,
                        substrate_url=sub, vault_url=vault, lease_seconds=600).checked()
    # two more gateways' reconcilers, each its own process (started now: they take a while to start), will
    # start their recovery together the moment the leases end
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(_gateway_dir(cluster, f"racer-{r}")), str(cluster.db_url),
                                sub, vault], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
              for r in (1, 2)]
    try:
        service = build_service(opts, recover=False)  # a gateway in this process, "killed" at a step of each call
        tenant = service.authenticate(cluster.token())
        expected: dict[str, str] = {}
        ids: dict[str, str] = {}
        crash_at: list[str] = []

        def point(name: str) -> None:
            if name in crash_at:
                raise Crash(name)

        monkeypatch.setattr(faults, "crash_point", point)
        for step, decision in STUCK.items():
            for i in range(3):
                name = f"race-{step}-{i}"
                try:
                    if step.startswith("put"):
                        crash_at[:] = [step]
                        service.put(tenant, name, parse_state("bloch", [1, 0, 0]), clones=2)
                    else:
                        crash_at[:] = []
                        ids[name] = service.put(tenant, name, parse_state("bloch", [1, 0, 0]), clones=2,
                                                keep_reference=True)["object_id"]
                        crash_at[:] = [step]
                        service.get(tenant, name, key=uuid.uuid4().hex)
                except Crash:
                    expected[name] = decision
                else:
                    pytest.fail(f"{name}: the crash point {step} was not reached")
        crash_at[:] = []
        for r in racers:
            assert r.stdout is not None and r.stdout.readline().strip() == "ready", r.communicate(timeout=60)[1][-2000:]
        with service.db.write() as conn:  # the leases end now, on the database's clock
            conn.execute(update(objects).where(objects.c.lease_until.is_not(None), objects.c.state.in_(
                ("storing", "retrieving"))).values(lease_until=db_now() - 1))
        counts = []
        for r in racers:
            assert r.stdin is not None
            r.stdin.write("go\n")
            r.stdin.flush()
        for r in racers:
            out, err = r.communicate(timeout=120)
            assert r.returncode == 0, err[-2000:]
            counts.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for r in racers:
            if r.poll() is None:
                r.kill()
                r.wait()
    states = _settled(cluster, ("storing", "retrieving"))
    from sqlalchemy import select

    from qclone.storage.db import Database
    from qclone.storage.models import audit_log

    db = Database.open(cluster.db_url, migrate=False)
    try:
        with db.read() as conn:
            rows = conn.execute(select(audit_log.c.action, audit_log.c.object_name, audit_log.c.object_id, audit_log.c.detail)
                                .where(audit_log.c.action.in_(DECISIONS))).all()
    finally:
        db.dispose()
    by_name = {name: [r.action for r in rows if r.object_name == name or (name in ids and r.object_id == ids[name])]
               for name in expected}
    assert by_name == {name: [decision] for name, decision in expected.items()}, by_name  # one decision each
    # the racers (and the cluster's own gateways, which reconcile too) decided each object once between them
    decided = {"get.rollback": "rolled_back", "get.recovered": "completed", "put.abandoned": "abandoned"}
    for decision, key in decided.items():
        assert sum(c[key] for c in counts) <= sum(1 for d in expected.values() if d == decision), counts
    # (which of the four reconcilers wins each object depends on the scheduling: not asserted)
    for name, decision in expected.items():
        if decision == "put.abandoned":
            assert name not in states  # the reservation is gone; nothing was acknowledged
        elif decision == "get.rollback":
            assert states[name] == "stored"
        else:
            assert states[name] == "delivering"  # the output waits for its get
    from qclone import Client

    with Client(cluster.urls[1], cluster.token()) as c:  # each decrypted once, delivered once
        for name, decision in expected.items():
            if decision != "put.abandoned":
                out = c.get(name)
                assert is_aged_input(np.asarray(out.density_matrix), [1, 0, 0]), name
    _, decryptions = _view(cluster)
    assert all(decryptions.get(n, 0) == 1 for n, d in expected.items() if d != "put.abandoned"), decryptions
    service.close()
    service.db.dispose()


# ---------------------------------------------------------------------- 3. kill -9 in the middle
class _Ledger(Ledger):
    """The chaos run's ledger, with each acknowledged put's key (to finish its get after the kills)."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, str] = {}


def _through_any(urls: list[str], token: str, first: int, call: Any, patience: float = 60.0,
                 resend: bool = True) -> Any:
    """``call(client)`` through the gateways in turn from ``urls[first]``: one that cannot be reached
    (killed) is left for the next; with ``resend`` also one that answers 503 or breaks off (the same
    call, a get with the same key, is sent again), else only a call that was never sent is."""
    import httpx

    from qclone import Client
    from qclone.storage.errors import UnavailableError

    deadline = time.monotonic() + patience
    k = first
    while True:
        with Client(urls[k % len(urls)], token, retry_for=0, timeout=30) as c:
            try:
                return call(c)
            except UnavailableError as e:
                if not (resend or isinstance(e.__cause__, httpx.ConnectError)) or time.monotonic() > deadline:
                    raise
        k += 1
        time.sleep(0.05)


def _client(urls: list[str], token: str, w: int, ledger: _Ledger, stop: threading.Event) -> None:
    from qclone.storage.errors import ConflictError, UnavailableError

    rng = random.Random(w)
    i = 0
    while not stop.is_set():
        i += 1
        name, key = f"kill-{w}-{i}", uuid.uuid4().hex
        bloch = _bloch(rng)
        with ledger.lock:
            ledger.inputs[name] = bloch
        try:  # a put is sent once: without an answer it may or may not have committed (not acknowledged)
            _through_any(urls, token, w + i, lambda c: c.put(name, bloch=bloch, clones=2), resend=False)
        except (UnavailableError, ConflictError):
            with ledger.lock:
                ledger.unanswered.add(name)
            continue
        with ledger.lock:
            ledger.acknowledged.add(name)
            ledger.keys[name] = key
        try:  # the get through the other gateway, retried with its key wherever it can be
            out = _through_any(urls, token, w + i + 1, lambda c: c.get(name, key=key, ack=False))
            with ledger.lock:
                ledger.attempts.setdefault(name, set()).add(str(out.attempt))
                ledger.received[name] = np.asarray(out.density_matrix)
            _through_any(urls, token, w + i, lambda c: c.ack(name, key))
            with ledger.lock:
                ledger.acked.add(name)
        except (UnavailableError, ConflictError):
            pass  # settled in the final pass


def test_kill_9_of_a_gateway_and_a_substrate_worker_loses_nothing_and_decrypts_nothing_twice(cluster: Cluster) -> None:
    token = cluster.token()
    urls = cluster.urls
    ledger = _Ledger()
    stop = threading.Event()
    clients = [threading.Thread(target=_client, args=(urls, token, w, ledger, stop), daemon=True) for w in range(4)]
    for t in clients:
        t.start()

    def acknowledged() -> int:
        with ledger.lock:
            return len(ledger.acknowledged)

    def wait_for(n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while acknowledged() < n and time.monotonic() < deadline:
            time.sleep(0.05)

    wait_for(4)
    cluster.processes["gateway-2"].kill(signal.SIGKILL)  # for good: the survivor finishes its work
    wait_for(acknowledged() + 4)
    workers = cluster.processes["substrate"].worker_pids()
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)  # one substrate worker; uvicorn starts another
    wait_for(acknowledged() + 4)
    stop.set()
    for t in clients:
        t.join(120)
    survivors = [u for u, name in zip(urls, cluster.gateway_names, strict=True) if cluster.processes[name].running]
    assert survivors == [urls[0]]
    from qclone.storage.errors import ConflictError, NotFoundError

    for name in sorted(ledger.acknowledged - ledger.acked):  # what the clients could not finish: with its key
        key = ledger.keys[name]
        out = _through_any(survivors, token, 0, lambda c, name=name, key=key: c.get(name, key=key, ack=False))
        ledger.attempts.setdefault(name, set()).add(str(out.attempt))
        ledger.received[name] = np.asarray(out.density_matrix)
        _through_any(survivors, token, 0, lambda c, name=name, key=key: c.ack(name, key))
        ledger.acked.add(name)
    for name in sorted(ledger.unanswered):  # committed or not: either is fine; the committed ones are taken out
        try:
            _through_any(survivors, token, 0, lambda c, name=name: c.get(name))
        except (ConflictError, NotFoundError):
            pass
    states = _settled(cluster)
    _, decryptions = _view(cluster)
    assert len(ledger.acknowledged) >= 12
    for name in ledger.acknowledged:
        assert decryptions.get(name) == 1 and len(ledger.attempts[name]) == 1, (name, decryptions.get(name))
        assert states[name] == "retrieved" and name in ledger.acked, (name, states[name])
        assert is_aged_input(ledger.received[name], ledger.inputs[name]), name
    assert not [n for n, s in states.items() if s in UNSETTLED], states
    # the substrate node replaced the killed worker (uvicorn's supervisor; a new worker takes seconds to start)
    assert until(lambda: len(cluster.processes["substrate"].worker_pids()) == 2, timeout=90)


# ---------------------------------------------------------------------- 4. status, down, up again
def test_status_down_and_up_again_with_another_number_of_gateways(cluster: Cluster) -> None:
    from qclone import Client

    root = str(cluster.root)
    assert until(lambda: len(cluster.processes["substrate"].worker_pids()) == 2, timeout=90)
    status = _qclone("cluster", "status", "--data-dir", root, "--json")
    report = json.loads(status.stdout)
    assert status.returncode == 1 and report["healthy"] is False  # gateway-2 was killed for good above
    assert report["processes"]["gateway-2"]["running"] is False
    assert report["processes"]["gateway"]["healthy"] and report["processes"]["substrate"]["workers"] == 2
    again = _qclone("cluster", "up", "--data-dir", root, "--providers", "1")
    assert again.returncode == 2 and "is running" in again.stderr
    with Client(cluster.urls[0], cluster.token()) as c:
        c.put("kept", bloch=[0, 0, 1], clones=2)
    down = _qclone("cluster", "down", "--data-dir", root, "--json")
    assert down.returncode == 0 and "gateway-2" not in json.loads(down.stdout)["stopped"]
    assert _qclone("cluster", "status", "--data-dir", root).returncode == 1
    up = _qclone("cluster", "up", "--data-dir", root, "--db", str(cluster.db_url), "--gateways", "3",
                 "--substrate-workers", "2", "--providers", "1", "--lease", str(LEASE), "--json")
    assert up.returncode == 0, up.stderr
    doc = json.loads(up.stdout)
    assert doc["gateways"][:2] == cluster.urls and len(doc["gateways"]) == 3
    assert _qclone("cluster", "status", "--data-dir", root).returncode == 0
    assert sorted(p.name for p in (cluster.root / "gateway-3").iterdir()) == ["admin-token", "gateway-key", "nodes.json",
                                                                              "token", "ui-secret"]
    with Client(doc["gateways"][2], cluster.token()) as c:  # the new gateway serves what was stored before
        assert is_aged_input(np.asarray(c.get("kept").density_matrix), [0, 0, 1])
        assert c.stat("twice-0").state == "retrieved"
