"""Scale-out throughput on one PostgreSQL: 1 and 2 gateway processes beside the KV peer, costs per
round trip where they are spent, and the capacity model checked against the measurement.

What runs (one PostgreSQL, ``--db URL``, default the server of ``QCLONE_TEST_DATABASE_URL`` or
``postgres@127.0.0.1:5432``; each case gets a database of its own, created and dropped here):

* **qclone**: a deployment (:class:`qclone.storage.launcher.Cluster`, ``mode="deployment"``):
  the gateway with its metadata in PostgreSQL, as ``--processes`` P gateway processes (uvicorn
  workers sharing one port), the substrate node, the vault and four providers, each a process.
  One round trip = put (n = 4 clones of one qubit) + get + acknowledge, as in
  ``bench/storage_throughput.py``, whose load generator (one asyncio process, ``--clients``
  keep-alive connections spread over the gateways' ports) this reuses.
* **peer**: that benchmark's minimal FastAPI key-value service on the same PostgreSQL (a table
  ``kv``), P uvicorn worker processes; one round trip = put + one-time get.

For each case, over the measured seconds (after a warm-up), from outside the processes:

* round trips/s, p50/p99 latency;
* CPU seconds per round trip of each role, from ``/proc/<pid>/stat`` (utime + stime) of every
  process of its process group: ``gateway`` (or ``peer``), ``substrate``, ``nodes`` (vault and
  providers), ``postgres`` (the backends of the case's database, found in ``pg_stat_activity``),
  ``client`` (the load generator: this process), and the CPU the rest of the machine used
  meanwhile (other users of the two cores: ``/proc/stat`` minus all of the above);
* PostgreSQL work per round trip: statements (counted in each process by
  :mod:`qclone.storage.dbstats`, switched on here with ``QCLONE_DB_STATS``; pg_stat_statements
  needs a server restart to load), commits (``pg_stat_database.xact_commit`` of the case's
  database + rollbacks), rows (``tup_*``), WAL bytes (the records between the WAL positions
  before and after that change the case's database, and their transactions' commit records, read
  with ``pg_walinspect``: other users' writes meanwhile are left out; the whole server's WAL is
  printed beside it), and the bytes on the wire to and from PostgreSQL
  (``bytes_received``/``bytes_sent`` of the backends' TCP sockets, ``ss -tinp``: the protocol's
  framing included; a connection closed during the run is lost).

The capacity model (:mod:`qclone.storage.capacity`) predicts each case's throughput from the
costs per round trip measured with ONE process (cores left by other users / CPU per round trip,
capped at one core per Python process of a role) and the bench fails (exit 1) if a prediction is
more than ``--tolerance`` (20 %) off the measurement (``--no-check``: print only).

``--write-docs`` also measures one PostgreSQL's write capacity with ``pgbench`` (small write
transactions: statements and commits per second; 16 rows of 1 KB per transaction: WAL bytes per
second) and the bytes
per stored object (``--storage-objects`` puts without gets), writes the figures to
``docs/scaling/figures.json`` and the tables of ``docs/scaling-storage.md`` to
``docs/scaling/tables.txt`` (:func:`qclone.storage.capacity.report`).

Run: ``nice -n 10 .venv/bin/python bench/storage_scaleout.py [--seconds 15] [--clients 16] [--processes 1,2] [--write-docs]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import storage_throughput as st  # this directory's benchmark: the KV peer, the load generator, process helpers
from sqlalchemy.engine import make_url

from qclone.storage import capacity, dbstats
from qclone.storage.launcher import Cluster

ROOT = Path(__file__).resolve().parents[1]
#: Where ``--write-docs`` writes the figures and the tables ``docs/scaling-storage.md`` includes.
DOCS = ROOT / "docs" / "scaling"
DEFAULT_DB = os.environ.get("QCLONE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TICK = os.sysconf("SC_CLK_TCK")
#: Seconds to wait after a load for PostgreSQL's statistics (flushed by idle backends within
#: about a second) and the processes' statement counts to be written.
FLUSH_WAIT = 1.6
#: Most seconds of puts for the bytes per object (fewer objects on a slow machine: their count is recorded).
STORAGE_DEADLINE = 150.0
#: Roles whose processes are Python processes (at most one core each): the model caps them.
CAPPED = ("gateway", "peer", "substrate", "client")


# ---------------------------------------------------------------------- PostgreSQL from outside
class Postgres:
    """The server at ``url``: databases of our own, their backends and statistics."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = make_url(url).set(drivername="postgresql+psycopg")
        u = self.url
        self.conn = psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                                    password=u.password, dbname=u.database or "postgres", autocommit=True)
        self.port = u.port or 5432

    def q(self, sql: str, *args: Any) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, args or None)
            return cur.fetchall() if cur.description else []

    @contextmanager
    def database(self, tag: str) -> Iterator[tuple[str, str]]:
        """A fresh database (name, SQLAlchemy URL), dropped afterwards."""
        name = f"qclone_bench_{tag}_{uuid.uuid4().hex[:8]}"
        self.q(f'CREATE DATABASE "{name}"')
        try:
            yield name, self.url.set(database=name).render_as_string(hide_password=False)
        finally:
            self.q("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", name)
            for _ in range(50):
                try:
                    self.q(f'DROP DATABASE IF EXISTS "{name}"')
                    break
                except Exception:  # noqa: BLE001 - a backend still exiting: try again shortly
                    time.sleep(0.2)

    def backends(self, name: str) -> list[int]:
        return [r[0] for r in self.q("SELECT pid FROM pg_stat_activity WHERE datname = %s", name)]

    def stats(self, name: str) -> dict[str, float]:
        row = self.q("SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, "
                     "tup_deleted FROM pg_stat_database WHERE datname = %s", name)[0]
        keys = ("commits", "rollbacks", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated", "tup_deleted")
        return dict(zip(keys, map(float, row)))

    def commits_elsewhere(self, name: str) -> dict[str, float]:
        """Commits so far in every other database (other users of the server)."""
        return {r[0]: float(r[1]) for r in self.q("SELECT coalesce(datname, ''), xact_commit FROM pg_stat_database "
                                                   "WHERE datname IS DISTINCT FROM %s", name)}

    def wal(self) -> float:
        """The server's WAL position in bytes (every database's writes)."""
        return float(self.q("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')")[0][0])

    def wal_of(self, name: str, start: float, end: float) -> tuple[float, float]:
        """Bytes of the WAL records between two positions that belong to database ``name``: those
        that change one of its relations (their block references name its OID) and the commit
        records of the transactions that wrote them (pg_walinspect, created in that database;
        PostgreSQL 15 or later). Other users' writes meanwhile are left out. With the number of
        those commit records: the transactions that wrote (a read-only one writes none)."""
        import psycopg

        u = self.url
        lsn = "SELECT pg_lsn '0/0' + %s::numeric"
        with psycopg.connect(host=u.host or "127.0.0.1", port=self.port, user=u.username or "postgres",
                             password=u.password, dbname=name, autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            oid = c.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,)).fetchone()[0]
            a = c.execute(lsn, (int(start),)).fetchone()[0]
            b = c.execute(lsn, (int(end),)).fetchone()[0]
            for _ in range(50):  # records can be read once they are flushed
                if c.execute("SELECT pg_current_wal_flush_lsn() >= %s", (b,)).fetchone()[0]:
                    break
                time.sleep(0.1)
            pattern = f"%/{oid}/%"
            row = c.execute(
                "WITH r AS (SELECT xid, resource_manager, record_type, record_length, block_ref FROM pg_get_wal_records_info(%s, %s)), "
                "mine AS (SELECT DISTINCT xid FROM r WHERE block_ref LIKE %s AND xid <> '0') "
                "SELECT coalesce(sum(record_length), 0), count(*) FILTER (WHERE resource_manager = 'Transaction' "
                "AND record_type LIKE 'COMMIT%%') FROM r WHERE block_ref LIKE %s "
                "OR (resource_manager = 'Transaction' AND xid IN (SELECT xid FROM mine))",
                (a, b, pattern, pattern)).fetchone()
        return float(row[0]), float(row[1])

    def size(self, name: str) -> float:
        return float(self.q("SELECT pg_database_size(%s)", name)[0][0])

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------------- counters from outside
def cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def group_pids(pid: int) -> list[int]:
    """The processes of ``pid``'s process group (a server and its workers)."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return []
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if os.getpgid(int(d.name)) == pgid:
                    out.append(int(d.name))
            except (ProcessLookupError, PermissionError):
                continue
    return out


def settle(leaders: list[int], timeout: float = 60.0) -> None:
    """Wait until the processes of these groups are idle together (every one has finished starting)."""
    def total() -> float:
        return sum(cpu_of(p) for leader in leaders for p in group_pids(leader))

    deadline = time.monotonic() + timeout
    last = total()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = total()
        if now - last < 0.03 * max(1, len(leaders)):
            return
        last = now


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core; /proc/stat, idle and iowait excluded)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


def wire_bytes(port: int, pids: set[int]) -> tuple[float, float]:
    """Bytes the backends ``pids`` received from and sent to their clients (TCP counters of their sockets)."""
    out = subprocess.run(["ss", "-tinpHO", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=False).stdout
    received = sent = 0.0
    for line in out.splitlines():
        m = re.search(r"pid=(\d+)", line)
        if m and int(m.group(1)) in pids:
            r = re.search(r"bytes_received:(\d+)", line)
            s = re.search(r"bytes_sent:(\d+)", line)
            received += int(r.group(1)) if r else 0
            sent += int(s.group(1)) if s else 0
    return received, sent


# ---------------------------------------------------------------------- the services
class QcloneCase:
    """The deployment on PostgreSQL with ``processes`` gateway processes (each its own port) and
    ``substrate_workers`` worker processes of the substrate node."""

    kind = "qclone"

    def __init__(self, root: Path, db_url: str, processes: int, substrate_workers: int = 1) -> None:
        self.cluster = Cluster(root, mode="deployment", db_url=db_url, gateways=processes,
                               substrate_workers=substrate_workers)
        self.processes, self.substrate_workers = processes, substrate_workers

    def up(self) -> None:
        self.cluster.up()
        self.token = self.cluster.token()
        self.ports = [self.cluster.processes[name].port for name in self.cluster.gateway_names]

    def roles(self) -> dict[str, list[int]]:
        """Role -> the leader pid of each process group of that role."""
        gateways = set(self.cluster.gateway_names)
        out: dict[str, list[int]] = {"gateway": [], "substrate": [], "nodes": []}
        for role, proc in self.cluster.processes.items():
            assert proc.proc is not None
            out["gateway" if role in gateways else role if role == "substrate" else "nodes"].append(proc.proc.pid)
        return out

    def caps(self) -> dict[str, int]:
        return {"gateway": self.processes, "substrate": self.substrate_workers}

    def storage_dirs(self) -> dict[str, list[Path]]:
        root = self.cluster.root
        return {"substrate": [root / "substrate"], "providers": [root / f"p{i}" for i in range(1, 5)],
                "vault": [root / "vault"]}

    def down(self) -> None:
        self.cluster.down()


class PeerCase:
    """The KV peer on PostgreSQL with ``processes`` worker processes."""

    kind = "peer"

    def __init__(self, root: Path, db_url: str, processes: int) -> None:
        self.root, self.db_url, self.processes = root, db_url, processes
        self.token = None

    def up(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        port = st.free_port()
        self.proc = st.start([sys.executable, str(Path(st.__file__)), "--peer", str(port), str(self.root),
                              str(self.processes), "--peer-db", self.db_url], port, self.root / "peer.log")
        self.ports = [port]

    def roles(self) -> dict[str, list[int]]:
        return {"peer": [self.proc.pid]}

    def caps(self) -> dict[str, int]:
        return {"peer": self.processes}

    def down(self) -> None:
        st.stop(self.proc)


# ---------------------------------------------------------------------- one measurement
class Probe:
    """Counters of one case, read before and after a load."""

    def __init__(self, pg: Postgres, dbname: str, case: Any, stats_dir: Path) -> None:
        self.pg, self.dbname, self.case, self.stats_dir = pg, dbname, case, stats_dir

    def cpu(self) -> dict[str, Any]:
        roles = {role: [p for leader in leaders for p in group_pids(leader)] for role, leaders in self.case.roles().items()}
        backends = self.pg.backends(self.dbname)
        me = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "pids": roles,
            "role_cpu": {role: {p: cpu_of(p) for p in pids} for role, pids in roles.items()},
            "backend_cpu": {p: cpu_of(p) for p in backends},
            "client": me.ru_utime + me.ru_stime,
            "machine": machine_busy(),
            "wire": wire_bytes(self.pg.port, set(backends)),
            "wall": time.perf_counter(),
            "wal": self.pg.wal(),
        }

    def counts(self) -> dict[str, Any]:
        return {"db": self.pg.stats(self.dbname), "elsewhere": self.pg.commits_elsewhere(self.dbname),
                "statements": dbstats.read_counts(self.stats_dir)}


def _delta(after: dict[int, float], before: dict[int, float]) -> float:
    """CPU of a set of processes between two readings (a process born meanwhile counts from 0; one
    that ended meanwhile is lost, as its counters are)."""
    return sum(v - before.get(p, 0.0) for p, v in after.items())


def measure(case: Any, pg: Postgres, dbname: str, stats_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    case.up()
    try:
        settle([leader for leaders in case.roles().values() for leader in leaders])
        asyncio.run(st.load(case.ports, case.kind, case.token, args.clients, args.warmup, 0.0))  # warm-up
        probe = Probe(pg, dbname, case, stats_dir)
        idle = probe.cpu()  # what the processes use with no load (reconcilers, health checks): over the wait
        time.sleep(FLUSH_WAIT)
        c0 = probe.counts()
        a = probe.cpu()
        out = asyncio.run(st.load(case.ports, case.kind, case.token, args.clients, args.seconds, 0.0))
        b = probe.cpu()
        time.sleep(FLUSH_WAIT)
        c1 = probe.counts()
        wal, write_commits = pg.wal_of(dbname, a["wal"], b["wal"])
        storage = measure_storage(case, pg, dbname, args) if args.write_docs and case.kind == "qclone" else None
    finally:
        case.down()
    n = max(1, out["round_trips_total"])
    wall = b["wall"] - a["wall"]
    cpu = {role: _delta(b["role_cpu"][role], a["role_cpu"].get(role, {})) for role in b["role_cpu"]}
    cpu["postgres"] = _delta(b["backend_cpu"], a["backend_cpu"])
    cpu["client"] = b["client"] - a["client"]
    ours = sum(cpu.values())
    others = max(0.0, (b["machine"] - a["machine"]) - ours)
    idle_wall = a["wall"] - idle["wall"]
    idle_cpu = {role: _delta(a["role_cpu"][role], idle["role_cpu"].get(role, {})) / idle_wall for role in a["role_cpu"]}
    idle_cpu["postgres"] = _delta(a["backend_cpu"], idle["backend_cpu"]) / idle_wall
    # statements per role: each process's counts, by the role its pid belongs to
    pid_role = {p: role for role, pids in b["pids"].items() for p in pids}
    statements: dict[str, dict[str, float]] = {}
    for pid, counts in c1["statements"].items():
        before = c0["statements"].get(pid, {})
        if counts == before:  # idle, or a process of an earlier case
            continue
        role = pid_role.get(pid, "other")
        acc = statements.setdefault(role, {})
        for k, v in counts.items():
            acc[k] = acc.get(k, 0) + v - before.get(k, 0)
    total_statements = sum(s.get("statements", 0) for s in statements.values())
    db = {k: c1["db"][k] - c0["db"][k] for k in c1["db"]}
    cores = os.cpu_count() or 1
    out.update({
        "processes": case.processes,
        "seconds": wall,
        "cpu_per_round_trip": {role: c / n for role, c in cpu.items()},
        "cpu_total_per_round_trip": ours / n,
        "idle_cpu_per_second": idle_cpu,
        "cores": cores,
        "others_cpu_per_second": others / wall,
        "cores_available": max(0.1, cores - others / wall),
        "statements_per_round_trip": total_statements / n,
        "statements_by_role": {role: {k: v / n for k, v in s.items()} for role, s in statements.items()},
        "transactions_per_round_trip": (db["commits"] + db["rollbacks"]) / n,
        "commits_per_round_trip": write_commits / n,
        "rows_per_round_trip": {k: db[k] / n for k in db if k.startswith("tup_")},
        "other_commits_meanwhile": sum(v - c0["elsewhere"][k] for k, v in c1["elsewhere"].items() if k in c0["elsewhere"]),
        "wal_bytes_per_round_trip": wal / n,
        "wal_bytes_server_per_round_trip": (b["wal"] - a["wal"]) / n,
        "wire_bytes_per_round_trip": ((b["wire"][0] - a["wire"][0]) + (b["wire"][1] - a["wire"][1])) / n,
        "wire_bytes_to_postgres_per_round_trip": (b["wire"][0] - a["wire"][0]) / n,
        "wire_bytes_from_postgres_per_round_trip": (b["wire"][1] - a["wire"][1]) / n,
        "caps": case.caps(),
    })
    if storage is not None:
        out["storage"] = storage
    return out


def _du(paths: list[Path]) -> float:
    return float(sum(f.stat().st_size for p in paths if p.exists() for f in p.rglob("*") if f.is_file()))


def measure_storage(case: QcloneCase, pg: Postgres, dbname: str, args: argparse.Namespace) -> dict[str, Any]:
    """Bytes per stored object: ``--storage-objects`` puts (kept, never got), the growth of each
    store (the case's PostgreSQL database; the nodes' files) divided by the objects."""
    dirs = case.storage_dirs()
    before = {where: _du(paths) for where, paths in dirs.items()}
    db0 = pg.size(dbname)
    objects = 0
    deadline = time.monotonic() + STORAGE_DEADLINE
    while objects < args.storage_objects and time.monotonic() < deadline:
        out = asyncio.run(st.load(case.ports, "qclone-put", case.token, args.clients, 5.0, 0.0))
        if out["errors"]:
            raise RuntimeError(f"puts failed: {out['first_error']}")
        objects += out["round_trips_total"]
    time.sleep(FLUSH_WAIT)
    per = {"postgresql": (pg.size(dbname) - db0) / objects}
    per.update({where: (_du(paths) - before[where]) / objects for where, paths in dirs.items()})
    return {"objects": objects, "bytes_per_object": per, "source": f"measured here: {objects} objects put"}


# ---------------------------------------------------------------------- pgbench
def pgbench_capacity(pg: Postgres, seconds: float, clients: int) -> dict[str, Any]:
    """One PostgreSQL's write capacity on this machine: pgbench's simple-update (an UPDATE, a
    SELECT and an INSERT per transaction: statements and commits per second) and 1 KB inserts
    (WAL bytes per second), ``clients`` connections each."""
    exe = shutil.which("pgbench")
    if exe is None:
        raise RuntimeError("pgbench is not installed (Debian: postgresql-contrib or postgresql-client)")
    u = pg.url
    out: dict[str, Any] = {}
    with pg.database("pgbench") as (name, _url):
        base = [exe, "-h", u.host or "127.0.0.1", "-p", str(pg.port), "-U", u.username or "postgres", name]
        subprocess.run([*base[:-1], "-i", "-q", "-s", "5", name], check=True, capture_output=True, timeout=600)
        pg.q("SELECT 1")
        import psycopg

        with psycopg.connect(host=u.host or "127.0.0.1", port=pg.port, user=u.username or "postgres", dbname=name,
                             autocommit=True) as c:
            c.execute("CREATE TABLE wal_probe (id bigserial PRIMARY KEY, v text NOT NULL)")
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
            # 16 rows of 1 KB of hex digits (below TOAST's threshold: stored and logged as they are)
            f.write("INSERT INTO wal_probe (v) SELECT x.v FROM generate_series(1, 16) AS i, LATERAL "
                    "(SELECT string_agg(md5(random()::text || i || g), '') AS v FROM generate_series(1, 32) AS g) AS x;\n")
            script = f.name
        try:
            for tag, extra in (("small", ["-b", "simple-update"]), ("wal", ["-f", script])):
                backends_before = {}
                wal0 = pg.wal()
                t0 = time.perf_counter()
                proc = subprocess.Popen([*base[:-1], "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T",
                                         str(int(seconds)), *extra, name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                time.sleep(1.0)
                backends_before = {p: cpu_of(p) for p in pg.backends(name)}
                t1 = t2 = time.perf_counter()
                last = dict(backends_before)
                while proc.poll() is None:  # the backends' CPU, read while they live
                    last.update({p: c for p in backends_before if (c := cpu_of(p)) > 0})
                    t2 = time.perf_counter()
                    time.sleep(0.25)
                stdout, stderr = proc.communicate(timeout=120)
                wall = time.perf_counter() - t0
                backends_cpu = sum(last[p] - backends_before[p] for p in backends_before)
                m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", stdout)
                done = re.search(r"number of transactions actually processed: (\d+)", stdout)
                if proc.returncode != 0 or m is None or done is None:
                    raise RuntimeError(f"pgbench failed: {stderr[-500:]}")
                tps = float(m.group(1))
                out[tag] = {"tps": tps, "transactions": int(done.group(1)),
                            "wal_bytes_per_second": (pg.wal() - wal0) / wall,
                            "postgres_cpu_per_second": backends_cpu / max(1e-9, t2 - t1)}
        finally:
            os.unlink(script)
    small, wal = out["small"], out["wal"]
    cores = float(os.cpu_count() or 1)
    return {
        "clients": clients,
        "seconds": seconds,
        "runs": out,
        # as measured here (pgbench's client and other users shared the cores) ...
        "measured": {"statements_per_second": 3 * small["tps"], "commits_per_second": small["tps"],
                     "wal_bytes_per_second": wal["wal_bytes_per_second"]},
        # ... and per CPU second of the backends, times this machine's cores: one PostgreSQL with the
        # cores to itself (the rates grow with the CPU its backends get)
        "capacity": {"statements_per_second": 3 * small["tps"] / small["postgres_cpu_per_second"] * cores,
                     "commits_per_second": small["tps"] / small["postgres_cpu_per_second"] * cores,
                     "wal_bytes_per_second": wal["wal_bytes_per_second"] / wal["postgres_cpu_per_second"] * cores,
                     "cores": cores},
    }


# ---------------------------------------------------------------------- the model's check
def check_model(runs: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Each case's prediction from the costs measured with one process (its kind's smallest P),
    on the cores other users left it in that case's run."""
    for by_p in runs.values():
        base = by_p[min(by_p, key=int)]
        for r in by_p.values():
            caps = {role: r["caps"].get(role, 1) for role in CAPPED if role in base["cpu_per_round_trip"]}
            pred = capacity.predict(base["cpu_per_round_trip"], r["cores_available"], caps)
            own = capacity.predict(r["cpu_per_round_trip"], r["cores_available"], caps)
            r["prediction"] = {"throughput": pred.throughput, "bound": pred.bound,
                               "error": (pred.throughput - r["per_second"]) / r["per_second"],
                               "from_processes": base["processes"],
                               # from the case's own costs: how close to saturating its cores it ran
                               "own_costs_error": (own.throughput - r["per_second"]) / r["per_second"]}


def print_report(runs: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    roles = ("gateway", "peer", "substrate", "nodes", "postgres", "client")
    print(f"put+get round trips on one PostgreSQL, {args.clients} clients, {os.cpu_count()} cores "
          f"(qclone: put + get + ack of n = 4 clones; peer: put + one-time get)")
    head = "  ".join(f"{r:>9s}" for r in roles)
    print(f"  {'service':7s} {'P':>2s} {'rt/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'pred/s':>7s} {'error':>6s} "
          f"{'bound':>9s} | CPU ms/rt: {head} {'others/s':>8s} | stmts/rt xacts/rt commits/rt WAL B/rt wire B/rt")
    for kind, by_p in runs.items():
        for p, r in sorted(by_p.items(), key=lambda kv: int(kv[0])):
            cpu = r["cpu_per_round_trip"]
            cells = "  ".join(f"{1000 * cpu[role]:9.2f}" if role in cpu else f"{'-':>9s}" for role in roles)
            pred = r["prediction"]
            print(f"  {kind:7s} {p:>2s} {r['per_second']:7.1f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} "
                  f"{pred['throughput']:7.1f} {100 * pred['error']:+5.0f}% {pred['bound']:>9s} | {'':10s} {cells} "
                  f"{r['others_cpu_per_second']:8.2f} | {r['statements_per_round_trip']:8.1f} "
                  f"{r['transactions_per_round_trip']:8.1f} {r['commits_per_round_trip']:10.2f} {r['wal_bytes_per_round_trip']:8.0f} "
                  f"{r['wire_bytes_per_round_trip']:9.0f}   errors {r['errors']}")
    for p in sorted(set(runs.get("qclone", {})) & set(runs.get("peer", {})), key=int):
        q, k = runs["qclone"][p], runs["peer"][p]
        print(f"  ratio qclone/peer at P = {p}: throughput {q['per_second'] / k['per_second']:.2f}, "
              f"CPU per round trip {q['cpu_total_per_round_trip'] / k['cpu_total_per_round_trip']:.1f}, "
              f"statements per round trip {q['statements_per_round_trip'] / max(1e-9, k['statements_per_round_trip']):.1f}, "
              f"WAL bytes per round trip {q['wal_bytes_per_round_trip'] / max(1e-9, k['wal_bytes_per_round_trip']):.1f}")
    for kind, by_p in runs.items():
        for p, r in sorted(by_p.items(), key=lambda kv: int(kv[0])):
            base = by_p[min(by_p, key=int)]
            print(f"  {kind} P = {p}: CPU per round trip {1000 * r['cpu_total_per_round_trip']:.1f} ms "
                  f"({r['cpu_total_per_round_trip'] / base['cpu_total_per_round_trip']:.2f} x the one-process run's); "
                  f"predicted from its own costs: error {100 * r['prediction']['own_costs_error']:+.0f} %")
    for kind, by_p in runs.items():
        for p, r in by_p.items():
            if r["other_commits_meanwhile"]:
                print(f"  note: other databases committed {r['other_commits_meanwhile']:.0f} transactions during "
                      f"{kind} P = {p} (left out of the WAL figure; the whole server wrote "
                      f"{r['wal_bytes_server_per_round_trip']:.0f} B of WAL per round trip)")
            if r["first_error"]:
                print(f"  first error of {kind} P = {p}: {r['first_error']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB, help="the PostgreSQL server (a URL; a database per case is made on it)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per case")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per case (not measured)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of the load generator")
    parser.add_argument("--processes", default="1,2", help="gateway (peer) process counts, comma-separated")
    parser.add_argument("--substrate-workers", type=int, default=0,
                        help="worker processes of the substrate node (0: as many as gateways)")
    parser.add_argument("--only", choices=("qclone", "peer"), help="one service only")
    parser.add_argument("--tolerance", type=float, default=0.20, help="largest relative error of a prediction")
    parser.add_argument("--no-check", action="store_true", help="print the predictions, never fail on them")
    parser.add_argument("--write-docs", action="store_true",
                        help="also pgbench and bytes per object; write docs/scaling/figures.json and tables.txt")
    parser.add_argument("--pgbench-seconds", type=float, default=15.0, help="seconds of each pgbench run")
    parser.add_argument("--storage-objects", type=int, default=2000,
                        help=f"objects put for the bytes per object (at most {STORAGE_DEADLINE:.0f} s of puts)")
    parser.add_argument("--tables-only", action="store_true",
                        help="measure nothing: write docs/scaling/tables.txt again from docs/scaling/figures.json")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    counts = [int(x) for x in args.processes.split(",") if x.strip()]
    if not counts or min(counts) < 1:
        parser.error("--processes: comma-separated integers >= 1")
    kinds = (args.only,) if args.only else ("qclone", "peer")
    if args.tables_only:
        (DOCS / "tables.txt").write_text(capacity.report(json.loads((DOCS / "figures.json").read_text())))
        return 0
    pg = Postgres(args.db)
    root = Path(tempfile.mkdtemp(prefix="qclone-scaleout-"))
    stats_dir = root / "dbstats"
    os.environ[dbstats.ENV] = str(stats_dir)  # every process started from here counts its statements
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        pgb = pgbench_capacity(pg, args.pgbench_seconds, args.clients) if args.write_docs else None
        for kind in kinds:
            for p in counts:
                with pg.database(f"{kind}{p}") as (name, url):
                    case = (QcloneCase(root / f"{kind}{p}", url, p, args.substrate_workers or p) if kind == "qclone"
                            else PeerCase(root / f"{kind}{p}", url, p))
                    runs.setdefault(kind, {})[str(p)] = measure(case, pg, name, stats_dir, args)
    finally:
        pg.close()
        shutil.rmtree(root, ignore_errors=True)
    check_model(runs)
    errors = sum(r["errors"] for by_p in runs.values() for r in by_p.values())
    off = [(k, p, r["prediction"]["error"]) for k, by_p in runs.items() for p, r in by_p.items()
           if k == "qclone" and abs(r["prediction"]["error"]) > args.tolerance]
    summary: dict[str, Any] = {"clients": args.clients, "cores": os.cpu_count(), "runs": runs,
                               "tolerance": args.tolerance, "model_ok": not off}
    if pgb is not None:
        summary["pgbench"] = pgb
        summary["storage"] = runs.get("qclone", {}).get(str(min(counts)), {}).get("storage")
        summary["command"] = "nice -n 10 .venv/bin/python " + " ".join(["bench/storage_scaleout.py", *sys.argv[1:]])
        DOCS.mkdir(exist_ok=True)
        (DOCS / "figures.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
        (DOCS / "tables.txt").write_text(capacity.report(summary))
    if args.json:
        print(json.dumps(summary))
    else:
        print_report(runs, args)
        if pgb is not None:
            m, c = pgb["measured"], pgb["capacity"]
            print(f"  pgbench here: {m['statements_per_second']:.0f} statements/s, {m['commits_per_second']:.0f} commits/s "
                  f"(simple-update), {m['wal_bytes_per_second'] / 1e6:.1f} MB/s of WAL (1 KB rows); with "
                  f"{c['cores']:g} cores to itself: {c['statements_per_second']:.0f} statements/s, "
                  f"{c['commits_per_second']:.0f} commits/s, {c['wal_bytes_per_second'] / 1e6:.1f} MB/s; "
                  "tables written to docs/scaling/tables.txt")
        for k, p, e in off:
            print(f"  MODEL OFF: {k} P = {p}: prediction {100 * e:+.0f} % from the measurement "
                  f"(tolerance {100 * args.tolerance:.0f} %)")
    if errors:
        return 1
    return 0 if (not off or args.no_check) else 1


if __name__ == "__main__":
    sys.exit(main())
