"""Start ``qclone serve`` processes on free loopback ports for the service tests (over
:mod:`qclone.storage.launcher`, which the chaos run uses too)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qclone.storage.launcher import ServerProcess as Server
from qclone.storage.launcher import free_port

__all__ = ["Server", "free_port", "read_token", "start_deployment"]


def read_token(data_dir: Path, name: str = "token") -> str:
    return (data_dir / name).read_text().strip()


def start_deployment(root: Path, providers: int = 3, *, gateway_args: tuple[str, ...] = (),
                     substrate_args: tuple[str, ...] = ()) -> tuple[dict[str, Server], Any]:
    """A multi-process deployment under ``root``: substrate (with ``substrate_args``), vault,
    ``providers`` provider nodes (``p1``.. in zones ``zone-1``..) and a gateway, every node enrolled
    with its join token.
    Returns ``(servers by name, an admin-capable qclone.Client)``; the caller kills the servers."""
    from concurrent.futures import ThreadPoolExecutor

    from qclone import Client

    def node(name: str, *args: str) -> Server:
        return Server([*args, "--data-dir", str(root / name)], free_port(), root / f"{name}.log")

    parts = {
        "substrate": node("substrate", "--role", "substrate", *substrate_args),
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


def until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """``check()`` again every ``interval`` seconds until it is truthy or ``timeout`` has passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
