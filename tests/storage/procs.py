"""Start ``qclone serve`` processes on free loopback ports for the service tests."""

from __future__ import annotations

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

#: Seconds a server gets to answer /v1/health.
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One ``qclone serve`` process (restartable with the same arguments)."""

    args: list[str]
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, env: dict[str, str] | None = None, wait: bool = True) -> Server:
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
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1.0).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become healthy in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def wait_exit(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the process group without waiting (e.g. SIGSTOP / SIGCONT)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the process group (the server and any worker processes)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def read_token(data_dir: Path, name: str = "token") -> str:
    return (data_dir / name).read_text().strip()


def start_deployment(root: Path, providers: int = 3, *, gateway_args: tuple[str, ...] = ()) -> tuple[dict[str, Server], Any]:
    """A multi-process deployment under ``root``: substrate, vault, ``providers`` provider nodes
    (``p1``.. in zones ``zone-1``..) and a gateway, every node enrolled with its join token.
    Returns ``(servers by name, an admin-capable qclone.Client)``; the caller kills the servers."""
    from concurrent.futures import ThreadPoolExecutor

    from qclone import Client

    def node(name: str, *args: str) -> Server:
        return Server([*args, "--data-dir", str(root / name)], free_port(), root / f"{name}.log")

    parts = {
        "substrate": node("substrate", "--role", "substrate"),
        "vault": node("vault", "--role", "vault"),
        **{f"p{i}": node(f"p{i}", "--role", "provider", "--id", f"p{i}", "--zone", f"zone-{i}")
           for i in range(1, providers + 1)},
    }
    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(lambda s: s.start(), parts.values()))
    parts["gateway"] = Server(["--role", "gateway", "--data-dir", str(root / "gateway"), *gateway_args,
                               "--substrate", parts["substrate"].url, "--vault", parts["vault"].url],
                              free_port(), root / "gateway.log",
                              env={"QCLONE_SUBSTRATE_JOIN": read_token(root / "substrate", "join-token"),
                                   "QCLONE_VAULT_JOIN": read_token(root / "vault", "join-token")})
    try:
        parts["gateway"].start()
        client = Client(parts["gateway"].url, read_token(root / "gateway"),
                        admin_token=read_token(root / "gateway", "admin-token"))
        for i in range(1, providers + 1):
            client.add_provider(f"p{i}", url=parts[f"p{i}"].url, join=read_token(root / f"p{i}", "join-token"))
    except BaseException:
        for s in parts.values():
            s.kill()
        raise
    return parts, client
