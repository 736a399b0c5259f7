"""The chaos run: kill -9 of random processes at random moments during a stream of puts and gets.

Clients (threads, each with its own :class:`~qclone.Client`) put one-qubit states and get them
back, each get with an idempotency key, retried with that key while the server cannot be
reached, then acknowledged. Meanwhile a killer sends SIGKILL to a random process of the
service (the embedded server; or the substrate, the vault, a provider or the gateway of a
deployment) and starts it again. At the end every process is up again, every object whose put
was acknowledged and whose output the client has not yet received is fetched, and the figures
are counted from what the clients received and from the audit log:

* ``acknowledged puts``: puts answered 201;
* ``retrieved exactly once``: acknowledged puts whose output reached the client, equal to the
  input, from one decryption (one ``get``/``get.recovered`` audit entry, one attempt seen);
* ``lost``: acknowledged puts that could not be retrieved (or came back wrong);
* ``decrypted twice``: objects with more than one decryption entry or attempt;
* ``stuck``: objects left in ``storing``, ``retrieving`` or ``delivering`` at the end;
* ``recovered without the vault``: gets that recovered from another authorized set of holders
  while the vault was down (``keep-A``: the custodian with every provider).

With ``--gateways G`` (a deployment on PostgreSQL) the clients spread over G gateway processes
(``gateway``, ``gateway-2``, ...), each one killed in turn like any other process; with
``--substrate-workers S`` the substrate node runs S worker processes and the killer also picks
``substrate-worker``: one worker killed -9, which the node replaces (the node itself is not restarted).

With ``--placement keep-A`` (or ``split-key``) every object keeps ``A`` with a custodian (or
splits its key over two vaults); in a deployment that holder is one more node process the killer
picks from, and a get while the vault (or a vault) is down recovers from the holders that are up.

Run: ``python -m qclone.storage.chaos --kills 100 [--mode embedded|deployment] [--db URL] [--placement P]
[--gateways G] [--substrate-workers S]``
(``make chaos`` runs the long form on SQLite and PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qclone.errors import QcloneError
from qclone.storage.launcher import Cluster
from qclone.storage.results import Retrieved

__all__ = ["ChaosReport", "Ledger", "database_view", "is_aged_input", "run"]

#: States an object must not be left in.
UNSETTLED = ("storing", "retrieving", "delivering")


@dataclass
class ChaosReport:
    mode: str
    database: str
    placement: str = "today"
    gateways: int = 1
    substrate_workers: int = 1
    kills: int = 0
    killed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    acknowledged_puts: int = 0
    unanswered_puts: int = 0
    refused_puts: int = 0
    retrieved_exactly_once: int = 0
    lost: int = 0
    decrypted_twice: int = 0
    stuck: int = 0
    without_vault: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.decrypted_twice == 0 and self.stuck == 0 and \
            self.retrieved_exactly_once == self.acknowledged_puts

    def lines(self) -> list[str]:
        shape = "" if self.gateways == 1 and self.substrate_workers == 1 else \
            f" ({self.gateways} gateways, {self.substrate_workers} substrate workers)"
        return [f"chaos run: {self.mode}{shape} on {self.database}, placement {self.placement}, {self.kills} kills "
                f"({', '.join(f'{k} {v}' for k, v in sorted(self.killed.items()))}) in {self.seconds:.0f} s",
                f"  acknowledged puts       {self.acknowledged_puts}",
                f"  retrieved exactly once  {self.retrieved_exactly_once}",
                f"  lost                    {self.lost}",
                f"  decrypted twice         {self.decrypted_twice}",
                f"  stuck                   {self.stuck}",
                f"  recovered without vault {self.without_vault} (the vault was down: another authorized set)",
                f"  puts without an answer  {self.unanswered_puts} (the kill came first; not acknowledged)",
                f"  puts refused (503)      {self.refused_puts} (a node was down)"]


def is_aged_input(rho: np.ndarray, bloch: list[float]) -> bool:
    """Whether ``rho`` is the pure input of Bloch vector ``bloch`` after memory noise: a Pauli
    channel close to the identity, which shrinks each Bloch component by its own factor in (0, 1]
    (the same factor for all three when the decryption is the protocol's own and T1 = T2; a
    recovery from another set maps the stored qubits' channels onto other Paulis of the output)."""
    r = np.array([2 * rho[1, 0].real, 2 * rho[1, 0].imag, (rho[0, 0] - rho[1, 1]).real])
    b = np.asarray(bloch, dtype=float)
    for ri, bi in zip(r, b):
        if abs(bi) < 1e-6:
            if abs(ri) > 1e-6:
                return False
        elif not 0.0 < ri / bi <= 1.0 + 1e-9:
            return False
    return True


class Ledger:
    """What the clients saw, per object name."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inputs: dict[str, list[float]] = {}
        self.acknowledged: set[str] = set()
        self.unanswered: set[str] = set()
        self.refused = 0
        self.attempts: dict[str, set[str]] = {}
        self.received: dict[str, np.ndarray] = {}
        self.acked: set[str] = set()
        self.problems: list[str] = []

    def note(self, name: str, out: Retrieved) -> None:
        with self.lock:
            self.attempts.setdefault(name, set()).add(str(out.attempt))
            self.received[name] = np.asarray(out.density_matrix, dtype=complex)


def _client_loop(url: str, token: str, worker: int, ledger: Ledger, stop: threading.Event, rng: random.Random,
                 patience: float, placement: str | None = None) -> None:
    from qclone.storage.client import Client
    from qclone.storage.errors import UnavailableError

    with Client(url, token, timeout=30.0, retry_for=patience) as c:
        i = 0
        while not stop.is_set():
            i += 1
            name = f"c{worker}-{i}"
            v = [rng.gauss(0, 1) for _ in range(3)]
            norm = sum(x * x for x in v) ** 0.5
            bloch = [x / norm for x in v]
            with ledger.lock:
                ledger.inputs[name] = bloch
            try:
                _put_when_up(c, name, bloch, stop, placement)
            except UnavailableError as e:
                with ledger.lock:
                    if e.__cause__ is None:  # the gateway answered 503 (a node is down): not stored
                        ledger.refused += 1
                    else:  # sent, no answer: the put may or may not have committed
                        ledger.unanswered.add(name)
                time.sleep(0.1)
                continue
            except QcloneError as e:
                with ledger.lock:
                    ledger.problems.append(f"put {name}: {type(e).__name__}: {e}")
                continue
            with ledger.lock:
                ledger.acknowledged.add(name)
            key = uuid.uuid4().hex
            try:
                out = c.get(name, key=key, ack=False)
                ledger.note(name, out)
                c.ack(name, str(out.key))
                with ledger.lock:
                    ledger.acked.add(name)
            except QcloneError as e:  # settled in the final pass
                with ledger.lock:
                    ledger.problems.append(f"get {name} (during the run): {type(e).__name__}: {e}")


def database_view(cluster: Cluster, db_url: str | None) -> tuple[dict[str, str], dict[str, int], int]:
    """(object name -> state, object name -> decryption entries in the audit log, how many of those
    recovered without the vault), read from the metadata database itself (every object, however many)."""
    from sqlalchemy import func, select

    from qclone.storage.db import Database
    from qclone.storage.models import audit_log, objects

    db = Database.open(db_url, data_dir=cluster.data_dir, migrate=False)
    try:
        with db.read() as conn:
            states = {r.name: r.state for r in conn.execute(select(objects.c.name, objects.c.state))}
            decryptions = {r.object_name: int(r.n) for r in conn.execute(
                select(audit_log.c.object_name, func.count().label("n"))
                .where(audit_log.c.action.in_(("get", "get.recovered"))).group_by(audit_log.c.object_name))}
            details = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "get")).scalars().all()
    finally:
        db.dispose()
    without = sum(1 for d in details if isinstance(d, dict) and d.get("holders") is not None
                  and "vault" not in d["holders"])
    return states, decryptions, without


def _put_when_up(c: Any, name: str, bloch: list[float], stop: threading.Event, placement: str | None = None) -> None:
    """The put, sent once the server accepts connections (a refused connection sent nothing)."""
    import httpx

    from qclone.storage.errors import UnavailableError

    while True:
        try:
            c.put(name, bloch=bloch, keep_reference=True, **({} if placement is None else {"placement": placement}))
            return
        except UnavailableError as e:
            if not isinstance(e.__cause__, httpx.ConnectError) or stop.is_set():
                raise
            time.sleep(0.1)


#: Key holders a placement needs beside the vault (in a deployment: node processes, killed too).
PLACEMENT_HOLDERS = {"today": [], "keep-A": ["custodian:c1"], "split-key": ["vault:v2"]}


def run(root: Path, *, mode: str = "embedded", db_url: str | None = None, kills: int = 5, clients: int = 3,
        seed: int = 0, gap: tuple[float, float] = (0.2, 1.5), lease: float = 3.0, patience: float = 120.0,
        log: Any = print, placement: str = "today", targets: list[str] | None = None, gateways: int = 1,
        substrate_workers: int = 1) -> ChaosReport:
    """One chaos run in ``root`` (see the module docstring); returns its figures.

    ``placement``: every object's (:data:`PLACEMENT_HOLDERS` says which holders the cluster then
    runs: ``keep-A`` a custodian ``c1``, ``split-key`` a second vault ``v2``); ``targets``: the
    processes to kill, in a random order, cycled (default: any process, at random); ``gateways``,
    ``substrate_workers``: the deployment's (see the module docstring)."""
    from qclone.storage.client import Client
    from qclone.storage.errors import ConflictError

    rng = random.Random(seed)
    report = ChaosReport(mode=mode, database="PostgreSQL" if db_url and db_url.startswith("postgres") else "SQLite",
                         placement=placement, gateways=gateways, substrate_workers=substrate_workers)
    if placement not in PLACEMENT_HOLDERS:
        raise ValueError(f"placement is one of {', '.join(PLACEMENT_HOLDERS)}, got {placement!r}")
    cluster = Cluster(root, mode=mode, db_url=db_url, extra=["--lease", str(lease)],
                      holders=PLACEMENT_HOLDERS[placement], gateways=gateways, substrate_workers=substrate_workers).up()
    t0 = time.monotonic()
    try:
        token = cluster.token()
        ledger = Ledger()
        stop = threading.Event()
        threads = [threading.Thread(target=_client_loop, args=(cluster.urls[w % len(cluster.urls)], token, w, ledger, stop,
                                                               random.Random(seed * 1000 + w), patience,
                                                               None if placement == "today" else placement), daemon=True)
                   for w in range(clients)]
        for t in threads:
            t.start()
        roles = list(cluster.processes) + (["substrate-worker"] if substrate_workers > 1 else [])
        order = list(targets or [])
        unknown = sorted(set(order) - set(roles))
        if unknown:
            raise ValueError(f"no process {', '.join(unknown)} to kill; the processes are {', '.join(roles)}")
        rng.shuffle(order)
        for k in range(kills):
            time.sleep(rng.uniform(*gap))
            role = order[k % len(order)] if order else rng.choice(roles)
            if role == "substrate-worker":  # one worker; the node starts another in its place
                node = cluster.processes["substrate"]
                workers = node.worker_pids()
                if workers:
                    os.kill(rng.choice(workers), signal.SIGKILL)
                deadline = time.monotonic() + 30
                while len(node.worker_pids()) < substrate_workers and time.monotonic() < deadline:
                    time.sleep(0.05)
            else:
                cluster.processes[role].kill(signal.SIGKILL)
                cluster.restart(role)
            report.killed[role] = report.killed.get(role, 0) + 1
            report.kills += 1
            if log is not None and (k + 1) % 10 == 0:
                log(f"  {k + 1} kills, {len(ledger.acknowledged)} acknowledged puts so far")
        time.sleep(rng.uniform(*gap))
        stop.set()
        for t in threads:
            t.join(patience + 60)
        # the final pass: every acknowledged put whose output the client does not hold is fetched
        with Client(cluster.url, token, timeout=30.0, retry_for=patience) as c:
            for name in sorted(ledger.acknowledged - ledger.acked):
                try:  # not received, or received but not acknowledged: a get (re)collects the waiting output
                    out = c.get(name, ack=False)
                    ledger.note(name, out)
                    c.ack(name, str(out.key))
                    ledger.acked.add(name)
                except ConflictError as e:
                    ledger.problems.append(f"get {name} (final): {e}")
            for name in sorted(ledger.unanswered):  # committed or not: either is fine; clean up the committed ones
                try:
                    c.get(name)
                except QcloneError:
                    pass
        objects, decryptions, report.without_vault = database_view(cluster, db_url)
        report.acknowledged_puts = len(ledger.acknowledged)
        report.unanswered_puts = len(ledger.unanswered)
        report.refused_puts = ledger.refused
        for name in ledger.acknowledged:
            twice = decryptions.get(name, 0) > 1 or len(ledger.attempts.get(name, ())) > 1
            got = ledger.received.get(name)
            right = got is not None and is_aged_input(got, ledger.inputs[name])
            report.decrypted_twice += twice
            if objects.get(name) in UNSETTLED:
                report.stuck += 1
            elif not right or name not in ledger.acked:
                report.lost += 1
                why = "never received" if got is None else "not acknowledged" if name not in ledger.acked else \
                    f"wrong: {np.round(got, 4).tolist()} for the input {ledger.inputs[name]}"
                ledger.problems.append(f"{name}: {objects.get(name)}, output {why}")
            elif not twice and decryptions.get(name, 0) == 1 and objects.get(name) == "retrieved":
                report.retrieved_exactly_once += 1
        report.stuck += sum(1 for n, s in objects.items() if s in UNSETTLED and n not in ledger.acknowledged)
        report.problems = ledger.problems[:50]
    finally:
        report.seconds = time.monotonic() - t0
        cluster.down()
    return report


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """A URL of ``server_url`` whose search path is a fresh schema, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(server_url)
    schema = f"qclone_chaos_{uuid.uuid4().hex[:12]}"

    def connect() -> Any:
        return psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                               password=u.password, dbname=u.database or "postgres", autocommit=True)

    with connect() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in server_url else "?"
        yield f"{server_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


#: The PostgreSQL server ``--db postgresql`` uses (a fresh schema in it).
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--mode", choices=("embedded", "deployment"), default="embedded")
    ap.add_argument("--db", default=None, help="metadata database: a URL, or 'postgresql' for a fresh schema on "
                    f"$QCLONE_TEST_DATABASE_URL (default {DEFAULT_PG}); default: a SQLite file")
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--targets", default=None, help="the processes to kill, comma-separated (e.g. vault,c1,p1), "
                    "cycled in a random order; default: any process, at random")
    ap.add_argument("--placement", choices=tuple(PLACEMENT_HOLDERS), default="today",
                    help="every object's placement (keep-A: a custodian c1; split-key: a second vault v2)")
    ap.add_argument("--gateways", type=int, default=1, help="gateway processes (more than one: --db postgresql)")
    ap.add_argument("--substrate-workers", type=int, default=1, help="worker processes of the substrate node "
                    "(more than one: --db postgresql)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    ap.add_argument("--keep", default=None, help="keep the data and logs in this directory")
    args = ap.parse_args(argv)
    # SIGTERM ends the run through its clean-up (every process of the cluster is killed)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="qclone-chaos-"))
    with (postgres_schema(os.environ.get("QCLONE_TEST_DATABASE_URL", DEFAULT_PG)) if args.db == "postgresql"
          else nullcontext(args.db)) as db_url:
        report = run(root, mode=args.mode, db_url=db_url, kills=args.kills, clients=args.clients, seed=args.seed,
                     log=None if args.json else print, placement=args.placement,
                     targets=[t for t in (args.targets or "").split(",") if t] or None, gateways=args.gateways,
                     substrate_workers=args.substrate_workers)
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}))
    else:
        print("\n".join(report.lines()))
        for p in report.problems:
            print("  problem:", p)
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
