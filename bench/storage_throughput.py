"""Storage service throughput: put + get round trips beside a minimal key-value peer, same run.

What runs:

* **qclone**: ``qclone serve --data-dir TMP`` (the embedded default: SQLite,
  substrate, vault and four providers in one server) in its own process.
  One round trip = ``PUT /v1/objects/{name}`` of one qubit (a random Bloch
  vector) as n = 4 encrypted clones, then ``POST /v1/objects/{name}/get``
  with an idempotency key (the one-time decryption), then
  ``POST /v1/objects/{name}/ack`` with that key (the output is released).
* **peer**: a minimal FastAPI/uvicorn key-value service defined below, with
  the same SQLite set-up (``qclone.storage.db.create_db_engine``: WAL,
  ``synchronous=NORMAL``), the same uvicorn options (uvloop, httptools,
  orjson responses) and the same number of worker processes, started the
  same way. One round trip = ``PUT /kv/{key}`` of a 64-byte blob, then a
  one-time ``POST /kv/{key}/get`` (read and delete in one transaction). ``bench/storage_scaleout.py``
  runs the same peer on PostgreSQL (``peer_app(data_dir, db_url)``) and this load generator
  spread over several gateways (``load`` with a list of ports).

The load generator is one asyncio process with ``--clients`` (16) concurrent
clients (each a keep-alive HTTP/1.1 connection of a minimal client, lighter than
httpx so that it does not starve the server on two cores), each doing round trips back to back for ``--seconds`` after a
warm-up. It prints round trips per second, p50/p99 latency of a round trip,
the ratio qclone/peer, the 1-minute load average and the CPU seconds the
server and the load generator used, so starvation of the server shows.

Target: at least 200 round trips per second on 2 cores.

Run: ``.venv/bin/python bench/storage_throughput.py [--seconds 10] [--clients 16] [--workers 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

TARGET = 200.0


# ---------------------------------------------------------------------- the peer
def peer_app(data_dir: str, db_url: str | None = None) -> FastAPI:
    """A minimal key-value service: same database set-up (SQLite in ``data_dir``, or PostgreSQL at
    ``db_url``) and response encoding as the gateway."""
    from sqlalchemy import text
    from starlette.concurrency import run_in_threadpool

    from qclone.storage.db import create_db_engine

    engine = create_db_engine(db_url or f"sqlite:///{Path(data_dir) / 'kv.sqlite3'}")
    blob = "BYTEA" if engine.dialect.name == "postgresql" else "BLOB"
    with engine.connect() as c:
        c.execution_options(qclone_write=True)
        with c.begin():
            c.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v {blob} NOT NULL)")
    app = FastAPI(title="kv peer")

    def _json(obj: object, status: int = 200) -> Response:
        return Response(orjson.dumps(obj), status_code=status, media_type="application/json")

    def put(key: str, value: bytes) -> None:
        with engine.connect() as c:
            c.execution_options(qclone_write=True)
            with c.begin():
                c.execute(text("INSERT INTO kv (k, v) VALUES (:k, :v)"), {"k": key, "v": value})

    def take(key: str) -> bytes | None:
        with engine.connect() as c:
            c.execution_options(qclone_write=True)
            with c.begin():
                row = c.execute(text("SELECT v FROM kv WHERE k = :k"), {"k": key}).first()
                if row is not None:
                    c.execute(text("DELETE FROM kv WHERE k = :k"), {"k": key})
                return None if row is None else bytes(row[0])

    @app.put("/kv/{key}")
    async def put_route(key: str, request: Request) -> Response:
        body = orjson.loads(await request.body())
        await run_in_threadpool(put, key, body["value"].encode())
        return _json({"key": key}, 201)

    @app.post("/kv/{key}/get")
    async def get_route(key: str) -> Response:
        value = await run_in_threadpool(take, key)
        if value is None:
            return _json({"error": {"type": "NotFoundError", "message": key}}, 404)
        return _json({"key": key, "value": value.decode()})

    @app.get("/v1/health")
    async def health() -> Response:
        return _json({"status": "ok"})

    return app


def _peer_factory():  # noqa: ANN202 - uvicorn app factory in worker processes
    return peer_app(os.environ["KV_PEER_DIR"], os.environ.get("KV_PEER_DB") or None)


def run_peer(port: int, data_dir: str, workers: int, db_url: str | None = None) -> None:
    import uvicorn

    os.environ["KV_PEER_DIR"] = data_dir
    os.environ["KV_PEER_DB"] = db_url or ""
    peer_app(data_dir, db_url)  # create the table once before the workers start
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    uvicorn.run("storage_throughput:_peer_factory", factory=True, host="127.0.0.1", port=port, workers=workers,
                loop="uvloop", http="httptools", log_level="warning", access_log=False, lifespan="off")


# ---------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{cmd} did not start:\n{log.read_text()[-2000:]}")


def group_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-g", str(os.getpgid(pid))], capture_output=True, text=True).stdout
        pids = [int(p) for p in out.split()] or [pid]
    except (ProcessLookupError, ValueError):
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def settle(pid: int, timeout: float = 60.0) -> None:
    """Wait until the server's processes are idle (every worker has finished starting)."""
    deadline = time.monotonic() + timeout
    last = group_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = group_cpu_seconds(pid)
        if now - last < 0.05:
            return
        last = now


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---------------------------------------------------------------------- load
class Connection:
    """One keep-alive HTTP/1.1 connection (a tiny client: far less CPU than httpx, so the load
    generator does not starve the server on a 2-core machine)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\n{self.extra}"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n")
        self.writer.write(head.encode() + body)
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def load(port: int | list[int], kind: str, token: str | None, clients: int, seconds: float,
               warmup: float) -> dict:
    """Round trips back to back from ``clients`` concurrent clients (spread round-robin over the
    ``port`` list: several gateways); latencies after the warm-up."""
    ports = [port] if isinstance(port, int) else list(port)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors: list[str] = []
    total = [0]
    t_start = time.perf_counter()
    t_measure = t_start + warmup
    t_end = t_measure + seconds
    rng = random.Random(1)
    blob = orjson.dumps({"value": "x" * 64})

    prefix = f"{random.getrandbits(32):08x}"  # a second load on the same service names other objects

    async def one(conn: Connection, worker: int, i: int) -> None:
        name = f"w{prefix}-{worker}-{i}"
        if kind in ("qclone", "qclone-put"):  # qclone-put: the put alone (the object stays stored)
            v = [rng.gauss(0, 1) for _ in range(3)]
            norm = sum(x * x for x in v) ** 0.5
            body = orjson.dumps({"state": {"kind": "bloch", "data": [x / norm for x in v]}, "clones": 4})
            s1, out = await conn.request("PUT", f"/v1/objects/{name}", body)
            key = f"k-{name}"
            s2 = s1
            if kind == "qclone":
                s2, out = await conn.request("POST", f"/v1/objects/{name}/get", orjson.dumps({"key": key}))
            if s2 < 300 and kind == "qclone":  # the client holds the output: acknowledge it (the server releases it)
                s2, out = await conn.request("POST", f"/v1/objects/{name}/ack", orjson.dumps({"key": key}))
        else:
            s1, _ = await conn.request("PUT", f"/kv/{name}", blob)
            s2, out = await conn.request("POST", f"/kv/{name}/get")
        if s1 >= 300 or s2 >= 300:
            errors.append(f"{s1} {s2} {out[:200]!r}")

    async def worker(w: int) -> None:
        conn = Connection("127.0.0.1", ports[w % len(ports)], headers)
        i = 0
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= t_end:
                    return
                await one(conn, w, i)
                total[0] += 1
                t1 = time.perf_counter()
                if t0 >= t_measure:
                    latencies.append(t1 - t0)
                i += 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker(w) for w in range(clients)))
    elapsed = time.perf_counter() - t_measure
    latencies.sort()
    n = len(latencies)
    return {
        "round_trips": n,
        "round_trips_total": total[0],
        "per_second": n / elapsed,
        "p50_ms": 1000 * latencies[n // 2] if n else float("nan"),
        "p99_ms": 1000 * latencies[min(n - 1, int(0.99 * n))] if n else float("nan"),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def measure(kind: str, args: argparse.Namespace, root: Path) -> dict:
    port = free_port()
    data = root / kind
    data.mkdir()
    if kind == "qclone":
        cmd = [sys.executable, "-m", "qclone", "serve", "--data-dir", str(data), "--port", str(port),
               "--workers", str(args.workers)]
    else:
        cmd = [sys.executable, __file__, "--peer", str(port), str(data), str(args.workers)]
    proc = start(cmd, port, root / f"{kind}.log")
    settle(proc.pid)
    try:
        token = (data / "token").read_text().strip() if kind == "qclone" else None
        cpu0, self0 = group_cpu_seconds(proc.pid), resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        out = asyncio.run(load(port, kind, token, args.clients, args.seconds, args.warmup))
        wall = time.perf_counter() - wall0
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = group_cpu_seconds(proc.pid) - cpu0
        out["server_cpu_s_per_s"] = cpu / wall
        # CPU per round trip over the whole run (warm-up included on both sides of the ratio)
        out["server_cpu_ms_per_round_trip"] = 1000 * cpu / max(1, out["round_trips_total"])
        out["loadgen_cpu_s_per_s"] = (self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime) / wall
        out["loadavg_1min"] = os.getloadavg()[0]
        return out
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per service")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (not measured)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (both services; 2 = one per core)")
    parser.add_argument("--only", choices=("qclone", "peer"), help="measure one service only (no ratio)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--peer", nargs=3, metavar=("PORT", "DIR", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--peer-db", help=argparse.SUPPRESS)  # the peer on PostgreSQL (bench/storage_scaleout.py)
    args = parser.parse_args()
    if args.peer:
        run_peer(int(args.peer[0]), args.peer[1], int(args.peer[2]), args.peer_db)
        return 0
    root = Path(tempfile.mkdtemp(prefix="qclone-bench-"))
    try:
        results = {kind: measure(kind, args, root) for kind in ((args.only,) if args.only else ("qclone", "peer"))}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.only:
        print(json.dumps(results[args.only]))
        return 0
    q, p = results["qclone"], results["peer"]
    summary = {
        "clients": args.clients,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "qclone": q,
        "peer": p,
        "ratio_qclone_to_peer": q["per_second"] / p["per_second"],
        "target_per_second": TARGET,
        "meets_target": q["per_second"] >= TARGET,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"put+get round trips, n = 4 clones of one qubit, {args.clients} clients, {args.workers} workers, "
              f"{os.cpu_count()} cores")
        for kind, r in (("qclone", q), ("kv peer", p)):
            print(f"  {kind:8s} {r['per_second']:8.1f} round trips/s   p50 {r['p50_ms']:7.1f} ms   "
                  f"p99 {r['p99_ms']:7.1f} ms   errors {r['errors']}   server CPU {r['server_cpu_s_per_s']:.2f} s/s "
                  f"({r['server_cpu_ms_per_round_trip']:.1f} ms per round trip)   "
                  f"load generator CPU {r['loadgen_cpu_s_per_s']:.2f} s/s   load average {r['loadavg_1min']:.2f}")
        print(f"  ratio qclone / peer: {summary['ratio_qclone_to_peer']:.2f}   "
              f"target {TARGET:.0f}/s: {'met' if summary['meets_target'] else 'NOT met'}")
        if q["first_error"] or p["first_error"]:
            print(f"  first errors: qclone {q['first_error']!r}, peer {p['first_error']!r}")
    return 0 if q["errors"] == 0 and p["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
