"""Storage service in-process hot path: put + get round trips beside a plain SQLite peer, same run.

What runs (no HTTP; that is ``bench/storage_throughput.py``):

* **qclone**: a :class:`~qclone.storage.service.StorageService` built as the
  embedded server builds it (``qclone serve --data-dir TMP``: the metadata
  database a SQLite file, the substrate, vault and four providers with their
  files in the data dir, the substrate's default durability as served). One round trip =
  ``put`` of one qubit (a random Bloch vector) as n = 4 encrypted clones, then
  ``get`` (the one-time decryption).
* **peer**: the same loop doing only plain SQLite work with the same engine
  set-up (``qclone.storage.db.create_db_engine``: WAL, ``synchronous=NORMAL``,
  ``BEGIN IMMEDIATE`` writes): per round trip one transaction inserting a
  64-byte blob, then one selecting and deleting it.

Each runs single-threaded for ``--rounds`` round trips (with a breakdown: wall
and CPU ms per put and per get, and the part spent in the substrate, vault,
providers and metadata database statements, and the number of database
transactions and statements), then with ``--threads`` threads for ``--seconds``
(round trips per second and process CPU ms per round trip). Prints the ratio
qclone/peer and the 1-minute load average (the machine is shared).

Run: ``.venv/bin/python bench/storage_inprocess.py [--rounds 200] [--threads 16] [--seconds 5]``
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

_local = threading.local()
_totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
_totals_lock = threading.Lock()


def _phase() -> str:
    return getattr(_local, "phase", "other")


def _add(part: str, wall: float, cpu: float, count: int = 1) -> None:
    with _totals_lock:
        t = _totals[(_phase(), part)]
        t[0] += wall
        t[1] += cpu
        t[2] += count


class _Timed:
    """Forwards method calls to ``target``, adding their wall and thread CPU time to ``part``."""

    def __init__(self, target: Any, part: str) -> None:
        self._target, self._part = target, part

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            w, c = time.perf_counter(), time.thread_time()
            try:
                return attr(*args, **kw)
            finally:
                _add(self._part, time.perf_counter() - w, time.thread_time() - c)

        return call


def _instrument_engine(engine: Any) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["qclone_t"] = (time.perf_counter(), time.thread_time())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        w, c = conn.info.pop("qclone_t")
        _add("db statements", time.perf_counter() - w, time.thread_time() - c)

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        _add("db transactions", 0.0, 0.0)


def _instrument_fast_path(db: Any) -> None:
    """The same figures for the prepared statements of ``Database.fast_write``/``fast_read``."""
    from qclone.storage import db as dbmod

    execute = dbmod.FastConnection.execute

    def timed(self: Any, statement: Any, params: Any = None) -> Any:
        w, c = time.perf_counter(), time.thread_time()
        try:
            return execute(self, statement, params)
        finally:
            _add("db statements", time.perf_counter() - w, time.thread_time() - c)

    fast = db._fast  # noqa: SLF001 - benchmark instrumentation

    def counted(begin: str) -> Any:
        _add("db transactions", 0.0, 0.0)
        return fast(begin)

    dbmod.FastConnection.execute = timed  # type: ignore[method-assign]  # timing wrapper
    db._fast = counted  # noqa: SLF001 - counting wrapper for the benchmark


def build(data_dir: Path, *, durable: bool, instrument: bool) -> tuple[Any, Any]:
    """The embedded service over ``data_dir`` with four providers; (service, tenant)."""
    from qclone.storage.clock import SystemClock
    from qclone.storage.db import Database
    from qclone.storage.service import ProviderDirectory, StorageService
    from qclone.storage.substrate import Substrate
    from qclone.storage.vault import KeyVault

    db = Database.open(data_dir=data_dir)
    substrate: Any = Substrate(data_dir / "substrate", **({"durable": True} if durable else {}))
    vault: Any = KeyVault(data_dir / "vault")
    directory = ProviderDirectory.local(data_dir)
    if instrument:
        _instrument_engine(db.engine)
        _instrument_fast_path(db)
        substrate, vault = _Timed(substrate, "substrate"), _Timed(vault, "vault")
        factory = directory._factory  # noqa: SLF001 - benchmark instrumentation
        directory._factory = lambda record: _Timed(factory(record), "providers")  # noqa: SLF001 - timing wrapper for the benchmark
    service = StorageService(db, substrate, vault, directory, SystemClock())
    for i in range(4):
        service.providers_add(f"p{i + 1}", zone=f"zone-{i + 1}")
    tenant = service.authenticate(service.create_tenant("bench"))
    return service, tenant


def _bloch() -> list[float]:
    v = [random.gauss(0, 1) for _ in range(3)]
    r = sum(x * x for x in v) ** 0.5 or 1.0
    return [x / r for x in v]


def qclone_round_trip(service: Any, tenant: Any) -> Callable[[str], None]:
    from qclone.storage.inputs import parse_state

    def once(name: str) -> None:
        _local.phase = "put"
        w, c = time.perf_counter(), time.thread_time()
        service.put(tenant, name, parse_state("bloch", _bloch()), clones=4)
        _add("total", time.perf_counter() - w, time.thread_time() - c)
        _local.phase = "get"
        w, c = time.perf_counter(), time.thread_time()
        service.get(tenant, name, ack=True)
        _add("total", time.perf_counter() - w, time.thread_time() - c)
        _local.phase = "other"

    return once


def peer_round_trip(data_dir: Path, *, instrument: bool) -> Callable[[str], None]:
    from sqlalchemy import text

    from qclone.storage.db import create_db_engine

    engine = create_db_engine(f"sqlite:///{data_dir / 'kv.sqlite3'}")
    if instrument:
        _instrument_engine(engine)
    with engine.connect() as c:
        c.execution_options(qclone_write=True)
        with c.begin():
            c.exec_driver_sql("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL)")
    ins = text("INSERT INTO kv (k, v) VALUES (:k, :v)")
    sel = text("SELECT v FROM kv WHERE k = :k")
    dele = text("DELETE FROM kv WHERE k = :k")

    def once(name: str) -> None:
        blob = os.urandom(64)
        _local.phase = "put"
        w, cp = time.perf_counter(), time.thread_time()
        with engine.connect() as c:
            c.execution_options(qclone_write=True)
            with c.begin():
                c.execute(ins, {"k": name, "v": blob})
        _add("total", time.perf_counter() - w, time.thread_time() - cp)
        _local.phase = "get"
        w, cp = time.perf_counter(), time.thread_time()
        with engine.connect() as c:
            c.execution_options(qclone_write=True)
            with c.begin():
                got = c.execute(sel, {"k": name}).scalar()
                c.execute(dele, {"k": name})
        assert got == blob
        _add("total", time.perf_counter() - w, time.thread_time() - cp)
        _local.phase = "other"

    return once


def single(once: Callable[[str], None], rounds: int, tag: str) -> dict[str, Any]:
    _totals.clear()
    for i in range(rounds):
        once(f"{tag}-s-{i}")
    report = {k: list(v) for k, v in _totals.items()}
    _totals.clear()
    return report


def threaded(once: Callable[[str], None], threads: int, seconds: float, tag: str) -> tuple[float, float, int]:
    """(round trips per second, process CPU ms per round trip, errors)."""
    stop = threading.Event()
    counts = [0] * threads
    errors = [0] * threads

    def worker(t: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                once(f"{tag}-t{t}-{i}")
                counts[t] += 1
            except Exception:  # noqa: BLE001 - counted and shown
                errors[t] += 1
            i += 1

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    w0, c0 = time.perf_counter(), time.process_time()
    for t in ts:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    done = sum(counts)
    return done / wall, 1000 * cpu / max(done, 1), sum(errors)


def show(name: str, report: dict[str, Any], rounds: int) -> None:
    parts = ["substrate", "vault", "providers", "db statements"]
    print(f"  {name}: ms per op (wall / CPU), single thread, {rounds} round trips")
    for phase in ("put", "get"):
        total = report.get((phase, "total"), [0.0, 0.0, 0])
        line = [f"    {phase:3s} total {1000 * total[0] / rounds:6.2f} / {1000 * total[1] / rounds:6.2f}"]
        rest_w, rest_c = total[0], total[1]
        for p in parts:
            v = report.get((phase, p))
            if v is None:
                continue
            rest_w -= v[0]
            rest_c -= v[1]
            line.append(f"{p} {1000 * v[0] / rounds:5.2f} / {1000 * v[1] / rounds:5.2f} ({v[2] / rounds:.0f} calls)")
        line.append(f"rest {1000 * rest_w / rounds:5.2f} / {1000 * rest_c / rounds:5.2f}")
        tx = report.get((phase, "db transactions"))
        if tx is not None:
            line.append(f"{tx[2] / rounds:.1f} db transactions")
        print(",  ".join(line))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200, help="single-threaded round trips")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of the threaded run")
    ap.add_argument("--durable", action="store_true", help="substrate with durable=True (fsync per commit)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="qclone-bench-"))
    try:
        print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
        service, tenant = build(root / "qclone", durable=args.durable, instrument=True)
        q_once = qclone_round_trip(service, tenant)
        (root / "peer").mkdir()
        p_once = peer_round_trip(root / "peer", instrument=True)
        for i in range(20):  # warm-up: imports, caches, the audit of the placement shapes
            q_once(f"warm-{i}")
            p_once(f"warm-{i}")
        q_single = single(q_once, args.rounds, "q")
        p_single = single(p_once, args.rounds, "p")
        show("qclone", q_single, args.rounds)
        show("peer", p_single, args.rounds)
        q_rt = args.rounds / (q_single[("put", "total")][0] + q_single[("get", "total")][0])
        p_rt = args.rounds / (p_single[("put", "total")][0] + p_single[("get", "total")][0])
        print(f"  single thread: qclone {q_rt:7.1f} round trips/s, peer {p_rt:7.1f}/s, ratio {q_rt / p_rt:.3f}")
        # the threaded run without the per-call instrumentation
        _totals.clear()
        service2, tenant2 = build(root / "qclone2", durable=args.durable, instrument=False)
        q2 = qclone_round_trip(service2, tenant2)
        (root / "peer2").mkdir()
        p2 = peer_round_trip(root / "peer2", instrument=False)
        for i in range(20):
            q2(f"warm-{i}")
            p2(f"warm-{i}")
        q_rate, q_cpu, q_err = threaded(q2, args.threads, args.seconds, "q")
        p_rate, p_cpu, p_err = threaded(p2, args.threads, args.seconds, "p")
        print(f"  {args.threads} threads, {args.seconds:g} s: qclone {q_rate:7.1f} round trips/s "
              f"({q_cpu:.2f} ms CPU each, {q_err} errors), peer {p_rate:7.1f}/s ({p_cpu:.2f} ms CPU each, "
              f"{p_err} errors), ratio {q_rate / p_rate:.3f}")
        print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")
    finally:
        if args.keep:
            print(f"data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
