"""The node processes of a multi-process deployment: substrate, vault, provider.

:func:`build_node` opens the local component of a role under its data dir,
with the node's identity (:class:`~qclone.storage.rpc.keys.NodeKeys`: its own
Ed25519 key, its join token until it is enrolled) and returns its app
(:mod:`qclone.storage.rpc.server`). The substrate node decrypts only with a
one-time authorization signed by the vault whose key the gateway handed it at
enrollment; the vault node signs one with each release of a key.

Bind node ports to loopback or a private network: requests are signed, but
bodies travel in the clear unless the node is behind TLS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qclone.storage.rpc.keys import NodeKeys, check_grant
from qclone.storage.rpc.server import NodeApp, endpoints, node_app

__all__ = ["NodeApp", "build_node", "endpoints", "node_app"]


def build_node(role: str, data_dir: Path, *, provider_id: str | None = None, zone: str = "zone-a",
               t1: float = 3600.0, t2: float = 3600.0, db_url: str | None = None, shared: bool = False) -> NodeApp:
    """The app of a ``role`` node over its files in ``data_dir`` (see the module docstring). The
    substrate: its state in PostgreSQL at ``db_url`` (any number of processes), or in its data
    dir, ``shared`` by several worker processes."""
    keys = NodeKeys(data_dir, role)
    component: Any
    if role == "substrate":
        from qclone.storage.substrate import Substrate

        def authorize(grant: Any, object_id: str, attempt: str, party: str = "vault", purpose: str = "decrypt") -> str:
            # the vault's key, a provider's ("provider:ID") or another key holder's ("holder:ID"),
            # as the gateway introduced them; purpose "apply": a holder's receipt of a logical gate
            peer = party if party == "vault" or party.startswith("provider:") else f"holder:{party}"
            return check_grant(grant, keys.peer(peer), object_id, attempt, purpose=purpose)

        component = Substrate(data_dir, authorize=authorize, db_url=db_url, shared=shared)
    elif role == "vault":
        from qclone.storage.vault import KeyVault

        component = KeyVault(data_dir, t1=t1, t2=t2, issuer=keys.identity)
    else:
        from qclone.storage.provider import ProviderNode

        if not provider_id:
            raise ValueError("a provider node needs its id")
        component = ProviderNode(provider_id, data_dir, zone=zone, t1=t1, t2=t2, issuer=keys.identity)
    return node_app(role, component, keys)
