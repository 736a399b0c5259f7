"""Start, kill and restart ``qclone serve`` processes: the embedded server or every role of a
multi-process deployment, on free loopback ports.

What the chaos run (:mod:`qclone.storage.chaos`) and the process tests use; a ``qclone cluster``
command can grow from it.

Examples:
    >>> spec = ServerProcess(["--data-dir", "/tmp/x"], port=8470, log=Path("/tmp/x.log"))
    >>> spec.url
    'http://127.0.0.1:8470'
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["Cluster", "ServerProcess", "free_port"]

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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, env: dict[str, str] | None = None, wait: bool = True) -> ServerProcess:
        full_env = {k: v for k, v in os.environ.items() if k != "QCLONE_CRASH_AT"}
        full_env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **self.env, **(env or {})})
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "qclone", "serve", "--port", str(self.port), *self.args],
                stdout=log, stderr=subprocess.STDOUT, env=full_env, start_new_session=True,
            )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
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
        if self.proc is None or self.proc.poll() is not None:
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


@dataclass
class Cluster:
    """The processes of one storage service: ``embedded`` (one process) or ``deployment``
    (substrate, vault, ``providers`` provider nodes and a gateway, each its own process).

    ``processes`` maps a role name (``embedded``; or ``substrate``, ``vault``, ``p1``..,
    ``gateway``) to its :class:`ServerProcess`; ``url`` is the gateway's. ``holders``: key holders
    beside the vault, ``KIND:ID`` (``vault:v2``, ``custodian:c1``): in a deployment each is a vault
    node process (named by its id), enrolled by the gateway; embedded, they live in its process.
    """

    root: Path
    mode: str = "embedded"
    db_url: str | None = None
    providers: int = 4
    extra: list[str] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    processes: dict[str, ServerProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("embedded", "deployment"):
            raise ValueError(f"mode is embedded or deployment, got {self.mode!r}")
        db = ["--db", self.db_url] if self.db_url else []
        gateway_dir = self.root / ("data" if self.mode == "embedded" else "gateway")
        if self.mode == "embedded":
            holders = [x for spec in self.holders for x in ("--holder", spec)]
            self.processes["embedded"] = ServerProcess(["--data-dir", str(gateway_dir), *db, *holders, *self.extra],
                                                       free_port(), self.root / "embedded.log", name="embedded")
        else:
            sub = ServerProcess(["--role", "substrate", "--data-dir", str(self.root / "substrate")], free_port(),
                                self.root / "substrate.log", name="substrate")
            vault = ServerProcess(["--role", "vault", "--data-dir", str(self.root / "vault")], free_port(),
                                  self.root / "vault.log", name="vault")
            self.processes.update(substrate=sub, vault=vault)
            for i in range(1, self.providers + 1):
                self.processes[f"p{i}"] = ServerProcess(
                    ["--role", "provider", "--id", f"p{i}", "--zone", f"zone-{i}", "--data-dir",
                     str(self.root / f"p{i}")], free_port(), self.root / f"p{i}.log", name=f"p{i}")
            holders = []
            for spec in self.holders:
                hid = spec.partition(":")[2]
                node = ServerProcess(["--role", "vault", "--data-dir", str(self.root / hid)], free_port(),
                                     self.root / f"{hid}.log", name=hid)
                self.processes[hid] = node
                holders += ["--holder", f"{spec}={node.url}"]
            self.processes["gateway"] = ServerProcess(
                ["--role", "gateway", "--data-dir", str(gateway_dir), "--substrate", sub.url, "--vault", vault.url, *db,
                 *holders, *self.extra], free_port(), self.root / "gateway.log", name="gateway")
        self.data_dir = gateway_dir

    @property
    def gateway(self) -> ServerProcess:
        return self.processes["embedded" if self.mode == "embedded" else "gateway"]

    @property
    def url(self) -> str:
        return self.gateway.url

    def token(self, name: str = "token") -> str:
        return (self.data_dir / name).read_text().strip()

    def _join_token(self, role: str) -> str | None:
        """A node's join token (``DIR/join-token``, there until the node is enrolled)."""
        path = self.root / role / "join-token"
        return path.read_text().strip() if path.exists() else None

    def up(self) -> Cluster:
        """Start every process (nodes first); in a deployment the gateway enrolls the substrate and
        the vault with their join tokens, and the providers are added with theirs."""
        nodes = [p for role, p in self.processes.items() if role != "gateway"]
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
            self.gateway.start()
            admin = {"authorization": f"Bearer {self.token('admin-token')}"}
            known = {p["id"] for p in httpx.get(self.url + "/v1/providers", headers=admin, timeout=30).json()["providers"]}
            for i in range(1, self.providers + 1):
                if f"p{i}" not in known:
                    r = httpx.post(self.url + "/v1/providers", headers=admin, timeout=30,
                                   json={"id": f"p{i}", "url": self.processes[f"p{i}"].url,
                                         "join": self._join_token(f"p{i}")})
                    r.raise_for_status()
        return self

    def down(self) -> None:
        for p in reversed(list(self.processes.values())):
            p.kill()

    def restart(self, role: str) -> None:
        """Start a killed process again (and wait until it answers)."""
        self.processes[role].start()
