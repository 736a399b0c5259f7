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
