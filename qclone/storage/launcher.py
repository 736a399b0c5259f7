"""Start, kill and restart ``qclone serve`` processes: the embedded server or every role of a
multi-process deployment (several gateways and substrate workers on one PostgreSQL), on free
loopback ports.

What ``qclone cluster up/down/status`` (:mod:`qclone.cli.cluster`), the chaos run
(:mod:`qclone.storage.chaos`), the throughput benchmark and the process tests use. A cluster
started here can be left running: :meth:`Cluster.save` writes its state file
(``ROOT/cluster.json``: pids, ports, URLs, where the tokens are) and :meth:`Cluster.attach`, in
another process, reads it back to report on the processes or stop them.

Examples:
    >>> spec = ServerProcess(["--data-dir", "/tmp/x"], port=8470, log=Path("/tmp/x.log"))
    >>> spec.url
    'http://127.0.0.1:8470'
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from qclone.errors import InvalidArgumentError, is_int

__all__ = ["STATE_FILE", "Cluster", "ServerProcess", "free_port"]

#: The state file of a cluster, in its root directory.
STATE_FILE = "cluster.json"

#: Seconds a process gets to answer ``/v1/health`` after it starts.
START_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """One ``qclone serve`` process, restartable with the same arguments (its own session, so a
    kill reaches its workers too)."""

    args: list[str]
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    name: str = "server"
    proc: subprocess.Popen | None = None
    #: the pid of a process started by another program (:meth:`Cluster.attach`); else ``proc``'s
    attached_pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else self.attached_pid

    @property
    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.attached_pid is not None and _is_server(self.attached_pid, self.port)

    def healthy(self, timeout: float = 2.0) -> bool:
        """Whether the process runs and answers ``/v1/health`` with a status below 500."""
        if not self.running:
            return False
        try:
            return httpx.get(self.url + "/v1/health", timeout=timeout).status_code < 500
        except httpx.TransportError:
            return False

    def worker_pids(self) -> list[int]:
        """The pids of the worker processes of a ``--workers N`` server (its children), oldest first."""
        return _children(self.pid) if self.pid is not None else []

    def start(self, *, env: dict[str, str] | None = None, wait: bool = True) -> ServerProcess:
        full_env = {k: v for k, v in os.environ.items() if k != "QCLONE_CRASH_AT"}
        full_env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **self.env, **(env or {})})
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "qclone", "serve", "--port", str(self.port), *self.args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True,
            )
        self.attached_pid = None
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                code = self.proc.returncode if self.proc is not None else "?"
                raise RuntimeError(f"{self.name} exited with {code}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=2.0).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become healthy in {timeout} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def wait_exit(self, timeout: float = 20.0) -> int:
        """Wait for the process to end by itself; its exit status."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the process group without waiting (e.g. SIGSTOP / SIGCONT)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the server and any worker processes) and reap it."""
        if self.proc is None:
            if self.attached_pid is not None:
                self._kill_attached(sig)
            return
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        if sig in (signal.SIGSTOP, signal.SIGCONT):
            return
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def _kill_attached(self, sig: int, timeout: float = 15.0) -> None:
        """Signal a process another program started (its group, as :meth:`kill`) and wait until it
        is gone (then SIGKILL). Nothing is sent to a pid that is no longer this server's."""
        pid = self.attached_pid
        assert pid is not None
        if not _is_server(pid, self.port):
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if sig in (signal.SIGSTOP, signal.SIGCONT):
            return
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                deadline = time.monotonic() + timeout
            time.sleep(0.05)


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rindex(")") + 2:].split()


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _is_server(pid: int, port: int) -> bool:
    """Whether ``pid`` is alive and is a ``qclone serve --port PORT`` process (not a reused pid)."""
    if not _alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return b"serve" in argv and any(a == b"--port" and b == str(port).encode() for a, b in zip(argv, argv[1:]))


def _children(pid: int) -> list[int]:
    """The live worker processes of ``pid`` (its children read from /proc, but for multiprocessing's
    resource tracker), by start time."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[1] == str(pid) and fields[0] not in ("Z", "X"):
                try:
                    if b"resource_tracker" in Path(f"/proc/{entry.name}/cmdline").read_bytes():
                        continue
                except OSError:
                    continue
                out.append((int(fields[19]), int(entry.name)))
    return [p for _, p in sorted(out)]


@dataclass
class Cluster:
    """The processes of one storage service: ``embedded`` (one process) or ``deployment``
    (substrate, vault, ``providers`` provider nodes and ``gateways`` gateways, each its own process).

    The API (stable; ``qclone cluster`` and the benchmarks build on it)::

        c = Cluster(root, mode="deployment", db_url=PG_URL, gateways=2, substrate_workers=2).up()
        c.urls            # every gateway's URL (a client takes any one; round-robin over them)
        c.token()         # the first tenant's token; c.token("admin-token"): the admin token
        c.processes       # role name -> ServerProcess: "substrate", "vault", "p1".., "gateway", "gateway-2"..
        c.processes["gateway-2"].kill()      # kill -9 one process (its workers too); c.restart("gateway-2")
        c.processes["substrate"].worker_pids()  # the substrate's worker processes (kill one: uvicorn starts another)
        c.save()          # ROOT/cluster.json; Cluster.attach(root) in another process: status, down
        c.down()

    * ``gateways``: G gateway processes, each with its own port and data dir (``ROOT/gateway``,
      ``ROOT/gateway-2``, ...). The first enrolls the nodes; the others start after it with its
      :data:`~qclone.storage.server.GATEWAY_SHARED_FILES` copied into their data dirs. More than one
      needs ``db_url`` on PostgreSQL (the metadata, the leases and the work queue they share).
    * ``substrate_workers``: S worker processes of the one substrate node (``--workers S``,
      sharing its port); the substrate gets ``--db db_url`` when that is PostgreSQL (its joint
      states there; more than one worker needs it).
    * ``holders``: key holders beside the vault, ``KIND:ID`` (``vault:v2``, ``custodian:c1``): in a
      deployment each is a vault node process (named by its id), enrolled by the first gateway;
      embedded, they live in its process.
    * ``extra``: more ``qclone serve`` options for every gateway (``--lease 3``).
    """

    root: Path
    mode: str = "embedded"
    db_url: str | None = None
    providers: int = 4
    extra: list[str] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    processes: dict[str, ServerProcess] = field(default_factory=dict)
    gateways: int = 1
    substrate_workers: int = 1
    #: ports by process name (those of a cluster stopped before: its nodes' URLs stay what the
    #: gateways enrolled); a process not named gets a free port
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if self.mode not in ("embedded", "deployment"):
            raise InvalidArgumentError(f"mode is embedded or deployment, got {self.mode!r}")
        for what, value, low in (("gateways", self.gateways, 1), ("substrate workers", self.substrate_workers, 1),
                                 ("providers", self.providers, 0)):
            if not is_int(value) or not low <= value <= 64:
                raise InvalidArgumentError(f"{what} must be an integer from {low} to 64, got {value!r}")
        postgres = self.postgres
        if self.mode == "embedded" and (self.gateways > 1 or self.substrate_workers > 1):
            raise InvalidArgumentError("several gateways or substrate workers make a deployment, not an embedded server")
        if self.gateways > 1 and not postgres:
            raise InvalidArgumentError("several gateways share the metadata in PostgreSQL: give a postgresql:// database URL")
        if self.substrate_workers > 1 and not postgres:
            raise InvalidArgumentError("several substrate workers share the joint states in PostgreSQL: give a postgresql:// "
                                       "database URL")
        if self.processes:  # attached (Cluster.attach): the processes are given
            self.data_dir = self.root / ("data" if self.mode == "embedded" else "gateway")
            return
        db = ["--db", self.db_url] if self.db_url else []
        gateway_dir = self.root / ("data" if self.mode == "embedded" else "gateway")
        if self.mode == "embedded":
            holders = [x for spec in self.holders for x in ("--holder", spec)]
            self.processes["embedded"] = ServerProcess(["--data-dir", str(gateway_dir), *db, *holders, *self.extra],
                                                       self._port("embedded"), self.root / "embedded.log", name="embedded")
        else:
            sub_args = ["--role", "substrate", "--data-dir", str(self.root / "substrate")]
            if postgres:
                sub_args += ["--db", str(self.db_url)]
            if self.substrate_workers > 1:
                sub_args += ["--workers", str(self.substrate_workers)]
            sub = ServerProcess(sub_args, self._port("substrate"), self.root / "substrate.log", name="substrate")
            vault = ServerProcess(["--role", "vault", "--data-dir", str(self.root / "vault")], self._port("vault"),
                                  self.root / "vault.log", name="vault")
            self.processes.update(substrate=sub, vault=vault)
            for i in range(1, self.providers + 1):
                self.processes[f"p{i}"] = ServerProcess(
                    ["--role", "provider", "--id", f"p{i}", "--zone", f"zone-{i}", "--data-dir",
                     str(self.root / f"p{i}")], self._port(f"p{i}"), self.root / f"p{i}.log", name=f"p{i}")
            holders = []
            for spec in self.holders:
                hid = spec.partition(":")[2]
                node = ServerProcess(["--role", "vault", "--data-dir", str(self.root / hid)], self._port(hid),
                                     self.root / f"{hid}.log", name=hid)
                self.processes[hid] = node
                holders += ["--holder", f"{spec}={node.url}"]
            for g, name in enumerate(self.gateway_names):
                data = gateway_dir if g == 0 else self.root / name
                self.processes[name] = ServerProcess(
                    ["--role", "gateway", "--data-dir", str(data), "--substrate", sub.url, "--vault", vault.url, *db,
                     *holders, *self.extra], self._port(name), self.root / f"{name}.log", name=name)
        self.data_dir = gateway_dir

    def _port(self, name: str) -> int:
        return int(self.ports[name]) if name in self.ports else free_port()

    @property
    def postgres(self) -> bool:
        """Whether the database URL names PostgreSQL."""
        return bool(self.db_url) and str(self.db_url).startswith("postgres")

    @property
    def gateway_names(self) -> list[str]:
        """The gateways' process names: ``gateway``, ``gateway-2``, ... (``embedded`` in one process)."""
        if self.mode == "embedded":
            return ["embedded"]
        return ["gateway", *(f"gateway-{g}" for g in range(2, self.gateways + 1))]

    @property
    def gateway(self) -> ServerProcess:
        """The first gateway (the one that enrolled the nodes)."""
        return self.processes[self.gateway_names[0]]

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def urls(self) -> list[str]:
        """Every gateway's URL, in order."""
        return [self.processes[name].url for name in self.gateway_names]

    def token(self, name: str = "token") -> str:
        return (self.data_dir / name).read_text().strip()

    def _join_token(self, role: str) -> str | None:
        """A node's join token (``DIR/join-token``, there until the node is enrolled)."""
        path = self.root / role / "join-token"
        return path.read_text().strip() if path.exists() else None

    def up(self, *, step: Any = None) -> Cluster:
        """Start every process (nodes first); in a deployment the first gateway enrolls the substrate
        and the vault with their join tokens and adds the providers with theirs, then the other
        gateways start with its shared files. ``step(text)`` is told what is being done."""
        from concurrent.futures import ThreadPoolExecutor

        say = step or (lambda _text: None)
        gateways = self.gateway_names
        nodes = [p for role, p in self.processes.items() if role not in gateways]
        if self.mode == "embedded":
            nodes = list(self.processes.values())
        say(f"starting {len(nodes)} processes" if self.mode == "embedded" else f"starting {len(nodes)} nodes")
        for p in nodes:
            p.start(wait=False)
        for p in nodes:
            p.wait_healthy()  # a node writes its join token before it answers
        if self.mode == "deployment":
            joins = {f"QCLONE_{role.upper()}_JOIN": token for role in ("substrate", "vault")
                     if (token := self._join_token(role)) is not None}
            self.gateway.env.update(joins)  # kept for restarts: a spent token of an enrolled node is ignored
            for spec in self.holders:
                hid = spec.partition(":")[2]
                token = self._join_token(hid)
                if token is not None and f"{hid}={token}" not in self.gateway.args:  # kept for restarts, as above
                    self.gateway.args += ["--holder-join", f"{hid}={token}"]
            say("starting the first gateway, enrolling the nodes")
            self.gateway.start()
            admin = {"authorization": f"Bearer {self.token('admin-token')}"}
            known = {p["id"] for p in httpx.get(self.url + "/v1/providers", headers=admin, timeout=30).json()["providers"]}
            for i in range(1, self.providers + 1):
                if f"p{i}" not in known:
                    r = httpx.post(self.url + "/v1/providers", headers=admin, timeout=30,
                                   json={"id": f"p{i}", "url": self.processes[f"p{i}"].url,
                                         "join": self._join_token(f"p{i}")})
                    r.raise_for_status()
            others = [self.processes[name] for name in gateways[1:]]
            if others:
                from qclone.storage.server import copy_gateway_files

                say(f"starting {len(others)} more gateways")
                for p in others:
                    copy_gateway_files(self.data_dir, Path(p.args[p.args.index("--data-dir") + 1]))
                with ThreadPoolExecutor(len(others)) as pool:
                    list(pool.map(lambda p: p.start(), others))
        return self

    def down(self) -> None:
        """Stop every process (gateways first): SIGKILL for a cluster this process started (the
        tests' and the chaos run's), SIGTERM then SIGKILL for an attached one."""
        for p in reversed(list(self.processes.values())):
            p.kill(signal.SIGKILL if p.proc is not None else signal.SIGTERM)

    def restart(self, role: str) -> None:
        """Start a killed process again (and wait until it answers)."""
        self.processes[role].start()

    # ------------------------------------------------------------------ the state file
    def state(self) -> dict[str, Any]:
        """What :meth:`save` writes: the cluster's shape, its gateways' URLs, where the tokens are and
        every process (role, pid, port, URL, log, data dir). The database URL is kept without its password."""
        db = None
        if self.db_url:
            from sqlalchemy.engine import make_url

            db = make_url(self.db_url).render_as_string(hide_password=True)
        procs = {}
        for name, p in self.processes.items():
            data = p.args[p.args.index("--data-dir") + 1] if "--data-dir" in p.args else None
            procs[name] = {"role": _role_of(name, p), "pid": p.pid, "port": p.port, "url": p.url, "log": str(p.log),
                           "data_dir": data, "workers": _workers_of(p)}
        return {"version": 1, "root": str(self.root.resolve()), "mode": self.mode, "db": db,
                "gateways": self.urls, "providers": self.providers, "substrate_workers": self.substrate_workers,
                "holders": list(self.holders), "token_file": str((self.data_dir / "token").resolve()),
                "admin_token_file": str((self.data_dir / "admin-token").resolve()), "processes": procs}

    def save(self) -> Path:
        """Write :meth:`state` to ``ROOT/cluster.json`` (0600, atomically); its path."""
        from qclone.storage.rpc.keys import write_private

        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / STATE_FILE
        write_private(path, json.dumps(self.state(), indent=1) + "\n")
        return path

    @classmethod
    def attach(cls, root: Path) -> Cluster:
        """The cluster another process started under ``root`` and saved (:meth:`save`): its processes
        by pid, to report on (:meth:`status`) or stop (:meth:`down`).

        Raises:
            InvalidArgumentError: no state file under ``root``, or not one this version wrote.
        """
        path = Path(root) / STATE_FILE
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidArgumentError(f"no cluster under {str(root)!r} (no {STATE_FILE}; start one with "
                                       "`qclone cluster up`)") from None
        except (OSError, ValueError) as e:
            raise InvalidArgumentError(f"{path} is not a cluster state file ({type(e).__name__})") from None
        try:
            if doc.get("version") != 1:
                raise ValueError("version")
            processes = {str(name): ServerProcess([], int(p["port"]), Path(p["log"]), name=str(name),
                                                  attached_pid=None if p["pid"] is None else int(p["pid"]))
                         for name, p in doc["processes"].items()}
            for name, p in doc["processes"].items():
                args = ["--role", str(p["role"])]
                if p.get("data_dir"):
                    args += ["--data-dir", str(p["data_dir"])]
                if p.get("workers"):
                    args += ["--workers", str(int(p["workers"]))]
                processes[name].args = args
            gateways = len(doc["gateways"])
            c = cls(Path(root), mode=str(doc["mode"]), providers=int(doc["providers"]), processes=processes,
                    holders=[str(h) for h in doc.get("holders", [])], gateways=gateways,
                    substrate_workers=int(doc.get("substrate_workers", 1)),
                    db_url=str(doc["db"]) if doc.get("db") else None)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InvalidArgumentError(f"{path} is not a cluster state file this version of qclone wrote") from None
        return c

    def status(self) -> dict[str, dict[str, Any]]:
        """Each process: ``{"role", "pid", "url", "running", "healthy", "workers"}`` (``workers``: the
        live worker processes of a ``--workers N`` process, else None)."""
        out = {}
        for name, p in self.processes.items():
            running = p.running
            out[name] = {"role": _role_of(name, p), "pid": p.pid, "url": p.url, "running": running,
                         "healthy": running and p.healthy(),
                         "workers": len(p.worker_pids()) if running and _workers_of(p) else None}
        return out


def _role_of(name: str, p: ServerProcess) -> str:
    if "--role" in p.args:
        return p.args[p.args.index("--role") + 1]
    if name == "embedded" or name.startswith("gateway"):
        return "embedded" if name == "embedded" else "gateway"
    if name == "substrate" or name == "vault":
        return name
    return "provider" if name[:1] == "p" and name[1:].isdigit() else "vault"


def _workers_of(p: ServerProcess) -> int | None:
    if "--workers" in p.args:
        return int(p.args[p.args.index("--workers") + 1])
    return None
